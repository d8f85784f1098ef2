/**
 * Queue depth for operators: how much booking-domain change Redis holds that PostgreSQL may not have
 * yet, and where it sits (engine/records.ts `QueueDepth`). The worker reads it (the outbox streams,
 * its own Bull queue's counts, the dead letters) and publishes it every TEEKA_WORKER_DEPTH_MS as a
 * small Redis record with a lifetime of three periods (`keys.workerQueueDepth`); the gateway's
 * /metrics, /teeka/ops/queue and the dashboard read that record, so the gateway never opens the
 * worker's queue or reads the worker's settings. When no worker has published for three periods the
 * record is gone and every reader says "unknown", never the last numbers. worker/README.md says which
 * values mean trouble.
 */
import type Bull from 'bull';
import type { RedisClient } from '../engine/redis.js';
import { keys } from '../engine/keys.js';
import { encodeQueueDepth, type OutboxStreamDepth, type QueueDepth } from '../engine/records.js';
import { deadLetterBacklog } from './dead-letter.js';
import { readOutboxBacklog, streamIdTime } from './outbox.js';
import { redisNow } from './quotas.js';

export type { QueueDepth } from '../engine/records.js';

/** The depth record lives this many publishing periods: a worker late by one or two still shows. */
export const DEPTH_LIFETIME_PERIODS = 3;

/**
 * `redis` carries the deployment's key prefix; `queue` is the persistence queue
 * (worker/queue.ts `openPersistQueue`), or null to leave Bull's counts out; `streams` the outbox
 * streams to count (worker/outbox.ts `outboxStreams`; default the booking partition's). The record
 * lists the booking partition's stream always and a partition's only while it holds something, so
 * that it stays small with a thousand partitions; the totals are over all of them.
 */
export async function readQueueDepth(redis: RedisClient, queue: Bull.Queue | null, streams: readonly string[] = [keys.outbox()]): Promise<QueueDepth> {
  const [backlogs, counts, now, deadLetters] = await Promise.all([
    Promise.all(streams.map((stream) => readOutboxBacklog(redis, stream))),
    queue ? queue.getJobCounts() : null,
    redisNow(redis),
    deadLetterBacklog(redis, 5, streams),
  ]);
  const perStream: Record<string, OutboxStreamDepth> = {};
  backlogs.forEach((backlog, i) => {
    const stream = streams[i]!;
    if (stream !== keys.outbox() && backlog.length === 0 && backlog.pending === 0) return;
    perStream[stream] = {
      length: backlog.length,
      undelivered: backlog.undelivered,
      pending: backlog.pending,
      oldestUndrainedAgeMs: backlog.oldestId ? Math.max(0, now - streamIdTime(backlog.oldestId)) : 0,
    };
  });
  const all = Object.values(perStream);
  const sum = (field: 'length' | 'undelivered' | 'pending') => all.reduce((total, stream) => total + stream[field], 0);
  return {
    readAt: now,
    streams: perStream,
    outboxLength: sum('length'),
    undelivered: sum('undelivered'),
    pending: sum('pending'),
    oldestUndrainedAgeMs: Math.max(0, ...all.map((stream) => stream.oldestUndrainedAgeMs)),
    bull: {
      waiting: counts?.waiting ?? 0,
      active: counts?.active ?? 0,
      delayed: counts?.delayed ?? 0,
      failed: counts?.failed ?? 0,
      completed: counts?.completed ?? 0,
    },
    deadLetters: deadLetters.count,
    latestDeadLetters: deadLetters.latest,
  };
}

/**
 * Publish a depth read by `readQueueDepth` for the gateways, living `DEPTH_LIFETIME_PERIODS`
 * publishing periods. Several workers publish the same numbers (the same streams, one queue): the last wins.
 */
export async function publishQueueDepth(redis: RedisClient, depth: QueueDepth, periodMs: number): Promise<void> {
  await redis.set(keys.workerQueueDepth(), encodeQueueDepth(depth), 'PX', DEPTH_LIFETIME_PERIODS * periodMs);
}
