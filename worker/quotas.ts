/**
 * Daily quotas (searches of the day, account blocks) live only in Redis, with a TTL. The
 * worker copies them into PostgreSQL every few seconds so that a rebuild after Redis lost its data
 * gives citizens back the quotas they had used, not a fresh day. It is a periodic snapshot: what was
 * counted after the last one is not in it (at most TEEKA_QUOTA_SNAPSHOT_MS of it).
 *
 * A snapshot reads only the accounts whose daily quotas changed since the last one: the script that
 * changes one names the account in its partition's `quota-changes` set (lua/includes/searchQuota.lua),
 * and the snapshot takes those sets. Scanning every key instead costs Redis about a millisecond per
 * thousand keys of the whole keyspace at every snapshot, however few citizens searched: at
 * tens of millions of accounts, more than the interval itself. A full scan is still made once, at a
 * worker's first snapshot: it catches what was counted before any worker took the sets (a version
 * that kept none, a worker that stopped between taking and writing).
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

/** How many accounts one SPOP takes from a partition's quota-changes set. */
const TAKE = 1000;

/**
 * Copy the daily quota keys (value and remaining TTL) of every account named in the partitions'
 * quota-changes sets into PostgreSQL, taking the names out of the sets; with `full`, also every daily
 * quota key a scan of the keyspace finds. Without `partitions` (a tool that does not know the
 * deployment's count) every snapshot is a full one. If writing to PostgreSQL fails, the names go back
 * into their sets for the next snapshot.
 */
export async function snapshotDailyQuotas(redis: RedisClient, pool: pg.Pool, partitions?: Partitions, options: { full?: boolean } = {}): Promise<QuotaSnapshotReport> {
  const now = await redisNow(redis);
  const taken = partitions ? await takeChangedAccounts(redis, partitions) : new Map<number, string[]>();
  const quotaKeys = new Set<string>();
  for (const [partition, accounts] of taken) {
    for (const accountId of accounts) {
      const account = keys.forAccount(partitions!, accountId);
      if (account.partition !== partition) continue; // not a name a script of this count wrote
      for (const quota of Object.values(QUOTAS)) quotaKeys.add(quota.key(account));
    }
  }
  try {
    if (options.full || !partitions) {
      for (const pattern of Object.values(dailyQuotaKeyPatterns)) for await (const found of scanKeys(redis, pattern)) for (const key of found) quotaKeys.add(key);
    }
    return await writeQuotaSnapshot(pool, now, await readQuotaKeys(redis, [...quotaKeys], now));
  } catch (err) {
    await putBackChangedAccounts(redis, partitions, taken).catch(() => {});
    throw err;
  }
}

/** Every partition's quota-changes set, emptied: the account ids it held, per partition. */
async function takeChangedAccounts(redis: RedisClient, partitions: Partitions): Promise<Map<number, string[]>> {
  const taken = new Map<number, string[]>();
  await Promise.all(
    partitions.all().map(async (partition) => {
      const accounts: string[] = [];
      for (;;) {
        const found = await redis.spop(keys.quotaChanges(partitions, partition), TAKE);
        accounts.push(...found);
        if (found.length < TAKE) break;
      }
      if (accounts.length) taken.set(partition, accounts);
    }),
  );
  return taken;
}

async function putBackChangedAccounts(redis: RedisClient, partitions: Partitions | undefined, taken: Map<number, string[]>): Promise<void> {
  if (!partitions) return;
  await Promise.all([...taken].map(([partition, accounts]) => redis.sadd(keys.quotaChanges(partitions, partition), ...accounts)));
}

interface QuotaRows {
  accounts: string[];
  names: string[];
  values: string[];
  expiries: number[];
}

/** The value and expiry (`now` + remaining TTL) of each quota key that still holds one. */
async function readQuotaKeys(redis: RedisClient, quotaKeys: string[], now: number): Promise<QuotaRows> {
  const rows: QuotaRows = { accounts: [], names: [], values: [], expiries: [] };
  for (let i = 0; i < quotaKeys.length; i += TAKE) {
    const chunk = quotaKeys.slice(i, i + TAKE);
    const replies = await pipelinedPerPartition(redis, chunk, (pipeline, key) => pipeline.get(key).pttl(key));
    chunk.forEach((key, j) => {
      const [value, ttl] = replies[j] as [string | null, number];
      const accountId = accountOfUserKey(key);
      const name = quotaNameOf(key);
      // gone since it was named, or (never written by the scripts) without a lifetime: nothing to restore
      if (value === null || ttl <= 0 || !accountId || !name) return;
      rows.accounts.push(accountId);
      rows.names.push(name);
      rows.values.push(value);
      rows.expiries.push(now + ttl);
    });
  }
  return rows;
}

/** The PostgreSQL name of the quota a per-account key holds (by the key's ending), or null. */
function quotaNameOf(key: string): string | null {
  for (const [quota, pattern] of Object.entries(dailyQuotaKeyPatterns) as [keyof typeof QUOTAS, string][]) {
    if (key.endsWith(pattern.slice(pattern.lastIndexOf('*') + 1))) return QUOTAS[quota].name;
  }
  return null;
}

async function writeQuotaSnapshot(pool: pg.Pool, now: number, rows: QuotaRows): Promise<QuotaSnapshotReport> {
  return inTransaction(pool, async (client) => {
    const saved = await client.query(
      `INSERT INTO daily_quota_snapshots (account_id, quota, value, expires_at, snapshot_at)
       SELECT q.account_id, q.quota, q.value, timestamptz 'epoch' + q.expires_ms * interval '1 millisecond',
              timestamptz 'epoch' + $5::bigint * interval '1 millisecond'
       FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]) AS q(account_id, quota, value, expires_ms)
       ON CONFLICT (account_id, quota) DO UPDATE SET
         value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, snapshot_at = EXCLUDED.snapshot_at`,
      [rows.accounts, rows.names, rows.values, rows.expiries, now],
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
