import type { BookingEngine } from '../../engine/engine.js';
import { sha256Hex } from '../../engine/ids.js';
import { keys } from '../../engine/keys.js';
import { parseCountry, type Rules } from '../../engine/masterdata.js';
import { Status } from '../../engine/status.js';
import { nextMobile } from '../support/booking.js';
import { demoCountry, describe, expect, test } from '../support/fixtures.js';

const TEST_OTP_HASH = sha256Hex('123456');
/** documentation addresses (RFC 5737): the owner's, a stranger's, a bulk sender's */
const OWNER = '192.0.2.10';
const STRANGER = '198.51.100.66';
const SENDER = '203.0.113.99';
const MINUTE = 60_000;

async function login(engine: BookingEngine, mobile: string, address = OWNER): Promise<{ accountId: string; sid: string }> {
  const issued = await engine.issueOtp(mobile, address);
  if (!issued.ok) throw new Error(`issueOtp: status ${issued.status}`);
  const verified = await engine.verifyOtp(issued.txnId, issued.otp ? sha256Hex(issued.otp) : TEST_OTP_HASH);
  if (!verified.ok) throw new Error(`verifyOtp: status ${verified.status}`);
  return verified;
}

/** A country whose OTP rules differ from the demo's by `otp`. */
function countryWithOtp(otp: Partial<Rules['otp']>) {
  const demo = demoCountry().data;
  return parseCountry({ ...demo, rules: { ...demo.rules, otp: { ...demo.rules.otp, ...otp } } });
}

describe('search quota', () => {
  test('the 20th search in 15 minutes is allowed, the 21st logs the user out', async ({ engine }) => {
    const { accountId, sid } = await login(engine, '9999000001');
    for (let i = 1; i <= 20; i++) {
      const outcome = await engine.consumeSearchQuota(accountId, sid);
      expect(outcome, `search ${i}`).toMatchObject({ ok: true, remaining: 20 - i, remainingToday: 1000 - i, resetMs: 900_000 });
    }
    expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ ok: false, status: Status.QUOTA_LOGOUT, retryAfterMs: 900_000 });
    // the token's login session is gone: the same token is now unauthenticated everywhere
    expect(await engine.isLoginLive(accountId, sid)).toBe(false);
    expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ ok: false, status: Status.UNAUTHENTICATED });
  });

  test('logging in again does not reset the window: searches stay refused until the 15 minutes that began with the first search end', async ({
    engine,
    clock,
  }) => {
    const mobile = '9999000005';
    const first = await login(engine, mobile);
    for (let i = 1; i <= 20; i++) expect((await engine.consumeSearchQuota(first.accountId, first.sid)).ok, `search ${i}`).toBe(true);
    clock.advance(5 * MINUTE);
    expect(await engine.consumeSearchQuota(first.accountId, first.sid)).toMatchObject({ status: Status.QUOTA_LOGOUT, retryAfterMs: 10 * MINUTE });

    // a new login at once: its first search is refused with the quota error and the time left
    const again = await login(engine, mobile);
    expect(await engine.consumeSearchQuota(again.accountId, again.sid)).toMatchObject({
      ok: false,
      status: Status.QUOTA_LOGOUT,
      retryAfterMs: 10 * MINUTE,
    });
    // and so is every later login's, up to the last millisecond of the window
    clock.advance(10 * MINUTE - 1);
    const late = await login(engine, mobile);
    expect(await engine.consumeSearchQuota(late.accountId, late.sid)).toMatchObject({ status: Status.QUOTA_LOGOUT, retryAfterMs: 1 });

    // the window has ended: a new one opens with the next search; the day count kept the 20 made
    clock.advance(1);
    const next = await login(engine, mobile);
    expect(await engine.consumeSearchQuota(next.accountId, next.sid)).toMatchObject({
      ok: true,
      remaining: 19,
      resetMs: 15 * MINUTE,
      remainingToday: 979,
    });
  });

  test('more than 1,000 searches in 24 hours blocks the account for 24 hours', async ({ engine, redis, clock }) => {
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
      clock.advance(15 * MINUTE);
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
    expect(await engine.issueOtp(mobile, OWNER)).toMatchObject({ status: Status.ACCOUNT_BLOCKED });
  });

  test('the window ends exactly when its configured length has passed (short window configured)', async ({ makeEngine, clock }) => {
    const demo = demoCountry().data;
    const country = parseCountry({
      ...demo,
      rules: { ...demo.rules, search_quota: { ...demo.rules.search_quota, window_seconds: 1, max_per_window: 2 } },
    });
    const engine = makeEngine({ country });
    const { accountId, sid } = await login(engine, '9999000003');
    expect((await engine.consumeSearchQuota(accountId, sid)).ok).toBe(true);
    clock.advance(999);
    expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ ok: true, remaining: 0, resetMs: 1 });
    clock.advance(1);
    expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ ok: true, remaining: 1, resetMs: 1000 });
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
    const issued = await engine.issueOtp(mobile, OWNER);
    if (!issued.ok || !issued.otp) throw new Error('issueOtp failed');
    expect(issued.otp).toMatch(/^\d{6}$/);

    const early = await engine.issueOtp(mobile, OWNER);
    expect(early).toMatchObject({ ok: false, status: Status.OTP_COOLDOWN, retryAfterMs: 180_000 });
    clock.advance(179_999);
    expect(await engine.issueOtp(mobile, OWNER)).toMatchObject({ status: Status.OTP_COOLDOWN, retryAfterMs: 1 });
    // still valid at 179.999 s
    expect((await engine.verifyOtp(issued.txnId, sha256Hex(issued.otp))).ok).toBe(true);
    expect(await engine.verifyOtp(issued.txnId, sha256Hex(issued.otp))).toMatchObject({ status: Status.INVALID_OTP });

    clock.advance(1);
    const next = await engine.issueOtp(mobile, OWNER);
    if (!next.ok || !next.otp) throw new Error('second issueOtp failed');
    clock.advance(180_000);
    expect(await engine.verifyOtp(next.txnId, sha256Hex(next.otp))).toMatchObject({ status: Status.INVALID_OTP });
  });

  test('wrong answers are counted: the 5th discards the OTP', async ({ engine }) => {
    const mobile = nextMobile();
    const issued = await engine.issueOtp(mobile, OWNER);
    if (!issued.ok || !issued.otp) throw new Error('issueOtp failed');
    const wrong = sha256Hex(issued.otp === '000000' ? '111111' : '000000');
    for (let i = 0; i < 4; i++) expect(await engine.verifyOtp(issued.txnId, wrong)).toMatchObject({ status: Status.INVALID_OTP });
    expect((await engine.verifyOtp(issued.txnId, sha256Hex(issued.otp))).ok).toBe(true);

    const again = await engine.issueOtp(nextMobile(), OWNER);
    if (!again.ok || !again.otp) throw new Error('issueOtp failed');
    for (let i = 0; i < 5; i++) expect(await engine.verifyOtp(again.txnId, wrong)).toMatchObject({ status: Status.INVALID_OTP });
    expect(await engine.verifyOtp(again.txnId, sha256Hex(again.otp))).toMatchObject({ status: Status.INVALID_OTP });
    // a txnId of another mobile, or garbage, is just an invalid OTP
    expect(await engine.verifyOtp('not-a-txn', sha256Hex(again.otp))).toMatchObject({ status: Status.INVALID_OTP });
  });

  test('50 OTPs per mobile from one address per 24 h; the 51st is refused until the 24 h end, and the account is not blocked', async ({
    engine,
    clock,
    redis,
  }) => {
    const mobile = nextMobile();
    for (let i = 1; i <= 50; i++) {
      expect(await engine.issueOtp(mobile, OWNER), `OTP ${i}`).toMatchObject({ ok: true, remainingToday: 50 - i });
      clock.advance(180_000);
    }
    // 50 × 180 s have passed since the first
    const refused = await engine.issueOtp(mobile, OWNER);
    expect(refused).toMatchObject({ ok: false, status: Status.OTP_REQUESTER_LIMIT, retryAfterMs: 86_400_000 - 50 * 180_000 });
    expect(await redis.exists(keys.blocked(engine.accountIdOf(mobile)))).toBe(0);
    clock.advance(86_400_000 - 50 * 180_000 - 1);
    expect(await engine.issueOtp(mobile, OWNER)).toMatchObject({ status: Status.OTP_REQUESTER_LIMIT, retryAfterMs: 1 });
    clock.advance(1);
    expect(await engine.issueOtp(mobile, OWNER)).toMatchObject({ ok: true, remainingToday: 49 });
  });

  test('one address gets 10 OTPs in 10 minutes whatever the mobiles; the 11th is refused with the time left, exactly to the millisecond', async ({
    engine,
    clock,
  }) => {
    for (let i = 1; i <= 10; i++) {
      expect(await engine.issueOtp(nextMobile(), SENDER), `OTP ${i}`).toMatchObject({ ok: true });
      clock.advance(30_000);
    }
    // 300 s into the window that opened with the first
    expect(await engine.issueOtp(nextMobile(), SENDER)).toMatchObject({ ok: false, status: Status.OTP_ADDRESS_LIMIT, retryAfterMs: 300_000 });
    // other addresses are not affected
    expect(await engine.issueOtp(nextMobile(), OWNER)).toMatchObject({ ok: true });
    clock.advance(299_999);
    expect(await engine.issueOtp(nextMobile(), SENDER)).toMatchObject({ status: Status.OTP_ADDRESS_LIMIT, retryAfterMs: 1 });
    clock.advance(1);
    expect(await engine.issueOtp(nextMobile(), SENDER)).toMatchObject({ ok: true });
    // a refused request counted nowhere: the new window has 9 left
    for (let i = 2; i <= 10; i++) expect(await engine.issueOtp(nextMobile(), SENDER), `OTP ${i} of the new window`).toMatchObject({ ok: true });
    expect(await engine.issueOtp(nextMobile(), SENDER)).toMatchObject({ status: Status.OTP_ADDRESS_LIMIT, retryAfterMs: 600_000 });
  });

  test('the whole country gets at most its per-minute number of OTPs; the next waits for the next minute', async ({ makeEngine, clock }) => {
    const engine = makeEngine({ country: countryWithOtp({ country_max_per_minute: 5 }) });
    // the fixture's clock starts on a whole minute; the requests come from five addresses
    clock.advance(12_345);
    for (let i = 1; i <= 5; i++) expect(await engine.issueOtp(nextMobile(), `192.0.2.${i}`), `OTP ${i}`).toMatchObject({ ok: true });
    expect(await engine.issueOtp(nextMobile(), '192.0.2.6')).toMatchObject({ ok: false, status: Status.OTP_COUNTRY_LIMIT, retryAfterMs: MINUTE - 12_345 });
    // test numbers send no SMS: they are not held back by it, and do not count toward it
    expect(await engine.issueOtp('9999000077', '192.0.2.7')).toMatchObject({ ok: true });
    clock.advance(MINUTE - 12_345 - 1);
    expect(await engine.issueOtp(nextMobile(), '192.0.2.6')).toMatchObject({ status: Status.OTP_COUNTRY_LIMIT, retryAfterMs: 1 });
    clock.advance(1);
    expect(await engine.issueOtp(nextMobile(), '192.0.2.6')).toMatchObject({ ok: true });
  });

  test('the attack: a stranger asking for OTPs for a citizen\'s number all day cannot block the account, delay the owner, or spoil the owner\'s OTP', async ({
    engine,
    clock,
    redis,
  }) => {
    const victim = nextMobile();
    const accountId = engine.accountIdOf(victim);
    // the stranger asks for an OTP for the victim's number: before, this put the owner into the cooldown
    expect(await engine.issueOtp(victim, STRANGER)).toMatchObject({ ok: true });
    clock.advance(100_000);
    const owners = await engine.issueOtp(victim, OWNER);
    if (!owners.ok || !owners.otp) throw new Error(`the owner got no OTP: ${JSON.stringify(owners)}`);
    // a newer OTP from the stranger, once the stranger's cooldown is over, does not replace the owner's
    clock.advance(80_000);
    expect(await engine.issueOtp(victim, STRANGER)).toMatchObject({ ok: true });
    expect(await engine.verifyOtp(owners.txnId, sha256Hex(owners.otp))).toMatchObject({ ok: true });

    // the stranger goes on all day, every time the cooldown allows, from two addresses: before, the
    // 51st request blocked the owner's account for 24 hours
    const strangers = [STRANGER, '198.51.100.67'];
    const refusals = new Map<Status, number>();
    for (let i = 0; i < 120; i++) {
      clock.advance(180_000);
      for (const address of strangers) {
        const outcome = await engine.issueOtp(victim, address);
        if (!outcome.ok) refusals.set(outcome.status, (refusals.get(outcome.status) ?? 0) + 1);
      }
    }
    // each stranger address got its 50, then was refused for itself; the account was never blocked
    expect([...refusals.keys()]).toEqual([Status.OTP_REQUESTER_LIMIT]);
    expect(await redis.exists(keys.blocked(accountId))).toBe(0);

    // the owner, right after the stranger's last request, gets an OTP and logs in
    const later = await engine.issueOtp(victim, OWNER);
    if (!later.ok || !later.otp) throw new Error(`the owner got no OTP: ${JSON.stringify(later)}`);
    expect(await engine.verifyOtp(later.txnId, sha256Hex(later.otp))).toMatchObject({ ok: true, accountId });
  });

  test('test numbers accept the fixed OTP and skip the cooldown and the per-address limit (load tests log in thousands from one address)', async ({
    engine,
  }) => {
    const a = await engine.issueOtp('9999123456', OWNER);
    const b = await engine.issueOtp('9999123456', OWNER);
    expect(a).toMatchObject({ ok: true, otp: null });
    expect(b).toMatchObject({ ok: true, otp: null });
    if (!b.ok) return;
    expect((await engine.verifyOtp(b.txnId, TEST_OTP_HASH)).ok).toBe(true);

    const logins = await Promise.all(Array.from({ length: 50 }, (_, i) => engine.issueOtp(`99991${String(i).padStart(5, '0')}`, SENDER)));
    expect(logins.every((l) => l.ok)).toBe(true);
    // nor do they use up the address's allowance for real numbers
    for (let i = 1; i <= 10; i++) expect(await engine.issueOtp(nextMobile(), SENDER), `real OTP ${i}`).toMatchObject({ ok: true });
    expect(await engine.issueOtp(nextMobile(), SENDER)).toMatchObject({ status: Status.OTP_ADDRESS_LIMIT });

    const real = await engine.issueOtp(nextMobile(), OWNER);
    if (!real.ok) throw new Error('issueOtp failed');
    const fixedWorks = real.otp === '123456';
    expect((await engine.verifyOtp(real.txnId, TEST_OTP_HASH)).ok).toBe(fixedWorks);
  });

  test('without test numbers configured (production), 9999… is an ordinary mobile', async ({ makeEngine }) => {
    const engine = makeEngine({ testMobiles: null });
    const issued = await engine.issueOtp('9999000009', OWNER);
    expect(issued).toMatchObject({ ok: true });
    if (!issued.ok) return;
    expect(issued.otp).toMatch(/^\d{6}$/);
    expect(await engine.issueOtp('9999000009', OWNER)).toMatchObject({ status: Status.OTP_COOLDOWN });
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
