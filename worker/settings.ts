/**
 * Settings of the persistence worker and its tools, read from the environment. The deployment's
 * own settings (REDIS_URL, TEEKA_REDIS_PREFIX, DATABASE_URL, TEEKA_COUNTRY) come from
 * engine/config.ts; these are the worker's knobs, each documented with its default. Defaults are
 * applied first, then everything is validated, and an error names the variable and why.
 */
import { ConfigError, integer } from '../engine/config.js';

export interface WorkerSettings {
  /** TEEKA_PG_SCHEMA: the PostgreSQL schema of the system of record (tests use one each). Default `public` */
  schema: string;
  /** TEEKA_WORKER_BATCH: outbox entries per read, and so per Bull job and per transaction. Default 500 */
  batchSize: number;
  /** TEEKA_WORKER_BLOCK_MS: how long one read waits for new entries. Default 1000 */
  readBlockMs: number;
  /**
   * TEEKA_WORKER_MAX_QUEUED_JOBS: stop reading the outbox while this many jobs wait, retry or run,
   * so a PostgreSQL outage leaves the backlog in the outbox (visible as lag) instead of in Bull. Default 20
   */
  maxQueuedJobs: number;
  /** TEEKA_WORKER_CONCURRENCY: batches written at once by one worker process. Default 1 */
  concurrency: number;
  /**
   * TEEKA_WORKER_ATTEMPTS: attempts of one batch before its job is kept as failed. With the default
   * backoff (1 s doubling to 30 s) the default rides out about an hour and a half of PostgreSQL outage. Default 200
   */
  attempts: number;
  /** TEEKA_WORKER_RETRY_BASE_MS: delay before the first retry; it doubles at each attempt. Default 1000 */
  retryBaseMs: number;
  /** TEEKA_WORKER_RETRY_CAP_MS: the longest delay between two attempts. Default 30000 */
  retryCapMs: number;
  /** TEEKA_WORKER_LOCK_MS: Bull's job lock; a job whose worker died is retried after this long. Default 15000 */
  lockMs: number;
  /** TEEKA_WORKER_STALLED_CHECK_MS: how often Bull looks for jobs whose worker died. Default 5000 */
  stalledCheckMs: number;
  /** TEEKA_WORKER_MAX_STALLED: how many times one job may lose its worker before it is kept as failed. Default 10 */
  maxStalled: number;
  /**
   * TEEKA_WORKER_HEARTBEAT_MS: lifetime of a worker's liveness key (refreshed at a third of it);
   * entries pending on a consumer whose key has expired are claimed by another worker. Default 15000
   */
  heartbeatMs: number;
  /** TEEKA_WORKER_CLAIM_INTERVAL_MS: how often a worker looks for entries of dead consumers. Default 5000 */
  claimIntervalMs: number;
  /**
   * TEEKA_WORKER_ORPHAN_IDLE_MS: an entry pending this long, whoever holds it, is enqueued again
   * (a safety net for a job lost with Redis data); writing it twice is harmless. Default 600000 (10 min)
   */
  orphanIdleMs: number;
  /** TEEKA_QUOTA_SNAPSHOT_MS: how often daily quotas are copied into PostgreSQL; 0 turns it off. Default 5000 */
  quotaSnapshotMs: number;
  /** TEEKA_WORKER_LOG_MS: how often the worker prints its progress line. Default 5000 */
  logEveryMs: number;
  /**
   * TEEKA_WORKER_DEPTH_MS: how often the worker publishes its queue depth for the gateways'
   * /metrics and dashboard; the record lives three times as long (worker/queue-depth.ts). Default 1000
   */
  depthPublishMs: number;
  /** TEEKA_PG_STATEMENT_TIMEOUT_MS: a batch that takes longer fails and is retried. Default 30000 */
  statementTimeoutMs: number;
  /**
   * TEEKA_WORKER_SWEEP_MS: how often the worker resolves the partitioned booking's expired intents
   * (worker/sweeper.ts); 0 turns it off. Default 5000
   */
  sweepMs: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Refuses a schema name that would need quoting: it ends up in connection options and SQL text. */
export function checkedSchema(schema: string, variable = 'TEEKA_PG_SCHEMA'): string {
  if (!SCHEMA_NAME.test(schema)) throw new ConfigError(variable, `expected a lower-case SQL name, got "${schema}"`);
  return schema;
}

/**
 * TEEKA_PG_SCHEMA alone, for the gateway, which compares Redis with PostgreSQL's deployment record
 * but reads no other worker setting: a bad worker setting must not stop it.
 */
export function databaseSchema(env: NodeJS.ProcessEnv = process.env): string {
  return checkedSchema(env.TEEKA_PG_SCHEMA || 'public');
}

export function loadWorkerSettings(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const settings: WorkerSettings = {
    schema: databaseSchema(env),
    batchSize: integer(env, 'TEEKA_WORKER_BATCH', 500, 1, 10_000),
    readBlockMs: integer(env, 'TEEKA_WORKER_BLOCK_MS', 1000, 10, 60_000),
    maxQueuedJobs: integer(env, 'TEEKA_WORKER_MAX_QUEUED_JOBS', 20, 1, 100_000),
    concurrency: integer(env, 'TEEKA_WORKER_CONCURRENCY', 1, 1, 64),
    attempts: integer(env, 'TEEKA_WORKER_ATTEMPTS', 200, 1, 1_000_000),
    retryBaseMs: integer(env, 'TEEKA_WORKER_RETRY_BASE_MS', 1000, 10, 3_600_000),
    retryCapMs: integer(env, 'TEEKA_WORKER_RETRY_CAP_MS', 30_000, 10, 3_600_000),
    lockMs: integer(env, 'TEEKA_WORKER_LOCK_MS', 15_000, 1000, 3_600_000),
    stalledCheckMs: integer(env, 'TEEKA_WORKER_STALLED_CHECK_MS', 5000, 100, 3_600_000),
    maxStalled: integer(env, 'TEEKA_WORKER_MAX_STALLED', 10, 1, 1000),
    heartbeatMs: integer(env, 'TEEKA_WORKER_HEARTBEAT_MS', 15_000, 300, 3_600_000),
    claimIntervalMs: integer(env, 'TEEKA_WORKER_CLAIM_INTERVAL_MS', 5000, 100, 3_600_000),
    orphanIdleMs: integer(env, 'TEEKA_WORKER_ORPHAN_IDLE_MS', 600_000, 1000, 86_400_000),
    quotaSnapshotMs: integer(env, 'TEEKA_QUOTA_SNAPSHOT_MS', 5000, 0, 3_600_000),
    logEveryMs: integer(env, 'TEEKA_WORKER_LOG_MS', 5000, 100, 3_600_000),
    depthPublishMs: integer(env, 'TEEKA_WORKER_DEPTH_MS', 1000, 100, 60_000),
    statementTimeoutMs: integer(env, 'TEEKA_PG_STATEMENT_TIMEOUT_MS', 30_000, 100, 3_600_000),
    sweepMs: integer(env, 'TEEKA_WORKER_SWEEP_MS', 5000, 0, 3_600_000),
  };
  if (settings.retryCapMs < settings.retryBaseMs) {
    throw new ConfigError('TEEKA_WORKER_RETRY_CAP_MS', `must not be below TEEKA_WORKER_RETRY_BASE_MS (${settings.retryBaseMs})`);
  }
  if (settings.orphanIdleMs <= settings.retryCapMs + settings.lockMs) {
    // a live job touches its entries at every attempt; a shorter idle time would enqueue them again
    // between two attempts of the very job that holds them
    throw new ConfigError(
      'TEEKA_WORKER_ORPHAN_IDLE_MS',
      `must exceed TEEKA_WORKER_RETRY_CAP_MS + TEEKA_WORKER_LOCK_MS (${settings.retryCapMs + settings.lockMs})`,
    );
  }
  return settings;
}

export const DEFAULT_WORKER_SETTINGS: WorkerSettings = loadWorkerSettings({});
