/**
 * The outbox stream as the worker sees it: the stream commands the worker and the tools share
 * (consumer group, reading entries by id, acknowledging). The entries' layout (what
 * lua/includes/appendOutbox.lua writes, checked when read) is engine/records.ts's.
 *
 * An entry is deleted from the stream in the same MULTI that acknowledges it, after its batch is
 * committed in PostgreSQL, so the stream only ever holds changes PostgreSQL may not have yet.
 *
 * There are several outbox streams: the booking partition's (`keys.outbox()`, where the single-slot
 * scripts write) and one per virtual partition (`keys.partitionOutbox`, where the partitioned
 * booking's steps and its sessions' publications write: engine/partitioned-booking.md). Each is
 * drained alike, through a consumer group of its own name, with its dead letters beside it in its
 * slot; every function here takes the stream's key (default: the booking partition's).
 */
import type { RedisClient } from '../engine/redis.js';
import { keys } from '../engine/keys.js';
import type { Partitions } from '../engine/partitions.js';

/** The consumer group every worker reads the outbox through. */
export const OUTBOX_GROUP = 'persist';

// the shape of each change (the entry's `data`) and its parsing are engine/records.ts's, beside the
// other records the scripts write
export {
  MalformedOutboxEntry,
  parseOutboxEntry,
  type AccountChange,
  type AppointmentChange,
  type BeneficiaryChange,
  type AccessChange,
  type CertificateChange,
  type OperatorChange,
  type OutboxEvent,
  type SessionChange,
  type StreamEntry,
} from '../engine/records.js';
import type { StreamEntry } from '../engine/records.js';

/** The ms part of a stream id: when the entry was appended, by the Redis clock. */
export function streamIdTime(streamId: string): number {
  return Number(streamId.slice(0, streamId.indexOf('-')));
}

/**
 * Every outbox stream of a deployment: the booking partition's first, then, given the partitions,
 * each partition's.
 */
export function outboxStreams(partitions?: Partitions): string[] {
  return [keys.outbox(), ...(partitions ? partitions.all().map((partition) => keys.partitionOutbox(partitions, partition)) : [])];
}

/**
 * An outbox key as Redis knows it. ioredis adds its keyPrefix to ordinary key arguments, but not to
 * the key inside subcommands (XGROUP CREATE, XINFO GROUPS), which need the full name.
 */
export function outboxKeyWithPrefix(redis: RedisClient, stream = keys.outbox()): string {
  return `${redis.options.keyPrefix ?? ''}${stream}`;
}

/**
 * Create the consumer group if it is missing (first start, or the stream was wiped by a rebuild).
 * It starts at the beginning: every entry still in the stream is one PostgreSQL may not have.
 */
export async function ensureOutboxGroup(redis: RedisClient, stream = keys.outbox()): Promise<void> {
  try {
    await redis.xgroup('CREATE', outboxKeyWithPrefix(redis, stream), OUTBOX_GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!/BUSYGROUP/.test((err as Error).message)) throw err;
  }
}

/** The entries with these ids that are still in the stream (the others were written and deleted). */
export async function readOutboxEntries(redis: RedisClient, ids: string[], stream = keys.outbox()): Promise<StreamEntry[]> {
  if (!ids.length) return [];
  // a batch as read is one run of consecutive entries: one range read returns exactly it
  const run = (await redis.xrange(stream, ids[0]!, ids[ids.length - 1]!, 'COUNT', ids.length)) as StreamEntry[];
  const wanted = new Set(ids);
  if (run.length === ids.length && run.every(([id]) => wanted.has(id))) return run;
  // claimed entries with others between them, or some already written and deleted: one by one
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.xrange(stream, id, id);
  const replies = (await pipeline.exec()) ?? [];
  const entries: StreamEntry[] = [];
  for (const [err, reply] of replies) {
    if (err) throw err;
    const found = reply as StreamEntry[];
    if (found.length) entries.push(found[0]!);
  }
  return entries;
}

/** Acknowledge entries written to PostgreSQL and delete them from the stream, atomically. */
export async function acknowledgeOutboxEntries(redis: RedisClient, ids: string[], stream = keys.outbox()): Promise<void> {
  if (!ids.length) return;
  const replies = await redis.multi().xack(stream, OUTBOX_GROUP, ...ids).xdel(stream, ...ids).exec();
  for (const [err] of replies ?? []) if (err) throw err;
}

/** Pending (delivered, unacknowledged) entries and undelivered ones, per the consumer group. */
export interface OutboxBacklog {
  length: number;
  pending: number;
  undelivered: number;
  /** the oldest entry still in the stream, or null when it is empty */
  oldestId: string | null;
}

export async function readOutboxBacklog(redis: RedisClient, stream = keys.outbox()): Promise<OutboxBacklog> {
  const [length, oldest, groups] = await Promise.all([
    redis.xlen(stream),
    redis.xrange(stream, '-', '+', 'COUNT', 1),
    (redis.xinfo('GROUPS', outboxKeyWithPrefix(redis, stream)) as Promise<unknown[][]>).catch((err: Error) => {
      if (/no such key/i.test(err.message)) return [];
      throw err;
    }),
  ]);
  let pending = 0;
  let undelivered = length;
  for (const group of groups) {
    const info: Record<string, unknown> = {};
    for (let i = 0; i + 1 < group.length; i += 2) info[String(group[i])] = group[i + 1];
    if (info.name !== OUTBOX_GROUP) continue;
    pending = Number(info.pending);
    // Redis cannot always tell the lag (deleted entries leave gaps it does not count); every entry
    // still in the stream is unacknowledged, so the rest of it is what was never delivered
    undelivered = typeof info.lag === 'number' ? info.lag : Math.max(0, length - pending);
  }
  return { length, pending, undelivered, oldestId: oldest[0]?.[0] ?? null };
}

/** The backlog over several outbox streams (outboxStreams): the sums, and the oldest entry of them all. */
export async function readTotalBacklog(redis: RedisClient, streams: readonly string[]): Promise<OutboxBacklog> {
  const backlogs = await Promise.all(streams.map((stream) => readOutboxBacklog(redis, stream)));
  const total: OutboxBacklog = { length: 0, pending: 0, undelivered: 0, oldestId: null };
  for (const backlog of backlogs) {
    total.length += backlog.length;
    total.pending += backlog.pending;
    total.undelivered += backlog.undelivered;
    if (backlog.oldestId && (!total.oldestId || streamIdTime(backlog.oldestId) < streamIdTime(total.oldestId))) total.oldestId = backlog.oldestId;
  }
  return total;
}
