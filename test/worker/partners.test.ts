/**
 * Partners survive Redis: every registration, key issued or revoked, suspension recorded in
 * PostgreSQL (key hashes only), laid out again by `rebuild` after Redis lost everything, and compared
 * by `reconcile`. An admin's change PostgreSQL refuses fails to the admin, and a key whose record
 * failed is never left live.
 */
import { allKeys } from '../../engine/redis.js';
import { keys } from '../../engine/keys.js';
import { Partners, type PartnerInput } from '../../engine/partners.js';
import { openPool } from '../../worker/database.js';
import { drainOutboxDirectly } from '../../worker/drain.js';
import { PostgresPartnerLedger } from '../../worker/partners.js';
import { rebuildRedis } from '../../worker/rebuild.js';
import { formatReconcileReport, reconcile } from '../../worker/reconcile.js';
import { deleteKeysWithPrefix } from '../support/fixtures.js';
import { describe, expect, TEST_REDIS, test } from './support.js';

const partner = (partnerId: string, overrides: Partial<PartnerInput> = {}): PartnerInput => ({
  partnerId,
  name: `Partner ${partnerId}`,
  contact: `ops@${partnerId}.example`,
  scopes: ['availability', 'booking'],
  limits: { perMinute: 60, perDay: 1000 },
  ...overrides,
});

describe('partners in PostgreSQL', () => {
  test('registered, keys issued and one revoked, another partner suspended: after Redis is flushed and rebuilt the live key works, the revoked one does not, the suspension holds', async ({
    engine,
    redis,
    pool,
    clock,
    prefix,
  }) => {
    const partners = new Partners(redis, engine.scripts, clock.now, new PostgresPartnerLedger(pool));
    expect(await partners.register(partner('appbot'), 'admin-1')).toMatchObject({ ok: true, created: true });
    const rotated = await partners.issueKey('appbot', 'admin-1');
    const live = await partners.issueKey('appbot', 'admin-1');
    expect(await partners.register(partner('scraper', { scopes: ['availability'] }), 'admin-1')).toMatchObject({ ok: true });
    const suspendedKey = await partners.issueKey('scraper', 'admin-1');
    if (!rotated.ok || !live.ok || !suspendedKey.ok) throw new Error('issueKey refused');
    clock.advance(1000);
    expect(await partners.revokeKey('appbot', rotated.keyId, 'admin-2')).toEqual({ ok: true, revokedNow: true });
    expect(await partners.register(partner('scraper', { scopes: ['availability'], status: 'suspended' }), 'access-watch')).toMatchObject({ ok: true, version: 2 });

    // PostgreSQL holds the registry, the keys as hashes only
    const rows = await pool.query<{ partner_id: string; key_id: string; status: string; row: string }>('SELECT partner_id, key_id, status, row_to_json(k)::text AS row FROM partner_keys k ORDER BY issued_at_ms, key_id');
    expect(rows.rows.map((r) => [r.partner_id, r.key_id, r.status]).sort()).toEqual(
      [['appbot', rotated.keyId, 'revoked'], ['appbot', live.keyId, 'active'], ['scraper', suspendedKey.keyId, 'active']].sort(),
    );
    for (const { row } of rows.rows) for (const key of [rotated, live, suspendedKey]) expect(row).not.toContain(key.apiKey.split('.')[3]);
    expect((await pool.query('SELECT status, version, updated_by FROM partners WHERE partner_id = $1', ['scraper'])).rows).toEqual([{ status: 'suspended', version: 2, updated_by: 'access-watch' }]);
    const before = await partners.list();
    await drainOutboxDirectly(redis, pool);

    // Redis loses everything under this deployment's prefix: no key verifies
    await deleteKeysWithPrefix(TEST_REDIS, prefix);
    expect(await allKeys(redis, '*')).toEqual([]);
    expect(await partners.verifyKey(live.apiKey)).toBeNull();

    const report = await rebuildRedis(redis, pool);
    expect(report).toMatchObject({ partners: 2, partnerKeys: 3 });
    expect(await partners.list()).toEqual(before);
    expect(await partners.verifyKey(live.apiKey)).toMatchObject({ partnerId: 'appbot', keyId: live.keyId });
    expect(await partners.verifyKey(rotated.apiKey)).toBeNull();
    expect(await partners.verifyKey(suspendedKey.apiKey)).toBeNull();
    expect((await partners.get('scraper'))!.status).toBe('suspended');
    // a gateway thread running beside the rebuild is told to forget what it had verified for each
    const stream = await redis.xrange(keys.partnerRevocations(), '-', '+');
    expect(stream.map(([, fields]) => fields[1]).sort()).toEqual(['appbot', 'scraper']);
    const check = await reconcile(redis, pool);
    expect(check.ok, formatReconcileReport(check)).toBe(true);
    expect(check.counts.partners).toBe(2);

    // a change only one side holds is named by reconcile
    await redis.hset(keys.partnerKey('appbot', live.keyId), 'status', 'revoked');
    await redis.hset(keys.partner('scraper'), 'status', 'active');
    const differs = await reconcile(redis, pool);
    expect(differs.problems).toHaveLength(2);
    expect(differs.problems).toEqual(
      expect.arrayContaining([
        { scope: 'partner scraper', detail: 'status: Redis active, PostgreSQL suspended' },
        { scope: `partner appbot key ${live.keyId}`, detail: 'status: Redis revoked, PostgreSQL active' },
      ]),
    );
  });

  test('an admin change PostgreSQL cannot take fails to the admin; a key whose record failed is revoked at once; the repeat records it', async ({ engine, redis, pool, clock }) => {
    // nothing listens on port 1: every write to this PostgreSQL fails as an outage does
    const down = openPool({ databaseUrl: 'postgres://postgres@127.0.0.1:1/postgres', schema: 'public', connectTimeoutMs: 500, onIdleError: () => {} });
    try {
      const unrecorded = new Partners(redis, engine.scripts, clock.now, new PostgresPartnerLedger(down));
      await expect(unrecorded.register(partner('lonely'), 'admin-1')).rejects.toThrow();
      // in force in Redis, but not acknowledged; reconcile names it until the admin repeats it
      expect((await reconcile(redis, pool)).problems).toContainEqual({ scope: 'partner lonely', detail: 'in Redis, missing in PostgreSQL' });
      await expect(unrecorded.issueKey('lonely', 'admin-1')).rejects.toThrow();
      const [key] = (await unrecorded.stored('lonely'))!.keys;
      expect(key).toMatchObject({ status: 'revoked', revokedBy: 'teeka: not recorded' });

      const partners = new Partners(redis, engine.scripts, clock.now, new PostgresPartnerLedger(pool));
      expect(await partners.register(partner('lonely'), 'admin-1')).toMatchObject({ ok: true, version: 2 });
      const issued = await partners.issueKey('lonely', 'admin-1');
      expect(issued.ok).toBe(true);
      // the key revoked for want of its record is recorded, as revoked, once revoked again
      expect(await partners.revokeKey('lonely', key!.keyId, 'admin-1')).toEqual({ ok: true, revokedNow: false });
      const check = await reconcile(redis, pool);
      expect(check.ok, formatReconcileReport(check)).toBe(true);
    } finally {
      await down.end();
    }
  });
});
