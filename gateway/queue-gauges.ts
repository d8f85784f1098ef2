/**
 * Queue depth on /metrics, /teeka/ops/queue and the dashboard: the main thread reads, once a second,
 * the depth record the persistence worker publishes (worker/queue-depth.ts), and these gauges put it
 * beside the threads' aggregated metrics. The gateway never opens the worker's queue nor reads its
 * settings, so nothing about the worker can stop it.
 *
 * When no worker has published for a few seconds the record has expired and the depth is unknown:
 * `teeka_worker_depth_up` is 0 and the depth gauges are absent (not their last values), the JSON
 * endpoint says so, and the dashboard shows "unknown". worker/README.md says which values mean trouble.
 */
import type { RedisClient } from '../engine/redis.js';
import { Gauge, Registry } from 'prom-client';
import { keys } from '../engine/keys.js';
import { decodeQueueDepth, MalformedRecord, type QueueDepth } from '../engine/records.js';

/** A published depth and how old it is (by the Redis clock), or null: unknown. */
export interface PublishedDepth {
  depth: QueueDepth;
  /** ms since the worker read it */
  ageMs: number;
}

/** The depth the worker last published, or null when none is there (no worker, or it stopped publishing). */
export async function readPublishedDepth(redis: RedisClient): Promise<PublishedDepth | null> {
  const replies = await redis.multi().get(keys.workerQueueDepth()).time().exec();
  const [[recordErr, record], [timeErr, time]] = replies as [[Error | null, string | null], [Error | null, [string, string]]];
  if (recordErr) throw recordErr;
  if (timeErr) throw timeErr;
  if (record === null) return null;
  try {
    const depth = decodeQueueDepth(record);
    const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    return { depth, ageMs: Math.max(0, now - depth.readAt) };
  } catch (err) {
    // not what a worker of this version writes: say unknown rather than guess
    if (!(err instanceof MalformedRecord)) throw err;
    return null;
  }
}

export class QueueGauges {
  /** always on /metrics: whether a worker's depth is known */
  readonly presence = new Registry();
  /** on /metrics only while the depth is known */
  readonly depthRegistry = new Registry();
  private readonly up = new Gauge({
    name: 'teeka_worker_depth_up',
    help: 'Whether a persistence worker published its queue depth within the last few seconds (0: depth unknown, the teeka_outbox_* gauges are absent)',
    registers: [this.presence],
  });
  private readonly age = new Gauge({
    name: 'teeka_worker_depth_age_seconds',
    help: 'How old the published queue depth is (the worker refreshes it every TEEKA_WORKER_DEPTH_MS)',
    registers: [this.depthRegistry],
  });
  private readonly outbox = new Gauge({ name: 'teeka_outbox_entries', help: 'Booking changes in the outbox not yet in PostgreSQL', registers: [this.depthRegistry] });
  private readonly undelivered = new Gauge({ name: 'teeka_outbox_undelivered', help: 'Outbox entries no worker has read yet (consumer group lag)', registers: [this.depthRegistry] });
  private readonly pending = new Gauge({ name: 'teeka_outbox_pending', help: 'Outbox entries read by a worker, not yet written', registers: [this.depthRegistry] });
  private readonly streamEntries = new Gauge({
    name: 'teeka_outbox_stream_entries',
    help: 'Booking changes not yet in PostgreSQL, per outbox stream',
    labelNames: ['stream'] as const,
    registers: [this.depthRegistry],
  });
  private readonly streamOldest = new Gauge({
    name: 'teeka_outbox_stream_oldest_undrained_seconds',
    help: 'Age of the oldest booking change not yet in PostgreSQL, per outbox stream (0 when drained)',
    labelNames: ['stream'] as const,
    registers: [this.depthRegistry],
  });
  private readonly jobs = new Gauge({ name: 'teeka_persist_jobs', help: 'Persistence (Bull) jobs by state', labelNames: ['state'] as const, registers: [this.depthRegistry] });
  private readonly oldest = new Gauge({
    name: 'teeka_oldest_undrained_booking_seconds',
    help: 'Age of the oldest booking change not yet in PostgreSQL (0 when drained)',
    registers: [this.depthRegistry],
  });
  private readonly deadLetters = new Gauge({
    name: 'teeka_outbox_dead_letters',
    help: 'Booking changes PostgreSQL refused for good, set aside for an operator (not in PostgreSQL)',
    registers: [this.depthRegistry],
  });
  private known = false;

  /** The published depth, or null when it is unknown. */
  set(published: PublishedDepth | null): void {
    this.known = published !== null;
    this.up.set(this.known ? 1 : 0);
    if (!published) return;
    const { depth, ageMs } = published;
    this.age.set(ageMs / 1000);
    this.outbox.set(depth.outboxLength);
    this.undelivered.set(depth.undelivered);
    this.pending.set(depth.pending);
    // a stream that went away must not keep its last value
    this.streamEntries.reset();
    this.streamOldest.reset();
    for (const [stream, backlog] of Object.entries(depth.streams)) {
      this.streamEntries.set({ stream }, backlog.length);
      this.streamOldest.set({ stream }, backlog.oldestUndrainedAgeMs / 1000);
    }
    for (const [state, count] of Object.entries(depth.bull)) this.jobs.set({ state }, count);
    this.oldest.set(depth.oldestUndrainedAgeMs / 1000);
    this.deadLetters.set(depth.deadLetters);
  }

  /** What goes on /metrics beside the threads' metrics. */
  registries(): Registry[] {
    return this.known ? [this.presence, this.depthRegistry] : [this.presence];
  }
}
