/**
 * What a gateway thread answers from memory, proved on a Redis of the test's own (so its
 * `INFO commandstats` counts this gateway's commands only): a full session's refusals, revoked
 * tokens and quota blocks cost no script and no login read; a cancel's seat, a new login and a quota
 * logout reach every thread (two threads, new connections) within a bounded time; a block is
 * answered until it ends, and then the script runs again; a gateway that starts after the
 * revocation stream was trimmed asks Redis about the tokens older than what it can see.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCowinDate } from '../../engine/dates.js';
import { BookingEngine } from '../../engine/engine.js';
import { sha256Hex } from '../../engine/ids.js';
import { keys } from '../../engine/keys.js';
import { PartitionedBooking } from '../../engine/partitioned-booking.js';
import { signToken } from '../../engine/tokens.js';
import { processClock } from '../support/clock.js';
import { demoCountry } from '../support/fixtures.js';
import { partitionedAccount } from '../support/partitioned.js';
import { CowinClient, requestOnNewConnection, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';
import { PrivateRedis } from '../worker/support.js';

const BLOCK_SECONDS = 2;
const PUBLIC_MAX_CALLS = 5;
/**
 * How long a change may take to reach every thread here, counting the rounds of 20 new connections
 * that look for it. Measured: milliseconds (docs/performance.md); the bound leaves room for a
 * loaded CI machine that stalls a thread for a second or two.
 */
const PROPAGATION_BOUND_MS = 3000;

let privateRedis: PrivateRedis;
let gateway: RunningGateway;
let redis: Redis;
let engine: BookingEngine;
let countryDir: string;

beforeAll(async () => {
  privateRedis = await PrivateRedis.start([]);
  const demo = demoCountry().data;
  countryDir = mkdtempSync(join(tmpdir(), 'teeka-country-'));
  const countryFile = join(countryDir, 'country.json');
  // blocks that end within the test, and a public limit a test reaches quickly
  writeFileSync(
    countryFile,
    JSON.stringify({
      ...demo,
      rules: {
        ...demo.rules,
        search_quota: { ...demo.rules.search_quota, block_seconds: BLOCK_SECONDS },
        public_rate_limit: { ...demo.rules.public_rate_limit, max_calls: PUBLIC_MAX_CALLS },
      },
    }),
  );
  gateway = await startGateway({ REDIS_URL: privateRedis.url, TEEKA_COUNTRY: countryFile, GATEWAY_THREADS: '2' });
  redis = new Redis(privateRedis.url, { keyPrefix: gateway.prefix });
  engine = new BookingEngine(redis, { country: demoCountry(), secret: 'teeka-demo-secret-do-not-use-in-production', clock: processClock });
  // a thread answers from memory for tokens issued after it started following the revocations
  // (plus a margin: a token's iat is in whole seconds): log in only after that
  await sleep(3100);
}, 30_000);

afterAll(async () => {
  redis?.disconnect();
  await gateway?.stop();
  await privateRedis?.destroy();
  if (countryDir) rmSync(countryDir, { recursive: true, force: true });
});

/** Calls of each Redis command since the private Redis started. */
async function commandCalls(): Promise<Record<string, number>> {
  const text = String(await redis.call('INFO', 'commandstats'));
  const calls: Record<string, number> = {};
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2]);
  return calls;
}

/** Script calls (EVALSHA, EVAL) and login-session reads (HGET) made while `work` runs. */
async function redisCallsDuring<T>(work: () => Promise<T>): Promise<{ result: T; scripts: number; hget: number }> {
  const before = await commandCalls();
  const result = await work();
  const after = await commandCalls();
  const delta = (command: string) => (after[command] ?? 0) - (before[command] ?? 0);
  return { result, scripts: delta('evalsha') + delta('eval'), hget: delta('hget') };
}

/** The gateway's aggregated metrics (once a second) until `metric` reaches `atLeast`. */
async function metricReaches(metric: string, atLeast: number): Promise<number> {
  let value = 0;
  await expect
    .poll(
      async () => {
        const text = await (await fetch(`${gateway.url}/metrics`)).text();
        value = Number(text.split('\n').find((line) => line.startsWith(metric))?.split(' ').pop() ?? 0);
        return value;
      },
      { timeout: 5000, interval: 200 },
    )
    .toBeGreaterThanOrEqual(atLeast);
  return value;
}

/** Send `request` until `done(answer)`, at most `boundMs`; the ms it took. */
async function until<T>(request: () => Promise<T>, done: (answer: T) => boolean, boundMs = PROPAGATION_BOUND_MS): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (done(await request())) return performance.now() - started;
    if (performance.now() - started > boundMs) throw new Error(`not done within ${boundMs} ms`);
  }
}

async function citizenWith(beneficiaries: number): Promise<{ client: CowinClient; ids: string[] }> {
  const client = await new CowinClient(gateway.url).login(testMobile());
  const ids: string[] = [];
  for (let i = 0; i < beneficiaries; i++) ids.push(await client.addBeneficiary('Memory Citizen', 1980 + i, testPhotoId()));
  return { client, ids };
}

const center = () => demoCountry().data.centers[0]!;
const slots = () => demoCountry().slotsOf(center());

let sessionsPublished = 0;
/** A session of its own (the next day without one), with dose-1 seats only. */
async function publish(capacityDose1: number, slotCapacity: number[]): Promise<string> {
  sessionsPublished += 1;
  const published = await engine.publishSession({
    center_id: center().center_id,
    date: engine.today() + sessionsPublished,
    vaccine: 'COVISHIELD',
    min_age_limit: 18,
    capacity_dose1: capacityDose1,
    capacity_dose2: 0,
    slot_capacity: slotCapacity,
  });
  if (!published.ok) throw new Error(`publishSession: ${published.status}`);
  return published.sessionId;
}

describe('a session of the partitioned booking', () => {
  it('reaches every thread through its partition’s stream: shown in searches, its seats followed, refused from memory once full', async () => {
    const booking = new PartitionedBooking(engine);
    const date = engine.today() + 50;
    const published = await booking.publishSession({ center_id: center().center_id, date, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 1, capacity_dose2: 0 });
    if (!published.ok) throw new Error(`publishSession: ${published.status}`);
    const { sessionId } = published;
    expect(engine.partitions.tagOf(sessionId)).not.toBe('{bk}');
    // a protected search on a new connection (either thread): the session's dose-1 seats, or undefined while unknown
    const seatsShown = async (client: CowinClient) => {
      const answer = await requestOnNewConnection('GET', `${gateway.url}/api/v2/appointment/sessions/calendarByCenter?center_id=${center().center_id}&date=${formatCowinDate(date)}`, {
        token: client.token,
      });
      expect(answer.status).toBe(200);
      return answer.json.centers?.sessions?.find((s: { session_id: string }) => s.session_id === sessionId)?.available_capacity_dose1 as number | undefined;
    };
    // few searches per citizen (the quota is 20 per 15 minutes): one every 100 ms
    const seenWithin = async (client: CowinClient, seats: number) =>
      until(
        async () => {
          const shown = await seatsShown(client);
          if (shown !== seats) await sleep(100);
          return shown;
        },
        (shown) => shown === seats,
      );
    expect(await seenWithin((await citizenWith(0)).client, 1)).toBeLessThan(PROPAGATION_BOUND_MS);

    const holder = await partitionedAccount(engine, 1);
    const booked = await booking.book({ accountId: holder.accountId, sessionId, slot: slots()[0]!, dose: 1, beneficiaryIds: holder.beneficiaryIds });
    expect(booked.ok).toBe(true);
    const watcher = (await citizenWith(0)).client;
    expect(await seenWithin(watcher, 0)).toBeLessThan(PROPAGATION_BOUND_MS);
    // the other thread too, once a body it rendered before the change is past the search cache's 250 ms (gateway/search.ts)
    await sleep(300);
    for (let i = 0; i < 4; i++) expect(await seatsShown(watcher)).toBe(0);

    // full: the gateway's threads know it, and refuse without Redis
    const crowd = await citizenWith(1);
    const { result: answers, scripts } = await redisCallsDuring(() =>
      Promise.all(
        Array.from({ length: 20 }, () =>
          requestOnNewConnection('POST', `${gateway.url}/api/v2/appointment/schedule`, {
            token: crowd.client.token,
            body: { dose: 1, session_id: sessionId, slot: slots()[0], beneficiaries: crowd.ids },
          }),
        ),
      ),
    );
    expect(answers.map((a) => [a.status, a.json.errorCode])).toEqual(Array(20).fill([409, 'APPOIN0040']));
    expect(scripts).toBe(0);
  });
});

describe('a full session', () => {
  it('refuses 200 attempts from memory: 409 APPOIN0040, no script and no login read reach Redis; a booking that fits still goes to the script', async () => {
    // one seat of dose 1, taken: the dose is full in every slot
    const doseFull = await publish(1, [1, 1, 1, 1]);
    // ten seats, the first slot has one (taken), the second two (one taken): slot-full, and too few for two
    const slotFull = await publish(10, [1, 2, 3, 4]);
    const first = await citizenWith(2);
    expect((await first.client.post('/api/v2/appointment/schedule', { dose: 1, session_id: doseFull, slot: slots()[0], beneficiaries: [first.ids[0]] })).status).toBe(200);
    expect((await first.client.post('/api/v2/appointment/schedule', { dose: 1, session_id: slotFull, slot: slots()[0], beneficiaries: [first.ids[1]] })).status).toBe(200);
    const second = await citizenWith(1);
    expect((await second.client.post('/api/v2/appointment/schedule', { dose: 1, session_id: slotFull, slot: slots()[1], beneficiaries: second.ids })).status).toBe(200);
    const crowd = await citizenWith(2);

    const attempts = Array.from({ length: 200 }, (_, i) => {
      if (i % 3 === 0) return { dose: 1, session_id: doseFull, slot: slots()[i % 4], beneficiaries: [crowd.ids[0]] };
      if (i % 3 === 1) return { dose: 1, session_id: slotFull, slot: slots()[0], beneficiaries: [crowd.ids[1]] };
      // the second slot has one seat left: two beneficiaries together do not fit
      return { dose: 1, session_id: slotFull, slot: slots()[1], beneficiaries: crowd.ids };
    });
    const { result: answers, scripts, hget } = await redisCallsDuring(() =>
      Promise.all(attempts.map((body) => requestOnNewConnection('POST', `${gateway.url}/api/v2/appointment/schedule`, { token: crowd.client.token, body }))),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(200).fill(409));
    expect(answers.every((a) => a.json.errorCode === 'APPOIN0040')).toBe(true);
    expect(scripts, 'booking scripts run for refused attempts').toBe(0);
    expect(hget, 'login sessions read for refused attempts').toBe(0);
    await metricReaches('teeka_refused_from_memory_total{reason="full"}', 200);

    // memory never accepts, and refuses only what it knows: one beneficiary fits the last seat of the slot
    const fits = await redisCallsDuring(() =>
      crowd.client.post('/api/v2/appointment/schedule', { dose: 1, session_id: slotFull, slot: slots()[1], beneficiaries: [crowd.ids[0]] }),
    );
    expect(fits.result.status, fits.result.text).toBe(200);
    // the booking script alone: the access log's entry for the booking rides in it (gateway/access-log.ts)
    expect(fits.scripts).toBe(1);
    expect(fits.hget, 'the login is checked in memory').toBe(0);
    const session = (await engine.getSession(slotFull))!;
    expect(session.slot_booked.slice(0, 2)).toEqual([1, 2]);
  });

  it('a cancelled seat is bookable again through the gateway within a bounded time, on any thread', async () => {
    const sessionId = await publish(1, [1, 1, 1, 1]);
    const holder = await citizenWith(1);
    const booked = await holder.client.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessionId, slot: slots()[2], beneficiaries: [holder.ids[0]] });
    expect(booked.status).toBe(200);
    const waiting = await citizenWith(1);
    const attempt = () =>
      requestOnNewConnection('POST', `${gateway.url}/api/v2/appointment/schedule`, {
        token: waiting.client.token,
        body: { dose: 1, session_id: sessionId, slot: slots()[2], beneficiaries: waiting.ids },
      });
    // both threads know it is full (new connections land on either)
    const refused = await redisCallsDuring(() => Promise.all(Array.from({ length: 20 }, attempt)));
    expect(refused.result.map((a) => a.status)).toEqual(Array(20).fill(409));
    expect(refused.scripts).toBe(0);

    const cancelled = await holder.client.post('/api/v2/appointment/cancel', { appointment_id: booked.json.appointment_confirmation_no });
    expect(cancelled.status).toBe(204);
    const tookMs = await until(attempt, (answer) => answer.status === 200);
    expect(tookMs).toBeLessThan(PROPAGATION_BOUND_MS);
    expect((await engine.getSession(sessionId))!.booked1).toBe(1);
  });
});

describe('revoked logins, on every thread', () => {
  const beneficiariesWith = (token: string) => requestOnNewConnection('GET', `${gateway.url}/api/v2/appointment/beneficiaries`, { token });
  /** 20 requests on new connections (both threads) with `token`, all answered `status`. */
  const everyThreadAnswers = (token: string, status: number) => async () => (await Promise.all(Array.from({ length: 20 }, () => beneficiariesWith(token)))).every((a) => a.status === status);

  it('a new login revokes the old token on every thread within a bounded time, with no login read in Redis', async () => {
    const mobile = testMobile();
    const old = await new CowinClient(gateway.url).login(mobile);
    const live = await redisCallsDuring(everyThreadAnswers(old.token, 200));
    expect(live.result).toBe(true);
    expect(live.hget, 'a live token is checked in memory on every thread').toBe(0);

    const fresh = await new CowinClient(gateway.url).login(mobile);
    const tookMs = await until(everyThreadAnswers(old.token, 401), (all) => all);
    expect(tookMs).toBeLessThan(PROPAGATION_BOUND_MS);
    const refused = await redisCallsDuring(everyThreadAnswers(old.token, 401));
    expect(refused.result).toBe(true);
    expect(refused.hget + refused.scripts, 'the revoked token is refused from memory').toBe(0);
    expect((await everyThreadAnswers(fresh.token, 200)())).toBe(true);
    await metricReaches('teeka_refused_from_memory_total{reason="login_revoked"}', 40);
  });

  it('a quota logout revokes the token on every thread within a bounded time; its searches are refused without the script', async () => {
    const citizen = await new CowinClient(gateway.url).login(testMobile());
    const search = () => citizen.get(`/api/v2/appointment/sessions/findByDistrict?district_id=${center().district_id}&date=${formatCowinDate(engine.today())}`);
    for (let i = 0; i < 20; i++) expect((await search()).status).toBe(200);
    const logout = await search();
    expect(logout.json.errorCode).toBe('USRAUT0030');

    const tookMs = await until(everyThreadAnswers(citizen.token, 401), (all) => all);
    expect(tookMs).toBeLessThan(PROPAGATION_BOUND_MS);
    const refused = await redisCallsDuring(async () => {
      const pages = await everyThreadAnswers(citizen.token, 401)();
      const searches = await Promise.all(Array.from({ length: 10 }, search));
      return { pages, searches: searches.map((s) => s.status) };
    });
    expect(refused.result).toEqual({ pages: true, searches: Array(10).fill(401) });
    expect(refused.scripts + refused.hget, 'no quota script, no login read').toBe(0);
  });
});

describe('blocks answered from memory until they end', () => {
  it('a blocked account is refused on every thread without the script until T; after T the script runs again', async () => {
    const mobile = testMobile();
    const citizen = await new CowinClient(gateway.url).login(mobile);
    const path = `/api/v2/appointment/sessions/calendarByDistrict?district_id=${center().district_id}&date=${formatCowinDate(engine.today())}`;
    const search = () => requestOnNewConnection('GET', `${gateway.url}${path}`, { token: citizen.token });
    // a thousand searches today already (the day's limit): the next one blocks the account
    await redis.set(engine.accountKeys(engine.accountIdOf(mobile)).searchDay(), 1000, 'PX', 86_400_000);
    const blocked = await citizen.get(path);
    expect(blocked.status).toBe(403);
    expect(blocked.json.errorCode).toBe('USRAUT0031');
    expect(blocked.headers.get('retry-after')).toBe(String(BLOCK_SECONDS));
    const blockedAt = performance.now();

    // the other thread hears of the block from the revocation stream
    const everyThread = async () => (await Promise.all(Array.from({ length: 20 }, search))).every((a) => a.status === 403 && a.json.errorCode === 'USRAUT0031');
    expect(await until(everyThread, (all) => all)).toBeLessThan(PROPAGATION_BOUND_MS);
    const hammered = await redisCallsDuring(() => Promise.all(Array.from({ length: 30 }, search)));
    expect(hammered.result.map((a) => a.status)).toEqual(Array(30).fill(403));
    expect(hammered.result.every((a) => a.json.errorCode === 'USRAUT0031')).toBe(true);
    expect(hammered.scripts, 'quota scripts run for a blocked account').toBe(0);
    await metricReaches('teeka_refused_from_memory_total{reason="account_blocked"}', 50);

    // T passes (Redis and the gateway's engine clock both count the block's 2 s): a new login, and
    // the next search goes to the script again, which blocks again (the day's count is still over)
    await sleep(Math.max(0, BLOCK_SECONDS * 1000 + 100 - (performance.now() - blockedAt)));
    await citizen.login(mobile);
    const again = await redisCallsDuring(() => citizen.get(path));
    expect(again.scripts).toBe(1);
    expect(again.result.status).toBe(403);
    expect(again.result.json.errorCode).toBe('USRAUT0031');
  });

  it('an address over the public limit is refused without the script until its window ends (each thread learns it once)', async () => {
    const path = `/api/v2/appointment/sessions/public/findByDistrict?district_id=${center().district_id}&date=${formatCowinDate(engine.today())}`;
    const client = new CowinClient(gateway.url);
    for (let i = 0; i < PUBLIC_MAX_CALLS; i++) expect((await client.get(path)).status).toBe(200);
    const limited = await client.get(path);
    expect(limited.status).toBe(429);
    const hammered = await redisCallsDuring(async () => {
      const answers = [];
      for (let i = 0; i < 30; i++) answers.push(await requestOnNewConnection('GET', `${gateway.url}${path}`));
      return answers;
    });
    expect(hammered.result.map((a) => a.status)).toEqual(Array(30).fill(429));
    expect(hammered.result.every((a) => a.json.errorCode === 'USRRES0429')).toBe(true);
    expect(hammered.scripts, 'at most the first call on the other thread').toBeLessThanOrEqual(1);
  });
});

describe('a gateway that starts after revocations were trimmed away', () => {
  const SECRET = 'teeka-demo-secret-do-not-use-in-production';
  let late: RunningGateway | undefined;
  afterAll(() => late?.stop());

  it('asks Redis about tokens issued before the oldest revocation it can read, and answers them right', async () => {
    const prefix = `gwtest-late:${process.pid}:${Date.now()}:`;
    const lateRedis = new Redis(privateRedis.url, { keyPrefix: prefix });
    // an engine that keeps only a few revocations (MAXLEN ~ trims whole stream nodes of 100)
    const trimming = new BookingEngine(lateRedis, { country: demoCountry(), secret: SECRET, clock: processClock, testMobiles: { prefix: '9999', otp: '123456' }, revocationStreamCap: 10 });
    const login = async (mobile: string) => {
      const issued = await trimming.issueOtp(mobile, '127.0.0.1');
      if (!issued.ok) throw new Error(`issueOtp: ${issued.status}`);
      const done = await trimming.verifyOtp(issued.txnId, sha256Hex('123456'));
      if (!done.ok) throw new Error(`verifyOtp: ${done.status}`);
      return { sid: done.sid, token: signToken(SECRET, { sub: done.accountId, sid: done.sid, role: 'citizen' }, 900, processClock()) };
    };
    try {
      const mobile = testMobile();
      const replaced = await login(mobile);
      const current = await login(mobile); // revokes `replaced`: the first entry of its partition's stream
      const stream = trimming.accountKeys(trimming.accountIdOf(mobile)).loginRevocations();
      expect((await lateRedis.xrange(stream, '-', '+'))[0]![1]).toEqual(['s', replaced.sid, 't', expect.any(String)]);
      // three hundred logins replacing each other in the same partition push that entry out of the capped stream
      let busy = testMobile();
      while (trimming.accountKeys(trimming.accountIdOf(busy)).partition !== trimming.accountKeys(trimming.accountIdOf(mobile)).partition) busy = testMobile();
      for (let i = 0; i < 301; i++) await login(busy);
      const left = await lateRedis.xrange(stream, '-', '+');
      expect(left.length).toBeLessThan(302);
      expect(left.some(([, fields]) => fields[1] === replaced.sid)).toBe(false);

      late = await startGateway({ REDIS_URL: privateRedis.url, TEEKA_REDIS_PREFIX: prefix, GATEWAY_THREADS: '2' });
      const pages = (token: string) => Promise.all(Array.from({ length: 10 }, () => requestOnNewConnection('GET', `${late!.url}/api/v2/appointment/beneficiaries`, { token })));
      const older = await redisCallsDuring(async () => ({ replaced: await pages(replaced.token), current: await pages(current.token) }));
      // memory cannot tell (their revocations may be among the trimmed): Redis answers, rightly
      expect(older.result.replaced.map((a) => a.status)).toEqual(Array(10).fill(401));
      expect(older.result.current.map((a) => a.status)).toEqual(Array(10).fill(200));
      expect(older.hget).toBe(20);
    } finally {
      lateRedis.disconnect();
    }
  });
});
