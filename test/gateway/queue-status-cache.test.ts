/**
 * `GET /teeka/queue/status` polled as fast as a bot polls (gateway/queue-room.ts STATUS_CACHE_MS),
 * through a real gateway (two threads) on a Redis of the test's own: 200 rapid polls by one account,
 * spread over both threads, run the status script at most once per thread and window; an admission
 * still reaches a poller within the window of its being made; a booking under it shows on every
 * thread at once (gateway/place-changes.ts).
 *
 * The script calls are counted by MONITOR, by the status script's SHA: `INFO commandstats` (as
 * test/gateway/memory.test.ts counts) cannot tell them from the admission ticker's admit calls, which
 * every thread makes five times a second for the opening.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCowinDate } from '../../engine/dates.js';
import { readScripts } from '../../engine/scripts.js';
import { CowinClient, requestOnNewConnection, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';
import { PrivateRedis } from '../worker/support.js';

const THREADS = 2;
/** gateway/queue-room.ts STATUS_CACHE_MS */
const WINDOW_MS = 1000;

let privateRedis: PrivateRedis;
let gateway: RunningGateway;
let redis: Redis;

beforeAll(async () => {
  privateRedis = await PrivateRedis.start([]);
  gateway = await startGateway({ REDIS_URL: privateRedis.url, GATEWAY_THREADS: String(THREADS) });
  redis = new Redis(privateRedis.url, { keyPrefix: gateway.prefix });
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await gateway?.stop();
  await privateRedis?.destroy();
});

/** the first words of lua/queueStatus-3.lua's comment */
const STATUS_SCRIPT_WORDS = 'A place in the fair admission queue as its holder sees it';

/**
 * Redis's MONITOR on a plain socket, each line handed to `onLine` once MONITOR answered. Not ioredis's
 * monitor(): lines that arrive in the same read as MONITOR's +OK reach it before it has switched to
 * monitor mode, and it throws "Command queue state error" (seen in CI, with the gateway's followers
 * blocking on many streams at once).
 */
async function monitorLines(url: string, onLine: (line: string) => void): Promise<Socket> {
  const socket = await openConnection(url);
  let buffer = '';
  let started: () => void = () => {};
  const monitoring = new Promise<void>((resolve) => (started = resolve));
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (line === '+OK') started();
      else onLine(line);
    }
  });
  socket.write('MONITOR\r\n');
  await monitoring;
  return socket;
}

/** Status script calls (EVALSHA of lua/queueStatus-3.lua) while `work` runs. */
async function statusScriptsDuring<T>(work: () => Promise<T>): Promise<{ result: T; calls: number }> {
  const script = readScripts().find((s) => s.name === 'queueStatus')!;
  let calls = 0;
  // a line: +<time> [<db> <client>] "<command>" "<arg>" ...; Redis 7's MONITOR shows an EVALSHA as
  // the EVAL of the script's text (escaped): known by its first words
  const monitor = await monitorLines(privateRedis.url, (line) => {
    const call = /\] "(eval|evalsha)" "([^"]*)/i.exec(line);
    if (call && (call[2] === script.sha || line.includes(STATUS_SCRIPT_WORDS))) calls += 1;
  });
  try {
    // MONITOR sees commands from its start: a PING through another connection marks it running
    await redis.ping();
    await sleep(50);
    const result = await work();
    await sleep(50);
    return { result, calls };
  } finally {
    monitor.destroy();
  }
}

/** A TCP connection to `url`'s host and port, open and idle. */
async function openConnection(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  return socket;
}

/** GET `url`'s path on an open connection (closed after the answer); the answer's JSON body. */
async function getOn(socket: Socket, url: string, token: string): Promise<unknown> {
  const { pathname, search } = new URL(url);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
  await once(socket, 'end');
  socket.destroy();
  const text = Buffer.concat(chunks).toString('utf8');
  const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
  expect(head, text).toMatch(/^HTTP\/1\.1 200 /);
  return JSON.parse(body);
}

describe('status polling', () => {
  it('answers 200 rapid polls from memory, and an admission still reaches the poller within the window', async () => {
    const admin = new CowinClient(gateway.url);
    admin.token = (await admin.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' })).json.token;
    const poller = await new CowinClient(gateway.url).login(testMobile());
    const beneficiary = await poller.addBeneficiary('Rapid Poller', 1985, testPhotoId());

    const center = gateway.engine.country.centersByDistrict.get(294)![0]!;
    const published = await admin.post('/teeka/admin/sessions', {
      center_id: center.center_id,
      date: formatCowinDate(gateway.engine.today() + 2),
      vaccine: 'COVISHIELD',
      min_age_limit: 18,
      capacity_dose1: 10,
      capacity_dose2: 0,
      // opens once the polls below are done
      opens_at: new Date(gateway.engine.now() + 8000).toISOString(),
      fair_admission: true,
      admission_rate: 1,
    });
    expect(published.status, published.text).toBe(200);
    const sessionId = published.json.session_id as string;
    const joined = await poller.post('/teeka/queue/join', { session_id: sessionId, beneficiaries: [beneficiary] });
    expect(joined.json, joined.text).toMatchObject({ state: 'prequeue', joined: true });
    const accountId = (await redis.hkeys(gateway.engine.fairAdmission.keysOf(sessionId).places))[0]!;
    const path = `${gateway.url}/teeka/queue/status?session_id=${sessionId}`;

    // 200 polls, 20 at a time, each on a new connection: the kernel spreads them over both threads
    const started = performance.now();
    const { result: answers, calls } = await statusScriptsDuring(async () => {
      const all: Awaited<ReturnType<typeof requestOnNewConnection>>[] = [];
      for (let burst = 0; burst < 10; burst++) {
        all.push(...(await Promise.all(Array.from({ length: 20 }, () => requestOnNewConnection('GET', path, { token: poller.token })))));
      }
      return all;
    });
    const tookMs = performance.now() - started;
    expect(answers).toHaveLength(200);
    for (const answer of answers) expect(answer.json).toMatchObject({ session_id: sessionId, state: 'prequeue', position: null, admitted: false });
    // at most one read per thread per window (and the read that was in flight at a window's end);
    // without the cache this is 200
    const bound = THREADS * (Math.ceil(tookMs / WINDOW_MS) + 1);
    console.log(`200 status polls in ${Math.round(tookMs)} ms ran the status script ${calls} times (bound ${bound})`);
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThanOrEqual(bound);
    // those reads were the place's signs of life for the grace period
    const k = gateway.engine.fairAdmission.keysOf(sessionId);
    const place = async () => JSON.parse((await redis.hget(k.places, accountId))!) as { st: string; seen?: number };
    expect((await place()).seen).toBeGreaterThan(0);

    // through the opening: the poller polls every 20 ms (one keep-alive client) while the test
    // watches its place in Redis; the admission shows in its answers within the window of its making
    let admittedAt = 0;
    const watching = (async () => {
      const deadline = performance.now() + 30_000;
      while (performance.now() < deadline) {
        if ((await place()).st === 'admitted') return (admittedAt = performance.now());
        await sleep(20);
      }
      throw new Error('the place was not admitted within 30 s');
    })();
    const polling = statusScriptsDuring(async () => {
      const deadline = performance.now() + 30_000;
      let polls = 0;
      for (;;) {
        const answer = await poller.get(`/teeka/queue/status?session_id=${sessionId}`);
        polls += 1;
        expect(answer.status, answer.text).toBe(200);
        if (answer.json.admitted) return { seenAt: performance.now(), answer: answer.json, polls };
        if (performance.now() > deadline) throw new Error(`no admission seen: ${answer.text}`);
        await sleep(20);
      }
    });
    const [, polled] = await Promise.all([watching, polling]);
    const { seenAt, answer, polls } = polled.result;
    const lagMs = seenAt - admittedAt;
    console.log(`admission seen by the poller ${Math.round(lagMs)} ms after Redis showed it; ${polls} polls ran the status script ${polled.calls} times`);
    expect(answer).toMatchObject({ state: 'admitted', admission: expect.stringMatching(/^[0-9a-f]{16}\.\d+$/) });
    // the watcher polls Redis every 20 ms: the lag is measured to within that
    expect(lagMs).toBeLessThanOrEqual(WINDOW_MS + 500);
    expect(polled.calls).toBeLessThan(polls);

    // every thread keeps `admitted` now (20 polls on new connections); a booking under the admission
    // outdates what every thread kept: the polls right after it, on either thread, read `used`. They
    // go on connections opened before the booking, sent the moment its answer is in, so no thread
    // has time to hear of the booking by any means slower than the booking's own answer.
    const before = await Promise.all(Array.from({ length: 20 }, () => requestOnNewConnection('GET', path, { token: poller.token })));
    for (const b of before) expect(b.json).toMatchObject({ state: 'admitted', admission: answer.admission });
    const waiting = await Promise.all(Array.from({ length: 20 }, () => openConnection(gateway.url)));
    const slot = gateway.engine.country.slotsOf(center)[0]!;
    const booked = await requestOnNewConnection('POST', `${gateway.url}/api/v2/appointment/schedule`, {
      token: poller.token,
      body: { dose: 1, session_id: sessionId, slot, beneficiaries: [beneficiary], admission: answer.admission },
    });
    const after = await Promise.all(waiting.map((socket) => getOn(socket, path, poller.token)));
    expect(booked.status, JSON.stringify(booked.json)).toBe(200);
    for (const a of after) expect(a).toMatchObject({ state: 'used', admitted: false });
  }, 90_000);
});
