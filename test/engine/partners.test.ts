/**
 * The partner registry on real Redis (engine/partners.ts and its scripts): keys issued, rotated and
 * revoked, stored only as hashes; scopes and limits as registered; the limits per minute and per
 * day counted by one script, exact at each boundary on the engine's clock; every script in one slot.
 */
import { hashTagOf, keys } from '../../engine/keys.js';
import { apiKeyHash, DAY_MS, decodePartnerStreamEntry, MINUTE_MS, PartnerInputError, Partners, type PartnerInput } from '../../engine/partners.js';
import { Status } from '../../engine/status.js';
import { rateLimitHeaders } from '../../gateway/partner-gate.js';
import { PostgresPartnerLedger } from '../../worker/partners.js';
// the registry records every change in PostgreSQL as well: these tests give it a schema of their own
import { describe, expect, test } from '../worker/support.js';

const partner = (overrides: Partial<PartnerInput> = {}): PartnerInput => ({
  partnerId: 'slotbot',
  name: 'Slot Bot',
  contact: 'ops@slotbot.example',
  scopes: ['availability'],
  limits: { perMinute: 3, perDay: 5 },
  ...overrides,
});

describe('partner registry', () => {
  test('keys are issued several at once (rotation), stored as sha256 only, and a revoked key no longer verifies', async ({ engine, redis, clock, pool }) => {
    const partners = new Partners(redis, engine.scripts, clock.now, new PostgresPartnerLedger(pool));
    expect(await partners.register(partner({ scopes: ['booking', 'availability'] }), 'admin')).toEqual({ ok: true, version: 1, created: true });
    const first = await partners.issueKey('slotbot', 'admin');
    const second = await partners.issueKey('slotbot', 'admin');
    if (!first.ok || !second.ok) throw new Error('issueKey refused');
    expect(first.apiKey).toMatch(/^tk\.slotbot\.[0-9a-f]{8}\.[A-Za-z0-9_-]{32}$/);
    expect(first.keyId).not.toBe(second.keyId);

    // only the hash is stored: the key's text appears nowhere in the record
    const stored = await redis.hgetall(keys.partnerKey('slotbot', first.keyId));
    expect(stored.hash).toBe(apiKeyHash(first.apiKey));
    expect(JSON.stringify(stored)).not.toContain(first.apiKey.split('.')[3]);

    const verified = await partners.verifyKey(first.apiKey);
    expect(verified).toMatchObject({ partnerId: 'slotbot', keyId: first.keyId, limits: { perMinute: 3, perDay: 5 } });
    expect([...verified!.scopes]).toEqual(['availability', 'booking']);
    // the right ids with another secret, and text that is no key, are refused
    expect(await partners.verifyKey(`${first.apiKey.slice(0, -4)}AAAA`)).toBeNull();
    expect(await partners.verifyKey('not-a-key')).toBeNull();
    expect(await partners.verifyKey(first.apiKey.replace('slotbot', 'otherbot'))).toBeNull();

    // rotation: revoke the first, the second still works; the stream tells every gateway thread
    expect(await partners.revokeKey('slotbot', first.keyId, 'admin')).toEqual({ ok: true, revokedNow: true });
    expect(await partners.verifyKey(first.apiKey)).toBeNull();
    expect((await partners.verifyKey(second.apiKey))?.keyId).toBe(second.keyId);
    expect(await partners.revokeKey('slotbot', first.keyId, 'admin')).toEqual({ ok: true, revokedNow: false });
    expect(await partners.revokeKey('slotbot', 'deadbeef', 'admin')).toEqual({ ok: false, status: Status.PARTNER_KEY_NOT_FOUND });
    const stream = await redis.xrange(keys.partnerRevocations(), '-', '+');
    expect(stream.map(([id, fields]) => decodePartnerStreamEntry(id, fields))).toEqual([{ partnerId: 'slotbot', keyId: first.keyId }]);

    const shown = await partners.get('slotbot');
    expect(shown!.keys.map((k) => [k.keyId, k.status]).sort()).toEqual([[first.keyId, 'revoked'], [second.keyId, 'active']].sort());
    expect(JSON.stringify(shown)).not.toContain(apiKeyHash(second.apiKey));

    // a change to the partner is pushed too; a suspended partner's keys are refused
    expect(await partners.register(partner({ status: 'suspended' }), 'admin')).toEqual({ ok: true, version: 2, created: false });
    expect(await partners.verifyKey(second.apiKey)).toBeNull();
    const last = await redis.xrevrange(keys.partnerRevocations(), '+', '-', 'COUNT', 1);
    expect(decodePartnerStreamEntry(last[0]![0], last[0]![1])).toEqual({ partnerId: 'slotbot' });
    expect(await partners.issueKey('nobody', 'admin')).toEqual({ ok: false, status: Status.PARTNER_NOT_FOUND });
  });

  test('bad partner input is refused with the field and why', async ({ engine, redis, clock, pool }) => {
    const partners = new Partners(redis, engine.scripts, clock.now, new PostgresPartnerLedger(pool));
    const refused = async (input: PartnerInput, message: RegExp) => {
      await expect(partners.register(input, 'admin')).rejects.toThrow(PartnerInputError);
      await expect(partners.register(input, 'admin')).rejects.toThrow(message);
    };
    await refused(partner({ partnerId: 'Bad Id' }), /^partner_id:/);
    await refused(partner({ scopes: [] }), /^scopes:/);
    await refused(partner({ scopes: ['admin' as never] }), /^scopes: "admin"/);
    await refused(partner({ limits: { perMinute: 0, perDay: 5 } }), /^per_minute:/);
    await refused(partner({ limits: { perMinute: 10, perDay: 5 } }), /^per_day: must be at least per_minute/);
    await refused(partner({ contact: '' }), /^contact:/);
    expect(await partners.list()).toEqual([]);
  });

  test('the limits per minute and per day are exact at each boundary, and a refused call does not count', async ({ engine, redis, clock, pool }) => {
    const partners = new Partners(redis, engine.scripts, clock.now, new PostgresPartnerLedger(pool));
    const limits = { perMinute: 3, perDay: 5 };
    const call = () => partners.consumeQuota('slotbot', limits);

    for (let used = 1; used <= 3; used++) {
      const answer = await call();
      expect(answer).toEqual({ allowed: true, minute: { used, limit: 3, resetMs: MINUTE_MS }, day: { used, limit: 5, resetMs: DAY_MS } });
      expect(rateLimitHeaders(answer)).toEqual({
        'ratelimit-limit': '3',
        'ratelimit-remaining': String(3 - used),
        'ratelimit-reset': '60',
        'ratelimit-policy': '3;w=60, 5;w=86400',
      });
    }
    clock.advance(MINUTE_MS - 1); // the last ms of the minute window
    const fourth = await call();
    expect(fourth).toEqual({ allowed: false, minute: { used: 3, limit: 3, resetMs: 1 }, day: { used: 3, limit: 5, resetMs: DAY_MS - MINUTE_MS + 1 } });
    expect(rateLimitHeaders(fourth)).toMatchObject({ 'ratelimit-remaining': '0', 'ratelimit-reset': '1', 'retry-after': '1' });
    expect((await partners.usage('slotbot'))).toEqual({ minute: 3, day: 3 });

    clock.advance(1); // a new minute window opens with the next call
    expect(await call()).toMatchObject({ allowed: true, minute: { used: 1, resetMs: MINUTE_MS }, day: { used: 4 } });
    const fifth = await call();
    expect(fifth).toMatchObject({ allowed: true, minute: { used: 2 }, day: { used: 5 } });
    // the day is closer to its limit than the minute: it speaks in the headers
    expect(rateLimitHeaders(fifth)).toMatchObject({ 'ratelimit-limit': '5', 'ratelimit-remaining': '0', 'ratelimit-reset': String(Math.ceil((DAY_MS - MINUTE_MS) / 1000)) });
    const sixth = await call();
    expect(sixth).toMatchObject({ allowed: false, minute: { used: 2 }, day: { used: 5, resetMs: DAY_MS - MINUTE_MS } });
    expect(rateLimitHeaders(sixth)['retry-after']).toBe(String((DAY_MS - MINUTE_MS) / 1000));

    clock.advance(DAY_MS - MINUTE_MS - 1);
    expect((await call()).allowed).toBe(false);
    clock.advance(1); // the day window ends exactly when the engine's clock says
    expect(await call()).toMatchObject({ allowed: true, day: { used: 1, resetMs: DAY_MS } });
  });

  test('every partner script touches one slot', async ({ engine }) => {
    const calls: [string, string[]][] = [
      ['registerPartner', [keys.partner('p1'), keys.partnerIndex(), keys.partnerRevocations()]],
      ['issuePartnerKey', [keys.partner('p1'), keys.partnerKey('p1', '0a0b0c0d'), keys.partnerKeys('p1')]],
      ['revokePartnerKey', [keys.partnerKey('p1', '0a0b0c0d'), keys.partnerRevocations()]],
      ['consumePartnerQuota', [keys.partnerMinute('p1'), keys.partnerDay('p1')]],
    ];
    for (const [name, scriptKeys] of calls) {
      expect(engine.scripts.source(name as never).numberOfKeys).toBe(scriptKeys.length);
      expect(new Set(scriptKeys.map(hashTagOf)).size, name).toBe(1);
    }
    // a partner's counting is in its own slot, apart from the registry and from other partners
    expect(hashTagOf(keys.partnerMinute('p1'))).not.toBe(hashTagOf(keys.partner('p1')));
    expect(hashTagOf(keys.partnerMinute('p1'))).not.toBe(hashTagOf(keys.partnerMinute('p2')));
  });
});
