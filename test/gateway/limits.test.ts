/**
 * The per-address limit on the public API, the per-account search quota on protected search, and
 * the limits on OTP requests (per address, per country, per mobile from one address), each tried the
 * way an abuser would, from several loopback addresses.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCowinDate } from '../../engine/dates.js';
import { sha256Hex } from '../../engine/ids.js';
import { keys } from '../../engine/keys.js';
import type { Rules } from '../../engine/masterdata.js';
import { nextMobile } from '../support/booking.js';
import { demoCountry } from '../support/fixtures.js';
import { addressForLimits } from '../../gateway/guards.js';
import { CowinClient, postFrom, startGateway, startSmsProvider, testMobile, type RunningGateway } from '../support/gateway.js';

let gateway: RunningGateway;
let sms: Awaited<ReturnType<typeof startSmsProvider>>;
beforeAll(async () => {
  sms = await startSmsProvider();
  gateway = await startGateway({ TEEKA_SMS_WEBHOOK: sms.url });
});
afterAll(async () => {
  await gateway?.stop();
  await sms?.stop();
});

it('the 101st public call from one address in 5 minutes → 429 with Retry-After', async () => {
  const client = new CowinClient(gateway.url);
  const date = formatCowinDate(gateway.engine.today());
  const paths = ['/api/v2/admin/location/states', `/api/v2/appointment/sessions/public/calendarByDistrict?district_id=140&date=${date}`];
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => client.get(paths[i % 2]!)));
  expect(answers.map((a) => a.status)).toEqual(Array(100).fill(200));
  const refused = await client.get(paths[1]!);
  expect(refused.status).toBe(429);
  expect(refused.json.errorCode).toBe('USRRES0429');
  const retryAfter = Number(refused.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(290);
  expect(retryAfter).toBeLessThanOrEqual(300);
  // protected search is limited per user, not per address: still open to a logged-in citizen
  const citizen = await new CowinClient(gateway.url).login(testMobile());
  expect((await citizen.get(`/api/v2/appointment/sessions/calendarByDistrict?district_id=140&date=${date}`)).status).toBe(200);
});

it('the 21st protected search in 15 minutes logs the user out, and logging in again does not give 20 more before the window ends', async () => {
  const mobile = testMobile();
  const citizen = await new CowinClient(gateway.url).login(mobile);
  const date = formatCowinDate(gateway.engine.today());
  const search = () => citizen.get(`/api/v2/appointment/sessions/findByDistrict?district_id=294&date=${date}`);
  for (let i = 1; i <= 20; i++) {
    const answer = await search();
    expect(answer.status, `search ${i}`).toBe(200);
    expect(answer.headers.get('x-ratelimit-remaining')).toBe(String(20 - i));
  }
  const twentyFirst = await search();
  expect(twentyFirst.status).toBe(401);
  expect(twentyFirst.json.errorCode).toBe('USRAUT0030');
  // the token is revoked everywhere, not just for search
  const after = await citizen.get('/api/v2/appointment/beneficiaries');
  expect(after.status).toBe(401);
  expect(after.json.error).toBe('Unauthenticated access!');

  // logging in again works, but the account's window is still used up: the next search is refused
  // with the quota error and the time left in the window
  await citizen.login(mobile);
  const again = await search();
  expect(again.status).toBe(401);
  expect(again.json.errorCode).toBe('USRAUT0030');
  const retryAfter = Number(again.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(880);
  expect(retryAfter).toBeLessThanOrEqual(900);

  // the 15 minutes pass (the gateway runs on the real clock: the window's start is moved back by
  // its length), and searches work again after a new login
  await gateway.redis.hincrby(gateway.engine.accountKeys(gateway.engine.accountIdOf(mobile)).searchWindow(), 'since', -900_000);
  await citizen.login(mobile);
  const reopened = await search();
  expect(reopened.status).toBe(200);
  expect(reopened.headers.get('x-ratelimit-remaining')).toBe('19');
});

it('per-address limits count IPv4 as it is and IPv6 by its /64 (one client holds a whole /64)', () => {
  expect(addressForLimits('203.0.113.7')).toBe('203.0.113.7');
  // how uWS writes addresses on a dual-stack listener: IPv4-mapped, and IPv6 in full
  expect(addressForLimits('0000:0000:0000:0000:0000:ffff:7f00:0001')).toBe('127.0.0.1');
  expect(addressForLimits('2001:0db8:0001:0002:0000:0000:0000:0001')).toBe('2001:0db8:0001:0002::/64');
  expect(addressForLimits('2001:0DB8:0001:0002:ffff:0000:abcd:0009')).toBe('2001:0db8:0001:0002::/64');
});

const countryDirs: string[] = [];
afterAll(() => countryDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** The demo country with other OTP rules, as a country file of its own. */
function countryFileWithOtp(otp: Partial<Rules['otp']>): string {
  const demo = demoCountry().data;
  const dir = mkdtempSync(join(tmpdir(), 'teeka-country-'));
  countryDirs.push(dir);
  const file = join(dir, 'country.json');
  writeFileSync(file, JSON.stringify({ ...demo, rules: { ...demo.rules, otp: { ...demo.rules.otp, ...otp } } }));
  return file;
}

const generate = (base: string, from: string, mobile: string, path = '/api/v2/auth/generateMobileOTP') => postFrom(from, `${base}${path}`, { mobile });

describe('OTP requests, from several addresses', () => {
  let otpGateway: RunningGateway;
  let otpSms: Awaited<ReturnType<typeof startSmsProvider>>;
  beforeAll(async () => {
    otpSms = await startSmsProvider();
    // no resend cooldown and 3 OTPs per mobile per address per day, so a day of abuse fits in a test
    const country = countryFileWithOtp({ resend_after_seconds: 0, max_per_day: 3, per_address_max: 5 });
    otpGateway = await startGateway({ TEEKA_COUNTRY: country, TEEKA_SMS_WEBHOOK: otpSms.url });
  });
  afterAll(async () => {
    await otpGateway?.stop();
    await otpSms?.stop();
  });

  it('one address gets 5 OTPs (the configured number) in 10 minutes, whatever the mobiles; the 6th → 429 with Retry-After', async () => {
    const sender = '127.0.0.3';
    const paths = ['/api/v2/auth/generateMobileOTP', '/api/v2/auth/public/generateOTP'];
    for (let i = 1; i <= 5; i++) {
      const answer = await generate(otpGateway.url, sender, nextMobile(), paths[i % 2]);
      expect(answer.status, `OTP ${i}`).toBe(200);
    }
    const refused = await generate(otpGateway.url, sender, nextMobile());
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual({ errorCode: 'USRAUT0017', error: 'Too many OTPs were requested from your network, please retry later' });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(590);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect((await generate(otpGateway.url, sender, nextMobile(), paths[1])).status).toBe(429);
    // only what was sent by SMS counts: the refused requests sent none
    expect(otpSms.sent.length).toBe(5);
    // another address is not affected
    expect((await generate(otpGateway.url, '127.0.0.4', nextMobile())).status).toBe(200);
    // test numbers send no SMS: load tests log in thousands of them from one address
    const logins = await Promise.all(Array.from({ length: 20 }, () => generate(otpGateway.url, sender, testMobile())));
    expect(logins.map((l) => l.status)).toEqual(Array(20).fill(200));
  });

  it('the attack: a stranger asking for OTPs for a citizen\'s number cannot block the account or keep the owner from logging in', async () => {
    const victim = nextMobile();
    const stranger = '127.0.0.5';
    // before: the 4th request (max_per_day + 1) blocked the account for 24 hours
    for (let i = 1; i <= 3; i++) expect((await generate(otpGateway.url, stranger, victim)).status, `stranger's OTP ${i}`).toBe(200);
    const cut = await generate(otpGateway.url, stranger, victim);
    expect(cut.status).toBe(429);
    expect(cut.json.errorCode).toBe('USRAUT0016');
    expect(Number(cut.headers['retry-after'])).toBeGreaterThan(86_000);
    // from another address too: each fills only its own count
    for (let i = 1; i <= 4; i++) await generate(otpGateway.url, '127.0.0.6', victim);

    // the owner, right after, from the owner's address: an OTP by SMS, and a login with it
    const owner = new CowinClient(otpGateway.url);
    const issued = await owner.post('/api/v2/auth/generateMobileOTP', { mobile: victim });
    expect(issued.status).toBe(200);
    const received = otpSms.sent.filter((m) => m.mobile === victim).at(-1)!;
    const confirmed = await owner.post('/api/v2/auth/validateMobileOtp', { otp: sha256Hex(received.otp), txnId: issued.json.txnId });
    expect(confirmed.status).toBe(200);
    expect(confirmed.json.token.split('.')).toHaveLength(3);
    expect(await otpGateway.redis.exists(otpGateway.engine.accountKeys(otpGateway.engine.accountIdOf(victim)).blocked())).toBe(0);
  });
});

it('the attack on the resend cooldown: a stranger\'s OTP request does not make the owner wait', async () => {
  const victim = nextMobile();
  expect((await generate(gateway.url, '127.0.0.7', victim)).status).toBe(200);
  // before: 429 USRAUT0015 for 180 s, renewed by the stranger every 180 s
  const owner = new CowinClient(gateway.url);
  const issued = await owner.post('/api/v2/auth/generateMobileOTP', { mobile: victim });
  expect(issued.status).toBe(200);
  // the stranger's own cooldown holds
  const again = await generate(gateway.url, '127.0.0.7', victim);
  expect(again.status).toBe(429);
  expect(again.json.errorCode).toBe('USRAUT0015');
  // two SMS reached the phone; the owner's is the second
  const received = sms.sent.filter((m) => m.mobile === victim);
  expect(received).toHaveLength(2);
  const confirmed = await owner.post('/api/v2/auth/validateMobileOtp', { otp: sha256Hex(received[1]!.otp), txnId: issued.json.txnId });
  expect(confirmed.status).toBe(200);
});

it('the whole country gets its per-minute number of OTPs; the next → 429 with Retry-After until the minute ends', async () => {
  const capped = await startGateway({ TEEKA_COUNTRY: countryFileWithOtp({ country_max_per_minute: 2 }) });
  try {
    // counted per clock minute: should the minute turn during the burst, the next burst shows the cap
    let refused: Awaited<ReturnType<typeof postFrom>> | undefined;
    for (let attempt = 0; attempt < 2 && !refused; attempt++) {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await generate(capped.url, `127.0.1.${10 * attempt + i + 1}`, nextMobile()));
      if (answers[2]!.status === 429) refused = answers[2];
      else expect(answers.map((a) => a.status), 'a minute turned during the burst').toEqual([200, 200, 200]);
    }
    expect(refused?.status).toBe(429);
    expect(refused?.json).toEqual({ errorCode: 'USRAUT0018', error: 'OTP service is busy, please retry in a minute' });
    const retryAfter = Number(refused?.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // test numbers send no SMS and are not held back
    expect((await generate(capped.url, '127.0.1.30', testMobile())).status).toBe(200);
  } finally {
    await capped.stop();
  }
});
