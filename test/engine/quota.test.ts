import { setTimeout as sleep } from 'node:timers/promises';
import type { BookingEngine } from '../../engine/engine.js';
import { sha256Hex } from '../../engine/ids.js';
import { keys } from '../../engine/keys.js';
import { parseCountry } from '../../engine/masterdata.js';
import { Status } from '../../engine/status.js';
import { nextMobile } from '../support/booking.js';
import { demoCountry, describe, expect, test } from '../support/fixtures.js';

const TEST_OTP_HASH = sha256Hex('123456');

async function login(engine: BookingEngine, mobile: string): Promise<{ accountId: string; sid: string }> {
  const issued = await engine.issueOtp(mobile);
  if (!issued.ok) throw new Error(`issueOtp: status ${issued.status}`);
  const verified = await engine.verifyOtp(issued.txnId, issued.otp ? sha256Hex(issued.otp) : TEST_OTP_HASH);
  if (!verified.ok) throw new Error(`verifyOtp: status ${verified.status}`);
  return verified;
}

describe('search quota', () => {
  test('the 20th search in 15 minutes is allowed, the 21st logs the user out', async ({ engine }) => {
    const { accountId, sid } = await login(engine, '9999000001');
    for (let i = 1; i <= 20; i++) {
      const outcome = await engine.consumeSearchQuota(accountId, sid);
      expect(outcome, `search ${i}`).toMatchObject({ ok: true, remaining: 20 - i, remainingToday: 1000 - i });
      if (outcome.ok) expect(outcome.resetMs).toBeGreaterThan(899_000);
    }
    expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ ok: false, status: Status.QUOTA_LOGOUT });
    // the token's login session is gone: the same token is now unauthenticated everywhere
    expect(await engine.isLoginLive(accountId, sid)).toBe(false);
    expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ ok: false, status: Status.UNAUTHENTICATED });

    // logging in again starts a fresh short window; the day count keeps the 20 already made
    const again = await login(engine, '9999000001');
    expect(await engine.consumeSearchQuota(accountId, again.sid)).toMatchObject({ ok: true, remaining: 19, remainingToday: 979 });
  });

  test('more than 1,000 searches in 24 hours blocks the account for 24 hours', async ({ engine, redis }) => {
    const mobile = '9999000002';
    let searches = 0;
    let last = { accountId: '', sid: '' };
    for (let round = 0; round < 50; round++) {
      last = await login(engine, mobile);
      const { accountId, sid } = last;
      const answers = await Promise.all(Array.from({ length: 20 }, () => engine.consumeSearchQuota(accountId, sid)));
      expect(answers.every((a) => a.ok)).toBe(true);
      searches += 20;
      // the 21st of a window logs out, until the 1,001st of the day, which blocks
      if (round < 49) expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ status: Status.QUOTA_LOGOUT });
    }
    expect(searches).toBe(1000);
    const { accountId, sid } = last;
    const blocked = await engine.consumeSearchQuota(accountId, sid);
    expect(blocked).toMatchObject({ ok: false, status: Status.ACCOUNT_BLOCKED, retryAfterMs: 86_400_000 });
    const ttl = await redis.pttl(keys.blocked(accountId));
    expect(ttl).toBeGreaterThan(86_390_000);
    expect(ttl).toBeLessThanOrEqual(86_400_000);
    // blocked accounts can neither search nor log in
    expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ status: Status.ACCOUNT_BLOCKED });
    expect(await engine.issueOtp(mobile)).toMatchObject({ status: Status.ACCOUNT_BLOCKED });
  });

  test('windows reset when they expire (short windows configured)', async ({ makeEngine }) => {
    const demo = demoCountry().data;
    const country = parseCountry({
      ...demo,
      rules: { ...demo.rules, search_quota: { ...demo.rules.search_quota, window_seconds: 1, max_per_window: 2 } },
    });
    const engine = makeEngine({ country });
    const { accountId, sid } = await login(engine, '9999000003');
    expect((await engine.consumeSearchQuota(accountId, sid)).ok).toBe(true);
    expect((await engine.consumeSearchQuota(accountId, sid)).ok).toBe(true);
    await sleep(1100);
    expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ ok: true, remaining: 1 });
  });

  test('a newer login revokes the older token', async ({ engine }) => {
    const first = await login(engine, '9999000004');
    const second = await login(engine, '9999000004');
    expect(await engine.isLoginLive(first.accountId, first.sid)).toBe(false);
    expect(await engine.isLoginLive(second.accountId, second.sid)).toBe(true);
    expect(await engine.consumeSearchQuota(first.accountId, first.sid)).toMatchObject({ status: Status.UNAUTHENTICATED });
  });
});

describe('OTP limits', () => {
  test('an OTP is valid for 180 s, single use, and a new one only after 180 s', async ({ engine, clock }) => {
    const mobile = nextMobile();
    const issued = await engine.issueOtp(mobile);
    if (!issued.ok || !issued.otp) throw new Error('issueOtp failed');
    expect(issued.otp).toMatch(/^\d{6}$/);

    const early = await engine.issueOtp(mobile);
    expect(early).toMatchObject({ ok: false, status: Status.OTP_COOLDOWN, retryAfterMs: 180_000 });
    clock.advance(179_999);
    expect(await engine.issueOtp(mobile)).toMatchObject({ status: Status.OTP_COOLDOWN, retryAfterMs: 1 });
    // still valid at 179.999 s
    expect((await engine.verifyOtp(issued.txnId, sha256Hex(issued.otp))).ok).toBe(true);
    expect(await engine.verifyOtp(issued.txnId, sha256Hex(issued.otp))).toMatchObject({ status: Status.INVALID_OTP });

    clock.advance(1);
    const next = await engine.issueOtp(mobile);
    if (!next.ok || !next.otp) throw new Error('second issueOtp failed');
    clock.advance(180_000);
    expect(await engine.verifyOtp(next.txnId, sha256Hex(next.otp))).toMatchObject({ status: Status.INVALID_OTP });
  });

  test('wrong answers are counted: the 5th discards the OTP', async ({ engine }) => {
    const mobile = nextMobile();
    const issued = await engine.issueOtp(mobile);
    if (!issued.ok || !issued.otp) throw new Error('issueOtp failed');
    const wrong = sha256Hex(issued.otp === '000000' ? '111111' : '000000');
    for (let i = 0; i < 4; i++) expect(await engine.verifyOtp(issued.txnId, wrong)).toMatchObject({ status: Status.INVALID_OTP });
    expect((await engine.verifyOtp(issued.txnId, sha256Hex(issued.otp))).ok).toBe(true);

    const again = await engine.issueOtp(nextMobile());
    if (!again.ok || !again.otp) throw new Error('issueOtp failed');
    for (let i = 0; i < 5; i++) expect(await engine.verifyOtp(again.txnId, wrong)).toMatchObject({ status: Status.INVALID_OTP });
    expect(await engine.verifyOtp(again.txnId, sha256Hex(again.otp))).toMatchObject({ status: Status.INVALID_OTP });
    // a txnId of another mobile, or garbage, is just an invalid OTP
    expect(await engine.verifyOtp('not-a-txn', sha256Hex(again.otp))).toMatchObject({ status: Status.INVALID_OTP });
  });

  test('50 OTPs per mobile per 24 h; the 51st request blocks the account', async ({ engine, clock }) => {
    const mobile = nextMobile();
    for (let i = 1; i <= 50; i++) {
      expect(await engine.issueOtp(mobile), `OTP ${i}`).toMatchObject({ ok: true, remainingToday: 50 - i });
      clock.advance(180_000);
    }
    expect(await engine.issueOtp(mobile)).toMatchObject({ ok: false, status: Status.ACCOUNT_BLOCKED, retryAfterMs: 86_400_000 });
    clock.advance(180_000);
    expect(await engine.issueOtp(mobile)).toMatchObject({ status: Status.ACCOUNT_BLOCKED });
  });

  test('test numbers accept the fixed OTP and skip the cooldown; other numbers do not', async ({ engine }) => {
    const a = await engine.issueOtp('9999123456');
    const b = await engine.issueOtp('9999123456');
    expect(a).toMatchObject({ ok: true, otp: null });
    expect(b).toMatchObject({ ok: true, otp: null });
    if (!b.ok) return;
    expect((await engine.verifyOtp(b.txnId, TEST_OTP_HASH)).ok).toBe(true);

    const real = await engine.issueOtp(nextMobile());
    if (!real.ok) throw new Error('issueOtp failed');
    const fixedWorks = real.otp === '123456';
    expect((await engine.verifyOtp(real.txnId, TEST_OTP_HASH)).ok).toBe(fixedWorks);
  });

  test('without test numbers configured (production), 9999… is an ordinary mobile', async ({ makeEngine }) => {
    const engine = makeEngine({ testMobiles: null });
    const issued = await engine.issueOtp('9999000009');
    expect(issued).toMatchObject({ ok: true });
    if (!issued.ok) return;
    expect(issued.otp).toMatch(/^\d{6}$/);
    expect(await engine.issueOtp('9999000009')).toMatchObject({ status: Status.OTP_COOLDOWN });
  });
});

describe('public API limit per address', () => {
  test('100 calls per 5 minutes are allowed; the 101st is refused with the time to wait', async ({ engine }) => {
    const answers = await Promise.all(Array.from({ length: 100 }, () => engine.consumePublicQuota('203.0.113.7')));
    expect(answers.every((a) => a.ok)).toBe(true);
    expect(answers.map((a) => (a.ok ? a.remaining : -1)).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const refused = await engine.consumePublicQuota('203.0.113.7');
    expect(refused).toMatchObject({ ok: false, status: Status.RATE_LIMITED });
    if (!refused.ok) {
      expect(refused.retryAfterMs).toBeGreaterThan(290_000);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(300_000);
    }
    expect((await engine.consumePublicQuota('203.0.113.8')).ok).toBe(true);
  });
});
