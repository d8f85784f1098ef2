/**
 * Virtual partitions: a fixed number of hash tags (`{p:<n>}` for n from 0, see below) over which per-account
 * records are spread (and, in a later step, sessions and accounts of the booking core). Redis
 * Cluster places each partition's slot on a master; resharding moves whole partitions, never half a
 * partition, so every script that touches one partition stays in one slot.
 *
 * The count is a deployment setting (TEEKA_PARTITIONS, engine/config.ts). The trade-off:
 * - more partitions spread better over the masters (16 partitions over 3 masters are 6/5/5; 64 are
 *   22/21/21), and allow more masters at all (a partition never splits, so there are never
 *   more useful masters than partitions);
 * - each partition has its own streams (today the login revocations), and every gateway thread
 *   follows one stream per partition: on Redis Cluster that is one connection and one blocking read
 *   per partition per thread.
 *
 * Each partition's hash tag is chosen so that its Redis Cluster slot lies in the partition's own
 * share of the 16384 slots, in partition order (`{p:<n>}`, or `{p:<n>.<k>}` with the first k that
 * lands there). A cluster created with even slot ranges per master (`redis-cli --cluster create`)
 * then holds an even share of the partitions: plain `{p:0}` … `{p:15}` hash into the low slots, and
 * put 10 of 16 partitions on the first of three masters.
 *
 * It must not change while Redis holds a deployment's data: an id's partition is its hash modulo the
 * count, so another count moves every record to a key nobody reads (worker/deployment.ts refuses a
 * Redis laid out for another count; a rebuild lays Redis out again for the configured one).
 */

/** The default partition count: room for up to 16 masters, 16 streams followed per gateway thread. */
export const DEFAULT_PARTITION_COUNT = 16;
/**
 * The largest count accepted: a partition is one slot, and every gateway thread follows a stream per
 * partition; past a thousand, that is more streams than masters will ever need.
 */
export const MAX_PARTITION_COUNT = 1024;
/** Redis Cluster's slot count. */
const CLUSTER_SLOTS = 16384;

/** CRC16 (XMODEM) of each byte value: a partition's tag is searched among about `count` candidates. */
const CRC16_TABLE = Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  return crc;
});

/** The Redis Cluster slot of a hash tag: CRC16 (XMODEM) of its bytes, modulo 16384 (the cluster specification). */
export function clusterSlotOf(tag: string): number {
  let crc = 0;
  for (const byte of Buffer.from(tag, 'utf8')) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc % CLUSTER_SLOTS;
}

/** FNV-1a, 32 bits, of a string's UTF-16 code units: fast, stable across processes and versions. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Why a partition count is not usable, or null. */
export function partitionCountProblem(count: number): string | null {
  if (!Number.isInteger(count) || count < 1 || count > MAX_PARTITION_COUNT) {
    return `expected a whole number of partitions from 1 to ${MAX_PARTITION_COUNT}, got ${count}`;
  }
  return null;
}

/** The partitions of one deployment: which partition an id belongs to, and its hash tag. */
export class Partitions {
  /** each partition's hash tag, found when first asked for */
  private readonly tags: string[] = [];

  constructor(readonly count: number = DEFAULT_PARTITION_COUNT) {
    const problem = partitionCountProblem(count);
    if (problem) throw new RangeError(problem);
  }

  /** The partition of an id (an account id; a session id once sessions are partitioned). */
  of(id: string): number {
    return fnv1a32(id) % this.count;
  }

  /** The hash tag of a partition (every key of the partition starts with it), in its share of the slots. */
  tag(partition: number): string {
    return (this.tags[partition] ??= `{${this.tagInShare(partition)}}`);
  }

  /** `p:<n>`, or `p:<n>.<k>` with the first k whose slot lies in the partition's share (about `count` tries). */
  private tagInShare(partition: number): string {
    const from = Math.floor((partition * CLUSTER_SLOTS) / this.count);
    const to = Math.floor(((partition + 1) * CLUSTER_SLOTS) / this.count);
    for (let k = 0; ; k++) {
      const tag = k === 0 ? `p:${partition}` : `p:${partition}.${k}`;
      const slot = clusterSlotOf(tag);
      if (slot >= from && slot < to) return tag;
    }
  }

  /** The hash tag of an id's partition. */
  tagOf(id: string): string {
    return this.tag(this.of(id));
  }

  /**
   * A new id in one partition: ids from `draw` until one hashes there (about `count` draws, each a
   * random UUID). An appointment's id is drawn in its account's partition, so the id alone finds the
   * appointment (a vaccinator's or a citizen's request names only the id).
   */
  idIn(partition: number, draw: () => string): string {
    for (;;) {
      const id = draw();
      if (this.of(id) === partition) return id;
    }
  }

  /** Every partition number, in order. */
  all(): number[] {
    return Array.from({ length: this.count }, (_, i) => i);
  }
}
