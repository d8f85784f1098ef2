/**
 * Draining the outbox without the queue: the tools (rebuild, `reconcile --drain`) write whatever is
 * still in the stream themselves, oldest first, with the same batch writer and acknowledgement as
 * the worker. Safe beside a running worker: whichever writes an entry second changes nothing.
 */
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { keys } from '../engine/keys.js';
import { acknowledgeOutboxEntries, ensureOutboxGroup, parseOutboxEntry, type StreamEntry } from './outbox.js';
import { writeBatch } from './persist.js';

export interface DrainReport {
  events: number;
  rows: number;
  batches: number;
}

export async function drainOutboxDirectly(redis: Redis, pool: pg.Pool, batchSize = 500): Promise<DrainReport> {
  // XACK needs the group; a stream without one (never drained) gets it here
  await ensureOutboxGroup(redis);
  const report: DrainReport = { events: 0, rows: 0, batches: 0 };
  for (;;) {
    const entries = (await redis.xrange(keys.outbox(), '-', '+', 'COUNT', batchSize)) as StreamEntry[];
    if (!entries.length) return report;
    const written = await writeBatch(pool, entries.map(parseOutboxEntry));
    await acknowledgeOutboxEntries(
      redis,
      entries.map(([id]) => id),
    );
    report.events += written.events;
    report.rows += written.rows;
    report.batches += 1;
  }
}
