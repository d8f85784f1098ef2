/**
 * Queue depth for operators: how much booking-domain change Redis holds that PostgreSQL may not have
 * yet, and where it sits. A pure read of Redis (and of the Bull queue's counts when given one), for
 * the gateway's /metrics and JSON endpoint and for the worker's own progress line. worker/README.md
 * says which values mean trouble.
 */
import type Bull from 'bull';
import type { RedisClient } from '../engine/redis.js';
import { deadLetterBacklog, type DeadLetterSummary } from './dead-letter.js';
import { readOutboxBacklog, streamIdTime } from './outbox.js';
import { redisNow } from './quotas.js';

export interface QueueDepth {
  /** entries in the outbox stream: every change not yet written to PostgreSQL (written ones are deleted) */
  outboxLength: number;
  /** entries no worker has read yet: the consumer group's lag */
  undelivered: number;
  /** entries read by a worker and not yet written (in a Bull job, or held by a dead worker) */
  pending: number;
  /** Bull jobs (one per batch) by state; all zero when no queue was given */
  bull: { waiting: number; active: number; delayed: number; failed: number; completed: number };
  /** age of the oldest change not yet in PostgreSQL, by the Redis clock; 0 when the outbox is drained */
  oldestUndrainedAgeMs: number;
  /**
   * changes PostgreSQL refused for good, set aside in the dead-letter stream (worker/dead-letter.ts):
   * not in the outbox any more, not in PostgreSQL either, until an operator deals with them
   */
  deadLetters: number;
  /** the newest few dead letters: which change, and the database's error */
  latestDeadLetters: DeadLetterSummary[];
}

/**
 * `redis` carries the deployment's key prefix; `queue` is the persistence queue
 * (worker/queue.ts `openPersistQueue`), or null to leave Bull's counts out.
 */
export async function readQueueDepth(redis: RedisClient, queue: Bull.Queue | null): Promise<QueueDepth> {
  const [backlog, counts, now, deadLetters] = await Promise.all([
    readOutboxBacklog(redis),
    queue ? queue.getJobCounts() : null,
    redisNow(redis),
    deadLetterBacklog(redis),
  ]);
  return {
    outboxLength: backlog.length,
    undelivered: backlog.undelivered,
    pending: backlog.pending,
    bull: {
      waiting: counts?.waiting ?? 0,
      active: counts?.active ?? 0,
      delayed: counts?.delayed ?? 0,
      failed: counts?.failed ?? 0,
      completed: counts?.completed ?? 0,
    },
    oldestUndrainedAgeMs: backlog.oldestId ? Math.max(0, now - streamIdTime(backlog.oldestId)) : 0,
    deadLetters: deadLetters.count,
    latestDeadLetters: deadLetters.latest,
  };
}
