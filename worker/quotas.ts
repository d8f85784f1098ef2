/**
 * Daily quotas (searches of the day, account blocks) live only in Redis, with a TTL. The
 * worker copies them into PostgreSQL every few seconds so that a rebuild after Redis lost its data
 * gives citizens back the quotas they had used, not a fresh day. It is a periodic snapshot: what was
 * counted after the last one is not in it (at most TEEKA_QUOTA_SNAPSHOT_MS of it).
 */
import type { ChainableCommander } from 'ioredis';
import { scanKeys, type RedisClient } from '../engine/redis.js';
import type pg from 'pg';
import { accountOfUserKey, dailyQuotaKeyPatterns, hashTagOf, keys, type AccountKeys } from '../engine/keys.js';
import type { Partitions } from '../engine/partitions.js';
import { inTransaction } from './database.js';

/** How each daily quota is named in PostgreSQL, and which key holds it. */
const QUOTAS = {
  searchDay: { name: 'search_day', key: (account: AccountKeys) => account.searchDay() },
  blocked: { name: 'blocked', key: (account: AccountKeys) => account.blocked() },
} as const satisfies Record<keyof typeof dailyQuotaKeyPatterns, { name: string; key: (account: AccountKeys) => string }>;

/** The Redis server's clock, in ms: TTLs are counted by it, so expiry instants are too. */
export async function redisNow(redis: RedisClient): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/**
 * Queue each key's commands (`queue` adds them to a pipeline; `index` is the key's) in one pipeline per partition, sent at
 * once, and answer each key's replies in order. The quota keys of many accounts span partitions,
 * and Redis Cluster takes a pipeline only for keys of one slot's master; on one Redis the pipelines
 * still travel together.
 */
async function pipelinedPerPartition(redis: RedisClient, keysToQueue: string[], queue: (pipeline: ChainableCommander, key: string, index: number) => void): Promise<unknown[][]> {
  const byTag = new Map<string, number[]>();
  keysToQueue.forEach((key, i) => {
    const tag = hashTagOf(key);
    byTag.set(tag, [...(byTag.get(tag) ?? []), i]);
  });
  const replies: unknown[][] = new Array(keysToQueue.length);
  await Promise.all(
    [...byTag.values()].map(async (indexes) => {
      const pipeline = redis.pipeline();
      for (const i of indexes) queue(pipeline, keysToQueue[i]!, i);
      const results = (await pipeline.exec()) ?? [];
      const perKey = results.length / indexes.length;
      indexes.forEach((keyIndex, j) => {
        replies[keyIndex] = results.slice(j * perKey, (j + 1) * perKey).map(([err, reply]) => {
          if (err) throw err;
          return reply;
        });
      });
    }),
  );
  return replies;
}

export interface QuotaSnapshotReport {
  /** quota keys copied */
  saved: number;
  /** rows of quotas that have expired since, removed */
  dropped: number;
}

/** Copy every daily quota key (value and remaining TTL) into PostgreSQL. */
export async function snapshotDailyQuotas(redis: RedisClient, pool: pg.Pool): Promise<QuotaSnapshotReport> {
  const now = await redisNow(redis);
  const accounts: string[] = [];
  const names: string[] = [];
  const values: string[] = [];
  const expiries: number[] = [];
  for (const [quota, pattern] of Object.entries(dailyQuotaKeyPatterns) as [keyof typeof QUOTAS, string][]) {
    for await (const found of scanKeys(redis, pattern)) {
      const replies = await pipelinedPerPartition(redis, found, (pipeline, key) => pipeline.get(key).pttl(key));
      found.forEach((key, i) => {
        const [value, ttl] = replies[i] as [string | null, number];
        const accountId = accountOfUserKey(key);
        // gone since the scan, or (never written by the scripts) without a lifetime: nothing to restore
        if (value === null || ttl <= 0 || !accountId) return;
        accounts.push(accountId);
        names.push(QUOTAS[quota].name);
        values.push(value);
        expiries.push(now + ttl);
      });
    }
  }
  return inTransaction(pool, async (client) => {
    const saved = await client.query(
      `INSERT INTO daily_quota_snapshots (account_id, quota, value, expires_at, snapshot_at)
       SELECT q.account_id, q.quota, q.value, timestamptz 'epoch' + q.expires_ms * interval '1 millisecond',
              timestamptz 'epoch' + $5::bigint * interval '1 millisecond'
       FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]) AS q(account_id, quota, value, expires_ms)
       ON CONFLICT (account_id, quota) DO UPDATE SET
         value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, snapshot_at = EXCLUDED.snapshot_at`,
      [accounts, names, values, expiries, now],
    );
    const dropped = await client.query(
      `DELETE FROM daily_quota_snapshots WHERE expires_at <= timestamptz 'epoch' + $1::bigint * interval '1 millisecond'`,
      [now],
    );
    return { saved: saved.rowCount ?? 0, dropped: dropped.rowCount ?? 0 };
  });
}

/**
 * Put the snapshotted quotas back with their remaining lifetime, in each account's partition of
 * `partitions` (the snapshot names accounts, not keys, so it restores into any partition count). A
 * key Redis still has is left alone (SET NX): it is newer than any snapshot.
 */
export async function restoreDailyQuotas(redis: RedisClient, pool: pg.Pool, partitions: Partitions): Promise<number> {
  const now = await redisNow(redis);
  const { rows } = await pool.query<{ account_id: string; quota: string; value: string; expires_ms: string }>(
    `SELECT account_id, quota, value, (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms
     FROM daily_quota_snapshots
     WHERE expires_at > timestamptz 'epoch' + $1::bigint * interval '1 millisecond' AND quota = ANY($2::text[])`,
    // rows of a quota this version no longer keeps (otp_day, before OTPs were counted per requester) stay out
    [now, Object.values(QUOTAS).map((q) => q.name)],
  );
  const keyOf = new Map<string, (account: AccountKeys) => string>(Object.values(QUOTAS).map((q) => [q.name, q.key]));
  let restored = 0;
  const CHUNK = 1000;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK).filter((row) => Number(row.expires_ms) > now);
    const quotaKeys = chunk.map((row) => keyOf.get(row.quota)!(keys.forAccount(partitions, row.account_id)));
    const replies = await pipelinedPerPartition(redis, quotaKeys, (pipeline, key, i) =>
      pipeline.set(key, chunk[i]!.value, 'PX', Number(chunk[i]!.expires_ms) - now, 'NX'),
    );
    restored += replies.filter(([reply]) => reply === 'OK').length;
  }
  return restored;
}
