/**
 * The Bull queue between the outbox reader and the PostgreSQL writer: one job per batch of outbox
 * entries. Bull brings the retries with backoff while PostgreSQL is down, the recovery of jobs whose
 * worker died (stalled jobs), the failed jobs kept for inspection, and the job counts operators watch.
 *
 * Opened by the worker (which processes it) and by anything that only reads its counts (the
 * gateway's metrics, the tools): both through `openPersistQueue`.
 */
import Bull from 'bull';
import { connectRedis, type RedisAddress, type RedisClient } from '../engine/redis.js';
import { persistQueuePrefix } from '../engine/keys.js';
import type { WorkerSettings } from './settings.js';

/** A job names the stream entries of one batch; the entries themselves stay in the stream until written. */
export interface BatchJob {
  ids: string[];
  /**
   * the outbox stream they are in (worker/outbox.ts `outboxStreams`, without the deployment prefix);
   * absent: the booking partition's, as every job before the partitions' streams said
   */
  stream?: string;
}

export const PERSIST_QUEUE_NAME = 'outbox';

/**
 * The job id of a batch: the same batch enqueued twice (a claim after a crash) is one job while it
 * lives. Stream ids repeat across streams, so a partition's batch names its stream too.
 */
export function batchJobId(ids: string[], stream?: string): string {
  return `batch:${stream ? `${stream}:` : ''}${ids[0]}:${ids[ids.length - 1]}:${ids.length}`;
}

export interface PersistQueue {
  queue: Bull.Queue<BatchJob>;
  /** close the queue (waiting for the job in progress, if this process runs one), then its connections */
  close(): Promise<void>;
}

export interface PersistQueueOptions {
  redisAddress: RedisAddress;
  /** the deployment's key prefix (TEEKA_REDIS_PREFIX); Bull's keys go under `<prefix>{persist}` */
  redisKeyPrefix: string;
  settings: Pick<WorkerSettings, 'attempts' | 'retryBaseMs' | 'retryCapMs' | 'lockMs' | 'stalledCheckMs' | 'maxStalled'>;
}

/** Delay before retry number `attemptsMade`: doubling from the base, capped, with ±20 % jitter so retries spread. */
export function retryDelayMs(attemptsMade: number, baseMs: number, capMs: number): number {
  const exponential = Math.min(capMs, baseMs * 2 ** Math.min(30, Math.max(0, attemptsMade - 1)));
  return Math.round(exponential * (0.8 + Math.random() * 0.4));
}

export function openPersistQueue({ redisAddress, redisKeyPrefix, settings }: PersistQueueOptions): PersistQueue {
  const connections: RedisClient[] = [];
  const queue = new Bull<BatchJob>(PERSIST_QUEUE_NAME, {
    prefix: persistQueuePrefix(redisKeyPrefix),
    // Bull names its keys itself: its connections carry no ioredis keyPrefix. The subscriber and the
    // blocking client must not retry per request or check readiness (Bull refuses them otherwise).
    createClient: (type) => {
      const redis = connectRedis({
        address: redisAddress,
        keyPrefix: '',
        role: 'worker',
        overrides: type === 'client' ? {} : { enableReadyCheck: false, maxRetriesPerRequest: null },
      });
      connections.push(redis);
      return redis;
    },
    settings: {
      lockDuration: settings.lockMs,
      lockRenewTime: Math.floor(settings.lockMs / 2),
      stalledInterval: settings.stalledCheckMs,
      maxStalledCount: settings.maxStalled,
      backoffStrategies: {
        cappedExponential: (attemptsMade: number) => retryDelayMs(attemptsMade, settings.retryBaseMs, settings.retryCapMs),
      },
    },
    defaultJobOptions: {
      attempts: settings.attempts,
      backoff: { type: 'cappedExponential' },
      // completed batches are only kept for a glance at recent throughput; failed ones stay until looked at
      removeOnComplete: 1000,
      removeOnFail: false,
    },
  });
  let closing: Promise<void> | undefined;
  return {
    queue,
    close: () =>
      (closing ??= (async () => {
        await queue.close();
        // Bull leaves connections made by createClient to their owner; nothing is in flight on them
        // once the queue is closed (the blocking one may sit in BRPOPLPUSH, which quit would wait for)
        for (const connection of connections) connection.disconnect();
      })()),
  };
}
