/**
 * Follows Redis streams for a gateway thread: XREAD BLOCK on a connection of its own, every entry
 * handed to its stream's owner in order (the availability book, a partition's revocations). One
 * follower reads several streams in one XREAD when they can share it (streamGroups: on one Redis
 * all of them; on Redis Cluster only keys of one slot, since a multi-key command across slots is
 * refused), and keeps each stream's position, trimming and reconnection with the stream's owner.
 *
 * A thread answers from what it has read only while it is *current*: its last read succeeded a
 * moment ago and returned everything there was (a full batch means it is behind). So a thread that
 * starts, falls behind, or loses Redis says "I don't know" instead of answering from old memory,
 * and its owner falls back to asking Redis. When the capped stream was trimmed past the position
 * unseen, the owner is told, since entries were lost. So is it when Redis comes back from a restart
 * or a failover: the connection retries its blocked read by itself (no read ever fails), and the
 * Redis that answers may have lost the last writes (AOF everysec, an asynchronous replica), so the
 * book may count seats that no longer are booked. The owner reloads then; and the periodic check
 * reloads when the stream's newest entry is older than the position (entries we read are gone).
 *
 * Each applied entry's age (from its id, the ms of Redis's clock at XADD, to now) is reported: the
 * staleness window of the memory, measured under whatever load the thread carries.
 */
import { hashTagOf } from '../engine/keys.js';
import { isCluster, type RedisClient } from '../engine/redis.js';

/** A connection a follower reads on: one Redis, or a Redis Cluster client. */
export type StreamConnection = RedisClient;

export type StreamEntry = [id: string, fields: string[]];

export interface StreamOwner {
  /** the id to read after ('0-0': from the start) */
  position(): string;
  /**
   * Apply entries read after `readFrom`, in order, moving the position. Skipped by the owner when
   * its position moved while the read was in flight (a reload did).
   */
  apply(entries: StreamEntry[], readFrom: string): Promise<void>;
  /** Reads failed for a while and work again: whatever changed meanwhile may need a reload. */
  reconnected(): Promise<void>;
  /** The stream's oldest entry is past our position, which is gone: entries were trimmed unseen. */
  trimmedPast(firstId: string): Promise<void>;
}

export interface FollowOptions {
  /** how long one XREAD blocks. Default 1000 ms */
  blockMs: number;
  /** entries per read; a read that returns this many means the thread is behind. Default 1000 */
  count: number;
  /** how often the position is checked against the stream's oldest entry. Default 10 s */
  gapCheckMs: number;
  /** called with each applied entry's age in seconds */
  observeLag?: ((seconds: number) => void) | undefined;
}

export const DEFAULT_FOLLOW_OPTIONS: FollowOptions = { blockMs: 1000, count: 1000, gapCheckMs: 10_000 };

/** One stream a follower reads, and who applies its entries. */
export interface FollowedStream {
  key: string;
  owner: StreamOwner;
}

/**
 * Split stream keys into groups that one XREAD can read together, each with its connection: on one
 * Redis, every key in one group on `connection`; on Redis Cluster, one group per hash tag (one
 * slot), the first on `connection` and each other on a duplicate of it (a blocking read holds its
 * connection). The caller's follower owns, and disconnects, each group's connection.
 */
export function streamGroups(connection: StreamConnection, keys: string[]): { connection: StreamConnection; keys: string[] }[] {
  if (!isCluster(connection)) return [{ connection, keys }];
  const byTag = new Map<string, string[]>();
  for (const key of keys) {
    const tag = hashTagOf(key);
    byTag.set(tag, [...(byTag.get(tag) ?? []), key]);
  }
  return [...byTag.values()].map((group, i) => ({ connection: i === 0 ? connection : connection.duplicate(), keys: group }));
}

/** Past blockMs, how long a read may take before the thread stops trusting its memory. */
const READ_GRACE_MS = 1000;

export class StreamFollower {
  private running = false;
  private loop: Promise<void> | undefined;
  /** Date.now() when the last read completed; 0 before the first */
  private lastReadAt = 0;
  private behind = true;
  private lastGapCheck = 0;
  /** set when the connection came back after losing Redis; the loop reloads before reading on */
  private lostRedis = false;
  /** whether the connection has been ready once: a later 'ready' is a reconnection */
  private seenReady = false;
  private readonly onReady = () => {
    if (this.seenReady && this.running) {
      this.lostRedis = true;
      this.behind = true;
    }
    this.seenReady = true;
  };

  /** the streams by their full name (with the connection's key prefix), as XREAD answers */
  private readonly byReplyName: Map<string, FollowedStream>;
  private readonly label: string;

  constructor(
    /** a connection of its own: XREAD BLOCK holds it. One Redis, or one slot's keys on a cluster */
    private readonly redis: StreamConnection,
    private readonly streams: FollowedStream[],
    private readonly options: FollowOptions = DEFAULT_FOLLOW_OPTIONS,
  ) {
    const prefix = redis.options.keyPrefix ?? '';
    this.byReplyName = new Map(streams.map((stream) => [prefix + stream.key, stream]));
    this.label = streams.length === 1 ? streams[0]!.key : `${streams[0]!.key} and ${streams.length - 1} more`;
  }

  start(): void {
    this.running = true;
    // 'ready' again after the first: the connection was lost and is back (a restart, a failover)
    this.seenReady = this.redis.status === 'ready';
    this.redis.on('ready', this.onReady);
    this.loop = this.follow();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.redis.off('ready', this.onReady);
    this.redis.disconnect();
    await this.loop?.catch(() => {});
  }

  /**
   * True while the thread has read everything the stream held a moment ago: the last read returned
   * less than a full batch and completed within the read's blocking time (plus a grace). An idle
   * stream still answers every `blockMs`, so silence past that means the reads are not getting through.
   */
  current(): boolean {
    return this.running && !this.behind && Date.now() - this.lastReadAt < this.options.blockMs + READ_GRACE_MS;
  }

  private async follow(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const readFrom = this.streams.map((stream) => stream.owner.position());
        const reply = (await this.redis.xread(
          'COUNT',
          this.options.count,
          'BLOCK',
          this.options.blockMs,
          'STREAMS',
          ...this.streams.map((stream) => stream.key),
          ...readFrom,
        )) as [string, StreamEntry[]][] | null;
        if (failures > 0 || this.lostRedis) {
          failures = 0;
          this.lostRedis = false;
          this.behind = true;
          for (const stream of this.streams) await stream.owner.reconnected();
          continue; // read again from wherever the owners now stand
        }
        let full = false;
        for (const [name, entries] of reply ?? []) {
          const stream = this.byReplyName.get(name);
          if (!stream || !entries.length) continue;
          await stream.owner.apply(entries, readFrom[this.streams.indexOf(stream)]!);
          // only entries that arrived while the thread followed live: a catch-up reads old ones
          if (!this.behind) this.observeLag(entries);
          full ||= entries.length >= this.options.count;
        }
        this.behind = full;
        this.lastReadAt = Date.now();
        if (this.behind || this.lastReadAt - this.lastGapCheck >= this.options.gapCheckMs) {
          this.lastGapCheck = this.lastReadAt;
          for (const stream of this.streams) await this.checkForGap(stream);
        }
      } catch (err) {
        if (!this.running) return;
        failures += 1;
        this.behind = true;
        if (failures === 1) console.error(`stream ${this.label}: read failed, retrying:`, (err as Error).message);
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * failures)));
      }
    }
  }

  private observeLag(entries: StreamEntry[]): void {
    const observe = this.options.observeLag;
    if (!observe) return;
    const now = Date.now();
    for (const [id] of entries) observe(Math.max(0, now - Number(id.slice(0, id.indexOf('-')))) / 1000);
  }

  /**
   * If the capped stream's oldest entry is newer than our position, entries were trimmed unseen; if
   * its newest is older (or the stream is gone), Redis lost entries we had read.
   */
  private async checkForGap({ key, owner }: FollowedStream): Promise<void> {
    const position = owner.position();
    if (position === '0-0') return;
    const last = await this.redis.xrevrange(key, '+', '-', 'COUNT', 1);
    const lastId = last[0]?.[0];
    if (!lastId || compareIds(lastId, position) < 0) {
      this.behind = true;
      await owner.reconnected();
      return;
    }
    const first = await this.redis.xrange(key, '-', '+', 'COUNT', 1);
    const firstId = first[0]?.[0];
    if (firstId && compareIds(firstId, position) > 0) {
      const stillThere = await this.redis.xrange(key, position, position);
      if (!stillThere.length) {
        this.behind = true;
        await owner.trimmedPast(firstId);
      }
    }
  }
}

/** Order two stream ids (`ms-seq`). */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}
