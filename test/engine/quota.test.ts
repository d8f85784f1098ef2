import type { BookingEngine } from '../../engine/engine.js';
import { sha256Hex } from '../../engine/ids.js';
import { keys } from '../../engine/keys.js';
import { parseCountry, type Rules } from '../../engine/masterdata.js';
import { Status } from '../../engine/status.js';
import type { Country } from '../../engine/masterdata.js';
import { nextMobileOf, testCountries, testMobileOf } from '../support/countries.js';
import { describe, expect, test } from '../support/fixtures.js';

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

/** A country whose OTP rules differ from `base`'s by `otp`. */
function countryWithOtp(base: Country, otp: Partial<Rules['otp']>) {
  const data = base.data;
  return parseCountry({ ...data, rules: { ...data.rules, otp: { ...data.rules.otp, ...otp } } });
}

/**
 * The quotas and OTP limits for every country file in masterdata/, with each file's numbers (India's
 * demo: CoWIN's; Guyana's demo: longer OTPs, fewer attempts and OTPs a day, half the searches a day).
 */
describe.each(testCountries())('$name', ({ country }) => {
  test.override({ country });
  const rules = country.rules;
  const q = rules.search_quota;
  const otp = rules.otp;
  const testNumber = (n: number) => testMobileOf(country, n);
  const nextMobile = () => nextMobileOf(country);

  describe('search quota', () => {
    test(`the ${q.max_per_window}th search in ${q.window_seconds / 60} minutes is allowed, the next logs the user out`, async ({ engine }) => {
      const { accountId, sid } = await login(engine, testNumber(1));
      for (let i = 1; i <= q.max_per_window; i++) {
        const outcome = await engine.consumeSearchQuota(accountId, sid);
        expect(outcome, `search ${i}`).toMatchObject({ ok: true, remaining: q.max_per_window - i, remainingToday: q.max_per_day - i, resetMs: q.window_seconds * 1000 });
      }
      expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ ok: false, status: Status.QUOTA_LOGOUT, retryAfterMs: q.window_seconds * 1000 });
      // the token's login session is gone: the same token is now unauthenticated everywhere
      expect(await engine.isLoginLive(accountId, sid)).toBe(false);
      expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ ok: false, status: Status.UNAUTHENTICATED });
    });

    test('searches coalesced into one call per partition are decided exactly as the same searches one by one', async ({ engine }) => {
      // accounts of one partition, so that their searches share batches
      const logins: { accountId: string; sid: string }[] = [];
      for (let n = 100; logins.length < 6; n++) {
        const next = await login(engine, testNumber(n));
        if (!logins.length || engine.partitions.of(next.accountId) === engine.partitions.of(logins[0]!.accountId)) logins.push(next);
        if (n > 1000) throw new Error('no six accounts of one partition among 900 test numbers');
      }
      const [together, alone] = [logins.slice(0, 3), logins.slice(3)];
      // each account: its window's searches and three more, interleaved, all in one turn
      const order = Array.from({ length: q.max_per_window + 3 }, (_, i) => i).flatMap(() => [0, 1, 2]);
      const before = { ...engine.searchQuotas.counts, bySize: new Map(engine.searchQuotas.counts.bySize) };
      const coalesced = await Promise.all(order.map((a) => engine.consumeSearchQuota(together[a]!.accountId, together[a]!.sid)));
      const oneByOne: unknown[] = [];
      for (const a of order) oneByOne.push(await engine.consumeSearchQuota(alone[a]!.accountId, alone[a]!.sid));
      expect(coalesced).toEqual(oneByOne);
      // ok up to the window's limit, then a logout, then the token is dead
      const statuses = (outcomes: unknown[], a: number) => outcomes.filter((_, i) => order[i] === a).map((o) => (o as { status: number }).status);
      expect(statuses(coalesced, 0)).toEqual([...Array(q.max_per_window).fill(Status.OK), Status.QUOTA_LOGOUT, Status.UNAUTHENTICATED, Status.UNAUTHENTICATED]);
      // and they were coalesced: the concurrent ones in one batch, the sequential ones alone
      expect(engine.searchQuotas.counts.batches - before.batches).toBe(1 + order.length);
      expect(engine.searchQuotas.counts.bySize.get(order.length)).toBe((before.bySize.get(order.length) ?? 0) + 1);
    });

    test('logging in again does not reset the window: searches stay refused until the window that began with the first search ends', async ({
      engine,
      clock,
    }) => {
      const mobile = testNumber(5);
      const windowMs = q.window_seconds * 1000;
      const first = await login(engine, mobile);
      for (let i = 1; i <= q.max_per_window; i++) expect((await engine.consumeSearchQuota(first.accountId, first.sid)).ok, `search ${i}`).toBe(true);
      clock.advance(5 * MINUTE);
      expect(await engine.consumeSearchQuota(first.accountId, first.sid)).toMatchObject({ status: Status.QUOTA_LOGOUT, retryAfterMs: windowMs - 5 * MINUTE });

      // a new login at once: its first search is refused with the quota error and the time left
      const again = await login(engine, mobile);
      expect(await engine.consumeSearchQuota(again.accountId, again.sid)).toMatchObject({
        ok: false,
        status: Status.QUOTA_LOGOUT,
        retryAfterMs: windowMs - 5 * MINUTE,
      });
      // and so is every later login's, up to the last millisecond of the window
      clock.advance(windowMs - 5 * MINUTE - 1);
      const late = await login(engine, mobile);
      expect(await engine.consumeSearchQuota(late.accountId, late.sid)).toMatchObject({ status: Status.QUOTA_LOGOUT, retryAfterMs: 1 });

      // the window has ended: a new one opens with the next search; the day count kept the ones made
      clock.advance(1);
      const next = await login(engine, mobile);
      expect(await engine.consumeSearchQuota(next.accountId, next.sid)).toMatchObject({
        ok: true,
        remaining: q.max_per_window - 1,
        resetMs: windowMs,
        remainingToday: q.max_per_day - q.max_per_window - 1,
      });
    });

    test(`more than ${q.max_per_day} searches in ${q.day_seconds / 3600} hours blocks the account for ${q.block_seconds / 3600} hours`, async ({ engine, redis, clock }) => {
      const mobile = testNumber(2);
      const rounds = q.max_per_day / q.max_per_window;
      expect(Number.isInteger(rounds), 'the day holds a whole number of windows').toBe(true);
      let searches = 0;
      let last = { accountId: '', sid: '' };
      for (let round = 0; round < rounds; round++) {
        last = await login(engine, mobile);
        const { accountId, sid } = last;
        const answers = await Promise.all(Array.from({ length: q.max_per_window }, () => engine.consumeSearchQuota(accountId, sid)));
        expect(answers.every((a) => a.ok)).toBe(true);
        searches += q.max_per_window;
        // the one past a window's allowance logs out, until the one past the day's, which blocks
        if (round < rounds - 1) expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ status: Status.QUOTA_LOGOUT });
        clock.advance(q.window_seconds * 1000);
      }
      expect(searches).toBe(q.max_per_day);
      const { accountId, sid } = last;
      const blocked = await engine.consumeSearchQuota(accountId, sid);
      expect(blocked).toMatchObject({ ok: false, status: Status.ACCOUNT_BLOCKED, retryAfterMs: q.block_seconds * 1000 });
      const ttl = await redis.pttl(engine.accountKeys(accountId).blocked());
      expect(ttl).toBeGreaterThan(q.block_seconds * 1000 - 10_000);
      expect(ttl).toBeLessThanOrEqual(q.block_seconds * 1000);
      // blocked accounts can neither search nor log in
      expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ status: Status.ACCOUNT_BLOCKED });
      expect(await engine.issueOtp(mobile, OWNER)).toMatchObject({ status: Status.ACCOUNT_BLOCKED });
    });

    test('the window ends exactly when its configured length has passed (short window configured)', async ({ makeEngine, clock }) => {
      const data = country.data;
      const shortWindow = parseCountry({
        ...data,
        rules: { ...data.rules, search_quota: { ...data.rules.search_quota, window_seconds: 1, max_per_window: 2 } },
      });
      const engine = makeEngine({ country: shortWindow });
      const { accountId, sid } = await login(engine, testNumber(3));
      expect((await engine.consumeSearchQuota(accountId, sid)).ok).toBe(true);
      clock.advance(999);
      expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ ok: true, remaining: 0, resetMs: 1 });
      clock.advance(1);
      expect(await engine.consumeSearchQuota(accountId, sid)).toMatchObject({ ok: true, remaining: 1, resetMs: 1000 });
    });

    test('a newer login revokes the older token', async ({ engine }) => {
      const first = await login(engine, testNumber(4));
      const second = await login(engine, testNumber(4));
      expect(await engine.isLoginLive(first.accountId, first.sid)).toBe(false);
      expect(await engine.isLoginLive(second.accountId, second.sid)).toBe(true);
      expect(await engine.consumeSearchQuota(first.accountId, first.sid)).toMatchObject({ status: Status.UNAUTHENTICATED });
    });
  });

  describe('OTP limits', () => {
    const validityMs = otp.validity_seconds * 1000;
    const resendMs = otp.resend_after_seconds * 1000;
    const digits = new RegExp(`^\\d{${otp.length}}$`);

    test(`an OTP is valid for ${otp.validity_seconds} s, single use, and a new one only after ${otp.resend_after_seconds} s`, async ({ engine, clock }) => {
      const mobile = nextMobile();
      const issued = await engine.issueOtp(mobile, OWNER);
      if (!issued.ok || !issued.otp) throw new Error('issueOtp failed');
      expect(issued.otp).toMatch(digits);

      const early = await engine.issueOtp(mobile, OWNER);
      expect(early).toMatchObject({ ok: false, status: Status.OTP_COOLDOWN, retryAfterMs: resendMs });
      clock.advance(resendMs - 1);
      expect(await engine.issueOtp(mobile, OWNER)).toMatchObject({ status: Status.OTP_COOLDOWN, retryAfterMs: 1 });
      // still valid at the end of the cooldown
      expect((await engine.verifyOtp(issued.txnId, sha256Hex(issued.otp))).ok).toBe(true);
      expect(await engine.verifyOtp(issued.txnId, sha256Hex(issued.otp))).toMatchObject({ status: Status.INVALID_OTP });

      clock.advance(1);
      const next = await engine.issueOtp(mobile, OWNER);
      if (!next.ok || !next.otp) throw new Error('second issueOtp failed');
      clock.advance(validityMs);
      expect(await engine.verifyOtp(next.txnId, sha256Hex(next.otp))).toMatchObject({ status: Status.INVALID_OTP });
    });

    test(`wrong answers are counted: wrong answer ${otp.max_attempts} discards the OTP`, async ({ engine }) => {
      const mobile = nextMobile();
      const issued = await engine.issueOtp(mobile, OWNER);
      if (!issued.ok || !issued.otp) throw new Error('issueOtp failed');
      const zeros = '0'.repeat(otp.length);
      const wrong = sha256Hex(issued.otp === zeros ? '1'.repeat(otp.length) : zeros);
      for (let i = 0; i < otp.max_attempts - 1; i++) expect(await engine.verifyOtp(issued.txnId, wrong)).toMatchObject({ status: Status.INVALID_OTP });
      expect((await engine.verifyOtp(issued.txnId, sha256Hex(issued.otp))).ok).toBe(true);

      const again = await engine.issueOtp(nextMobile(), OWNER);
      if (!again.ok || !again.otp) throw new Error('issueOtp failed');
      for (let i = 0; i < otp.max_attempts; i++) expect(await engine.verifyOtp(again.txnId, wrong)).toMatchObject({ status: Status.INVALID_OTP });
      expect(await engine.verifyOtp(again.txnId, sha256Hex(again.otp))).toMatchObject({ status: Status.INVALID_OTP });
      // a txnId of another mobile, or garbage, is just an invalid OTP
      expect(await engine.verifyOtp('not-a-txn', sha256Hex(again.otp))).toMatchObject({ status: Status.INVALID_OTP });
    });

    test(`${otp.max_per_day} OTPs per mobile from one address per day; the next is refused until the day ends, and the account is not blocked`, async ({
      engine,
      clock,
      redis,
    }) => {
      const dayMs = q.day_seconds * 1000;
      const mobile = nextMobile();
      for (let i = 1; i <= otp.max_per_day; i++) {
        expect(await engine.issueOtp(mobile, OWNER), `OTP ${i}`).toMatchObject({ ok: true, remainingToday: otp.max_per_day - i });
        clock.advance(resendMs);
      }
      // max_per_day cooldowns have passed since the first
      const spent = otp.max_per_day * resendMs;
      const refused = await engine.issueOtp(mobile, OWNER);
      expect(refused).toMatchObject({ ok: false, status: Status.OTP_REQUESTER_LIMIT, retryAfterMs: dayMs - spent });
      expect(await redis.exists(engine.accountKeys(engine.accountIdOf(mobile)).blocked())).toBe(0);
      clock.advance(dayMs - spent - 1);
      expect(await engine.issueOtp(mobile, OWNER)).toMatchObject({ status: Status.OTP_REQUESTER_LIMIT, retryAfterMs: 1 });
      clock.advance(1);
      expect(await engine.issueOtp(mobile, OWNER)).toMatchObject({ ok: true, remainingToday: otp.max_per_day - 1 });
    });

    test(`one address gets ${otp.per_address_max} OTPs in ${otp.per_address_window_seconds} s whatever the mobiles; the next is refused with the time left, exactly to the millisecond`, async ({
      engine,
      clock,
    }) => {
      const windowMs = otp.per_address_window_seconds * 1000;
      // the allowance spread over the first half of the window
      const step = Math.floor(windowMs / (2 * otp.per_address_max));
      for (let i = 1; i <= otp.per_address_max; i++) {
        expect(await engine.issueOtp(nextMobile(), SENDER), `OTP ${i}`).toMatchObject({ ok: true });
        clock.advance(step);
      }
      const left = windowMs - otp.per_address_max * step;
      expect(await engine.issueOtp(nextMobile(), SENDER)).toMatchObject({ ok: false, status: Status.OTP_ADDRESS_LIMIT, retryAfterMs: left });
      // other addresses are not affected
      expect(await engine.issueOtp(nextMobile(), OWNER)).toMatchObject({ ok: true });
      clock.advance(left - 1);
      expect(await engine.issueOtp(nextMobile(), SENDER)).toMatchObject({ status: Status.OTP_ADDRESS_LIMIT, retryAfterMs: 1 });
      clock.advance(1);
      expect(await engine.issueOtp(nextMobile(), SENDER)).toMatchObject({ ok: true });
      // a refused request counted nowhere: the new window has the rest of its allowance
      for (let i = 2; i <= otp.per_address_max; i++) expect(await engine.issueOtp(nextMobile(), SENDER), `OTP ${i} of the new window`).toMatchObject({ ok: true });
      expect(await engine.issueOtp(nextMobile(), SENDER)).toMatchObject({ status: Status.OTP_ADDRESS_LIMIT, retryAfterMs: windowMs });
    });

    test('the whole country gets at most its per-minute number of OTPs; the next waits for the next minute', async ({ makeEngine, clock }) => {
      const engine = makeEngine({ country: countryWithOtp(country, { country_max_per_minute: 5 }) });
      // the fixture's clock starts on a whole minute; the requests come from five addresses
      clock.advance(12_345);
      for (let i = 1; i <= 5; i++) expect(await engine.issueOtp(nextMobile(), `192.0.2.${i}`), `OTP ${i}`).toMatchObject({ ok: true });
      expect(await engine.issueOtp(nextMobile(), '192.0.2.6')).toMatchObject({ ok: false, status: Status.OTP_COUNTRY_LIMIT, retryAfterMs: MINUTE - 12_345 });
      // test numbers send no SMS: they are not held back by it, and do not count toward it
      expect(await engine.issueOtp(testNumber(77), '192.0.2.7')).toMatchObject({ ok: true });
      clock.advance(MINUTE - 12_345 - 1);
      expect(await engine.issueOtp(nextMobile(), '192.0.2.6')).toMatchObject({ status: Status.OTP_COUNTRY_LIMIT, retryAfterMs: 1 });
      clock.advance(1);
      expect(await engine.issueOtp(nextMobile(), '192.0.2.6')).toMatchObject({ ok: true });
    });

    test("the attack: a stranger asking for OTPs for a citizen's number all day cannot block the account, delay the owner, or spoil the owner's OTP", async ({
      engine,
      clock,
      redis,
    }) => {
      const victim = nextMobile();
      const accountId = engine.accountIdOf(victim);
      // the stranger asks for an OTP for the victim's number: before, this put the owner into the cooldown
      expect(await engine.issueOtp(victim, STRANGER)).toMatchObject({ ok: true });
      const partway = Math.floor(resendMs * 0.55);
      clock.advance(partway);
      const owners = await engine.issueOtp(victim, OWNER);
      if (!owners.ok || !owners.otp) throw new Error(`the owner got no OTP: ${JSON.stringify(owners)}`);
      // a newer OTP from the stranger, once the stranger's cooldown is over, does not replace the owner's
      clock.advance(resendMs - partway);
      expect(await engine.issueOtp(victim, STRANGER)).toMatchObject({ ok: true });
      expect(await engine.verifyOtp(owners.txnId, sha256Hex(owners.otp))).toMatchObject({ ok: true });

      // the stranger goes on, every time the cooldown allows, from two addresses, well past its day
      // limit: before, the request past the limit blocked the owner's account for 24 hours
      const strangers = [STRANGER, '198.51.100.67'];
      const refusals = new Map<Status, number>();
      for (let i = 0; i < otp.max_per_day * 2 + 20; i++) {
        clock.advance(resendMs);
        for (const address of strangers) {
          const outcome = await engine.issueOtp(victim, address);
          if (!outcome.ok) refusals.set(outcome.status, (refusals.get(outcome.status) ?? 0) + 1);
        }
      }
      // each stranger address got its allowance, then was refused for itself; the account was never blocked
      expect([...refusals.keys()]).toEqual([Status.OTP_REQUESTER_LIMIT]);
      expect(await redis.exists(engine.accountKeys(accountId).blocked())).toBe(0);

      // the owner, right after the stranger's last request, gets an OTP and logs in
      const later = await engine.issueOtp(victim, OWNER);
      if (!later.ok || !later.otp) throw new Error(`the owner got no OTP: ${JSON.stringify(later)}`);
      expect(await engine.verifyOtp(later.txnId, sha256Hex(later.otp))).toMatchObject({ ok: true, accountId });
    });

    test('test numbers accept the fixed OTP and skip the cooldown and the per-address limit (load tests log in thousands from one address)', async ({
      engine,
    }) => {
      const a = await engine.issueOtp(testNumber(1234), OWNER);
      const b = await engine.issueOtp(testNumber(1234), OWNER);
      expect(a).toMatchObject({ ok: true, otp: null });
      expect(b).toMatchObject({ ok: true, otp: null });
      if (!b.ok) return;
      expect((await engine.verifyOtp(b.txnId, TEST_OTP_HASH)).ok).toBe(true);

      const logins = await Promise.all(Array.from({ length: 50 }, (_, i) => engine.issueOtp(testNumber(100 + i), SENDER)));
      expect(logins.every((l) => l.ok)).toBe(true);
      // nor do they use up the address's allowance for real numbers
      for (let i = 1; i <= otp.per_address_max; i++) expect(await engine.issueOtp(nextMobile(), SENDER), `real OTP ${i}`).toMatchObject({ ok: true });
      expect(await engine.issueOtp(nextMobile(), SENDER)).toMatchObject({ status: Status.OTP_ADDRESS_LIMIT });

      const real = await engine.issueOtp(nextMobile(), OWNER);
      if (!real.ok) throw new Error('issueOtp failed');
      const fixedWorks = real.otp === '123456';
      expect((await engine.verifyOtp(real.txnId, TEST_OTP_HASH)).ok).toBe(fixedWorks);
    });

    test("without test numbers configured (production), a number with the demo's test prefix is an ordinary mobile", async ({ makeEngine }) => {
      const engine = makeEngine({ testMobiles: null });
      const issued = await engine.issueOtp(testNumber(9), OWNER);
      expect(issued).toMatchObject({ ok: true });
      if (!issued.ok) return;
      expect(issued.otp).toMatch(digits);
      expect(await engine.issueOtp(testNumber(9), OWNER)).toMatchObject({ status: Status.OTP_COOLDOWN });
    });
  });

  describe('public API limit per address', () => {
    const limit = rules.public_rate_limit;
    test(`${limit.max_calls} calls per ${limit.window_seconds / 60} minutes are allowed; the next is refused with the time to wait`, async ({ engine }) => {
      const answers = await Promise.all(Array.from({ length: limit.max_calls }, () => engine.consumePublicQuota('203.0.113.7')));
      expect(answers.every((a) => a.ok)).toBe(true);
      expect(answers.map((a) => (a.ok ? a.remaining : -1)).sort((x, y) => x - y)).toEqual(Array.from({ length: limit.max_calls }, (_, i) => i));
      const refused = await engine.consumePublicQuota('203.0.113.7');
      expect(refused).toMatchObject({ ok: false, status: Status.RATE_LIMITED });
      if (!refused.ok) {
        expect(refused.retryAfterMs).toBeGreaterThan(limit.window_seconds * 1000 - 10_000);
        expect(refused.retryAfterMs).toBeLessThanOrEqual(limit.window_seconds * 1000);
      }
      expect((await engine.consumePublicQuota('203.0.113.8')).ok).toBe(true);
    });
  });
});
