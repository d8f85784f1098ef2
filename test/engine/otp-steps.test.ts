/**
 * Issuing an OTP is two single-slot steps (engine.issueOtp): the gate on `{otp}` (the address's and
 * the country's limits, the txnId's record), then the issue in the account's partition. What each
 * refusal leaves, and what a stop between the steps leaves.
 */
import { sha256Hex, newTxnId } from '../../engine/ids.js';
import { keys } from '../../engine/keys.js';
import { parseCountry } from '../../engine/masterdata.js';
import { allKeys } from '../../engine/redis.js';
import { Status } from '../../engine/status.js';
import { nextMobileOf } from '../support/countries.js';
import { describe, expect, test } from '../support/fixtures.js';

const OWNER = '192.0.2.10';
const MINUTE = 60_000;

describe('issuing an OTP in two steps', () => {
  // KEYS takes a pattern, which ioredis does not prefix
  test('a refusal at the gate writes nothing in the account partition', async ({ makeEngine, redis, country, prefix }) => {
    const engine = makeEngine({ country: parseCountry({ ...country.data, rules: { ...country.data.rules, otp: { ...country.rules.otp, per_address_max: 1 } } }) });
    expect((await engine.issueOtp(nextMobileOf(country), OWNER)).ok).toBe(true);
    const mobile = nextMobileOf(country);
    expect(await engine.issueOtp(mobile, OWNER)).toMatchObject({ ok: false, status: Status.OTP_ADDRESS_LIMIT });
    const account = engine.accountKeys(engine.accountIdOf(mobile));
    expect(await redis.exists(account.otpRequester(OWNER))).toBe(0);
    expect(await redis.keys(`${prefix}${account.pendingOtp('*')}`)).toEqual([]);
  });

  test("a refusal in the account's partition gives back what the gate counted: refused requests use up no address or country allowance", async ({
    makeEngine,
    redis,
    clock,
    country,
    prefix,
  }) => {
    const rules = country.rules.otp;
    const engine = makeEngine({
      country: parseCountry({ ...country.data, rules: { ...country.data.rules, otp: { ...rules, per_address_max: 3, country_max_per_minute: 3 } } }),
    });
    const minute = Math.floor(clock.now() / MINUTE);
    const mobile = nextMobileOf(country);
    expect((await engine.issueOtp(mobile, OWNER)).ok).toBe(true);
    // a citizen tapping "resend" in the cooldown, many times: each is refused by the account
    for (let i = 0; i < 10; i++) expect(await engine.issueOtp(mobile, OWNER)).toMatchObject({ ok: false, status: Status.OTP_COOLDOWN });
    // a blocked account is refused after the gate too
    const blockedMobile = nextMobileOf(country);
    await redis.set(engine.accountKeys(engine.accountIdOf(blockedMobile)).blocked(), 'search', 'PX', 3_600_000);
    expect(await engine.issueOtp(blockedMobile, OWNER)).toMatchObject({ ok: false, status: Status.ACCOUNT_BLOCKED });

    expect(await redis.hget(keys.otpAddressWindow(OWNER), 'count')).toBe('1');
    expect(await redis.get(keys.otpCountryMinute(minute))).toBe('1');
    expect(await allKeys(redis, keys.otpTransaction('*'))).toHaveLength(1); // the one issued (on every master of a cluster)
    // so the address and the country still have their allowance: two more
    expect((await engine.issueOtp(nextMobileOf(country), OWNER)).ok).toBe(true);
    expect((await engine.issueOtp(nextMobileOf(country), OWNER)).ok).toBe(true);
    expect(await engine.issueOtp(nextMobileOf(country), OWNER)).toMatchObject({ ok: false, status: Status.OTP_ADDRESS_LIMIT });
  });

  test('a give-back takes only from the address window it was counted in', async ({ engine, redis, clock, country }) => {
    const windowMs = country.rules.otp.per_address_window_seconds * 1000;
    const gate = (txnId: string) =>
      engine.scripts.run(
        'passOtpGate',
        [keys.otpAddressWindow(OWNER), keys.otpCountryMinute(Math.floor(clock.now() / MINUTE)), keys.otpTransaction(txnId)],
        [clock.now(), 300_000, 100, windowMs, 1000, 0, '0', 'account|1234'],
      );
    const first = newTxnId();
    const counted = await gate(first);
    expect(counted).toEqual([Status.OK, String(clock.now())]);
    clock.advance(windowMs);
    await gate(newTxnId()); // opens a new window
    await engine.scripts.run('refundOtpGate', [keys.otpAddressWindow(OWNER), keys.otpCountryMinute(0), keys.otpTransaction(first)], [counted[1] as string]);
    expect(await redis.hget(keys.otpAddressWindow(OWNER), 'count')).toBe('1');
    expect(await redis.exists(keys.otpTransaction(first))).toBe(0);
  });

  test('a stop between the steps (the gate passed, the OTP never issued) leaves a txnId whose confirmation fails cleanly', async ({ engine, redis, clock, country }) => {
    const mobile = nextMobileOf(country);
    const accountId = engine.accountIdOf(mobile);
    const txnId = newTxnId();
    // the gate step exactly as engine.issueOtp runs it, and then nothing: a crash, or Redis lost
    const gate = await engine.scripts.run(
      'passOtpGate',
      [keys.otpAddressWindow(OWNER), keys.otpCountryMinute(Math.floor(clock.now() / MINUTE)), keys.otpTransaction(txnId)],
      [clock.now(), 300_000, 100, 3_600_000, 1000, clock.now() + MINUTE, '0', `${accountId}|${mobile.slice(-4)}`],
    );
    expect(gate[0]).toBe(Status.OK);
    for (const guess of ['000000', '123456']) expect(await engine.verifyOtp(txnId, sha256Hex(guess))).toEqual({ ok: false, status: Status.INVALID_OTP });
    expect(await redis.exists(engine.accountKeys(accountId).authSession())).toBe(0);
    // the citizen asks again and logs in
    const issued = await engine.issueOtp(mobile, OWNER);
    if (!issued.ok || !issued.otp) throw new Error('issueOtp failed');
    expect((await engine.verifyOtp(issued.txnId, sha256Hex(issued.otp))).ok).toBe(true);
  });
});
