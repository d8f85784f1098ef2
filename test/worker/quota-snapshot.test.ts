/**
 * The daily quota snapshot (worker/quotas.ts) reads the accounts the quota scripts named in their
 * partitions' quota-changes sets since the last snapshot, not the whole keyspace: an account that did
 * not search since is not read again, one that did is, with its new count; a count no script named
 * (as a version without the sets left it) is found by the full scan a worker makes first; a block
 * is read after it; and names taken by a snapshot PostgreSQL refused are read by the next one.
 */
import pg from 'pg';
import { keys } from '../../engine/keys.js';
import { Status } from '../../engine/status.js';
import { snapshotDailyQuotas } from '../../worker/quotas.js';
import { openPool } from '../../worker/database.js';
import { login, nextMobile, useUpDailySearches } from '../support/booking.js';
import { DATABASE_URL, describe, expect, test } from './support.js';

async function snapshotted(pool: pg.Pool): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ account_id: string; quota: string; value: string }>('SELECT account_id, quota, value FROM daily_quota_snapshots');
  return Object.fromEntries(rows.map((row) => [`${row.account_id}:${row.quota}`, row.value]));
}

describe('daily quota snapshots', () => {
  test('read the accounts whose quotas changed since the last snapshot, and only those', async ({ engine, redis, pool }) => {
    const a = await login(engine, nextMobile());
    const b = await login(engine, nextMobile());
    for (const citizen of [a, a, b]) expect(await engine.consumeSearchQuota(citizen.accountId, citizen.sid)).toMatchObject({ ok: true });

    expect(await snapshotDailyQuotas(redis, pool, engine.partitions)).toMatchObject({ saved: 2 });
    expect(await snapshotted(pool)).toEqual({ [`${a.accountId}:search_day`]: '2', [`${b.accountId}:search_day`]: '1' });
    // nobody searched since: nothing to read
    expect(await snapshotDailyQuotas(redis, pool, engine.partitions)).toMatchObject({ saved: 0 });

    expect(await engine.consumeSearchQuota(a.accountId, a.sid)).toMatchObject({ ok: true });
    expect(await snapshotDailyQuotas(redis, pool, engine.partitions)).toMatchObject({ saved: 1 });
    expect((await snapshotted(pool))[`${a.accountId}:search_day`]).toBe('3');

    // a count no script named: only the full scan finds it
    const legacy = keys.forAccount(engine.partitions, 'legacy-account').searchDay();
    await redis.set(legacy, '5', 'PX', 3_600_000);
    expect(await snapshotDailyQuotas(redis, pool, engine.partitions)).toMatchObject({ saved: 0 });
    expect(await snapshotDailyQuotas(redis, pool, engine.partitions, { full: true })).toMatchObject({ saved: 3 });
    expect((await snapshotted(pool))['legacy-account:search_day']).toBe('5');
  });

  test('a block is read by the snapshot after it, though the searches before it were read already', async ({ engine, redis, pool, clock }) => {
    const citizen = await login(engine, nextMobile());
    await useUpDailySearches(engine, clock, citizen);
    expect(await snapshotDailyQuotas(redis, pool, engine.partitions)).toMatchObject({ saved: 1 });
    expect(await engine.consumeSearchQuota(citizen.accountId, citizen.sid)).toMatchObject({ ok: false, status: Status.ACCOUNT_BLOCKED });
    // the day's count and the block
    expect(await snapshotDailyQuotas(redis, pool, engine.partitions)).toMatchObject({ saved: 2 });
    expect(await snapshotted(pool)).toMatchObject({ [`${citizen.accountId}:blocked`]: 'search' });
  });

  test('names taken by a snapshot PostgreSQL refused are read by the next one', async ({ engine, redis, pool }) => {
    const citizen = await login(engine, nextMobile());
    expect(await engine.consumeSearchQuota(citizen.accountId, citizen.sid)).toMatchObject({ ok: true });

    const unmigrated = openPool({ databaseUrl: DATABASE_URL, schema: 'no_teeka_here', onIdleError: () => {} });
    try {
      await expect(snapshotDailyQuotas(redis, unmigrated, engine.partitions)).rejects.toThrow(/daily_quota_snapshots/);
    } finally {
      await unmigrated.end();
    }
    expect(await snapshotDailyQuotas(redis, pool, engine.partitions)).toMatchObject({ saved: 1 });
    expect(await snapshotted(pool)).toEqual({ [`${citizen.accountId}:search_day`]: '1' });
  });
});
