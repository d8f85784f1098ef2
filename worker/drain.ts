/**
 * Draining the outbox without the queue: the tools (rebuild, `reconcile --drain`) write whatever is
 * still in the stream themselves, oldest first, with the same batch writer and acknowledgement as
 * the worker, and the same dead letters for what PostgreSQL refuses for good. Safe beside a running
 * worker: whichever writes an entry second changes nothing.
 */
import type { RedisClient } from '../engine/redis.js';
import type pg from 'pg';
import { keys } from '../engine/keys.js';
import { persistOutboxEntries, type SetAsideEntry } from './dead-letter.js';
import { ensureOutboxGroup, type StreamEntry } from './outbox.js';

export interface DrainReport {
  events: number;
  rows: number;
  batches: number;
  /** entries PostgreSQL refused for good, moved to the dead-letter stream (dead-letter.ts) */
  setAside: SetAsideEntry[];
}

/** Write what the outbox streams hold (default: the booking partition's; outbox.ts `outboxStreams` for all), stream by stream. */
export async function drainOutboxDirectly(redis: RedisClient, pool: pg.Pool, batchSize = 500, streams: readonly string[] = [keys.outbox()]): Promise<DrainReport> {
  const report: DrainReport = { events: 0, rows: 0, batches: 0, setAside: [] };
  for (const stream of streams) {
    // a partition's stream that never held anything is not made here (the booking partition's always is)
    if (stream !== keys.outbox() && (await redis.xlen(stream)) === 0) continue;
    // XACK needs the group; a stream without one (never drained) gets it here
    await ensureOutboxGroup(redis, stream);
    for (;;) {
      const entries = (await redis.xrange(stream, '-', '+', 'COUNT', batchSize)) as StreamEntry[];
      if (!entries.length) break;
      const { written, setAside } = await persistOutboxEntries(redis, pool, entries, stream);
      report.events += written.events;
      report.rows += written.rows;
      report.batches += 1;
      report.setAside.push(...setAside);
    }
  }
  return report;
}
