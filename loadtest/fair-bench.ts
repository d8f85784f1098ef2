/**
 * `npm run bench:fair`: who gets an opening's seats when bots race people, with fair admission off
 * (today: everybody fires `schedule` at `opens_at`) and on (issue 16: join the queue, wait for the
 * admission, book with it), through teeka's real gateway and worker on loopback.
 *
 *   npm run bench:fair                    500 seats, 20,000 citizens of whom 10% are bots
 *   npm run bench:fair -- --smoke         50 seats, 2,000 citizens: under a minute, for CI
 *   npm run bench:fair -- [--seats 500] [--citizens 20000] [--bots 0.1] [--rate 50] [--seconds 90]
 *
 * How the crowd is simulated. Every citizen is a real logged-in account with one beneficiary (made
 * through the engine, as the opening bench does), and a timer in this one Node process: 20,000
 * sockets would measure the load generator, not teeka, so the citizens share keep-alive connections
 * (node:http Agents; people and bots each have their own pool, 2,048 and 256 connections: a request
 * in flight has a connection of its own, so the gateway, not this process, decides whose call is
 * answered first; a smaller pool would hand the seats to whichever pool is larger). A request's latency is measured from the moment it
 * has a connection to its answer: the gateway's time, not the time waiting for a free connection here.
 * - People act 0.5–5 s after they are able to (uniform): at the opening, after each refusal, after
 *   their turn comes. In the fair run 90% join at a uniform time over the pre-queue window's first 70%
 *   (they came for the opening), the rest over a quarter of its length after `opens_at`; they ask for their
 *   status once after the opening, then every 2–10 s (a third of the estimated wait: what the page
 *   does without its WebSocket would be every 3 s; the pushes are not simulated).
 * - Bots join at the start of the pre-queue and fire every ~20 ms (one request in flight each), i.e.
 *   50× faster than people; in the race they start 200 ms before `opens_at`. Their farm has
 *   `--bot-connections` connections, so what they really manage per second is reported.
 * Reported per mode: the bots' share of the seats against their share of the citizens (and, with the
 * queue, of those who joined before the opening, whom the shuffle mixes), the admission rate held
 * (admissions per second from their issue times, `admission_expires_at` less the admission's
 * lifetime, against the configured rate), p50/p99 of join, status and schedule, and the oversell
 * check (Redis, the 200 answers and PostgreSQL, never more than the seats). Every phase has a
 * deadline; everything the bench started is stopped and its keys and schema removed at the end.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Pool } from 'pg';
import { loadConfig, projectRoot } from '../engine/config.js';
import { BookingEngine } from '../engine/engine.js';
import { Partitions } from '../engine/partitions.js';
import { connectRedis } from '../engine/redis.js';
import { openPool } from '../worker/database.js';
import { answers, freePort, runBench, startProcess } from './bench-processes.js';
import { benchedRedisServer, formatTable, loggedInCitizens, percentile, requireLoopbackServices, writeBenchCountry, type Citizen } from './bench-support.js';

const { values: args } = parseArgs({
  options: {
    seats: { type: 'string' },
    citizens: { type: 'string' },
    bots: { type: 'string', default: '0.1' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
    'bot-connections': { type: 'string', default: '256' },
    'people-connections': { type: 'string', default: '2048' },
    smoke: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('npm run bench:fair -- [--seats 500] [--citizens 20000] [--bots 0.1] [--rate 50] [--seconds 90] [--bot-connections 256] [--people-connections 2048] [--smoke]');
  process.exit(0);
}
const SMOKE = args.smoke!;
const SEATS = Number(args.seats ?? (SMOKE ? 50 : 500));
const CITIZENS = Number(args.citizens ?? (SMOKE ? 2000 : 20_000));
const BOT_SHARE = Number(args.bots);
/** places admitted per second (the session's admission_rate) */
const RATE = Number(args.rate ?? (SMOKE ? 25 : 50));
/** how long each mode may last after the opening, at most */
const SECONDS = Number(args.seconds ?? (SMOKE ? 20 : 90));
const BOT_CONNECTIONS = Number(args['bot-connections']);
const PEOPLE_CONNECTIONS = Number(args['people-connections']);
for (const [name, value, min, max] of [
  ['seats', SEATS, 1, 10_000],
  ['citizens', CITIZENS, 10, 50_000],
  ['rate', RATE, 1, 10_000],
  ['seconds', SECONDS, 5, 600],
  ['bot-connections', BOT_CONNECTIONS, 1, 4096],
  ['people-connections', PEOPLE_CONNECTIONS, 1, 8192],
] as const) {
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name}: expected a whole number from ${min} to ${max}`);
}
if (!(BOT_SHARE > 0 && BOT_SHARE < 1)) throw new Error('--bots: expected the share of bots among the citizens, above 0 and below 1');
/** the pre-queue's length in the fair run: bots join at its start, people over it and a little after */
const LEAD_MS = SMOKE ? 10_000 : 45_000;
/**
 * the share of people who mean to join before the opening, over the pre-queue's first 70% (a 30-minute
 * pre-queue squeezed into seconds: the rest leaves room for joins the loaded gateway answers late);
 * the others join within a quarter of the pre-queue's length after the opening
 */
const EARLY_PEOPLE = 0.9;
/** the smoke run fails when the bots' share of the seats with the queue is above this many times their share of the citizens */
const SMOKE_FAIRNESS_LIMIT = 3;

const config = loadConfig();
requireLoopbackServices(config);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runDir = join(projectRoot(), 'loadtest', 'reports', `fair-${stamp}`);
mkdirSync(runDir, { recursive: true });
const id = randomUUID().slice(0, 8);
const prefix = `bench-fair:${id}:`;
const schema = `bench_fair_${id}`;
const progress = (line: string) => console.log(`[fair ${new Date().toISOString().slice(11, 19)}] ${line}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const between = (low: number, high: number) => low + Math.random() * (high - low);

// ------------------------------------------------------------------ HTTP over shared keep-alive connections

interface Answer {
  status: number;
  json: Record<string, unknown> | null;
  /** from having a connection to the end of the answer (the gateway's time, not this process's queue) */
  ms: number;
}

/** A pool of keep-alive connections to the gateway, shared by many simulated citizens. */
class Connections {
  private readonly agent: Agent;
  constructor(
    private readonly port: number,
    maxSockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  call(method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<Answer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve) => {
      let connectedAt = performance.now();
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agent,
          timeout: 30_000,
          headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            let json: Record<string, unknown> | null = null;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              // not JSON: the status says enough
            }
            resolve({ status: res.statusCode ?? 0, json, ms: performance.now() - connectedAt });
          });
          res.on('error', () => resolve({ status: 0, json: null, ms: performance.now() - connectedAt }));
        },
      );
      req.on('socket', () => {
        connectedAt = performance.now();
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve({ status: 0, json: null, ms: performance.now() - connectedAt }));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

// ------------------------------------------------------------------ one mode

type Kind = 'bot' | 'person';
interface Actor {
  kind: Kind;
  citizen: Citizen;
  booked: boolean;
  joinedBeforeOpening: boolean;
  joined: boolean;
}

interface ModeResult {
  mode: 'off' | 'on';
  seats: number;
  booked: { bot: number; person: number };
  /** answers 200 to schedule: never more than the seats */
  okAnswers: number;
  redisBooked: number;
  postgresBooked: number;
  oversold: boolean;
  /** seconds from the opening to the last seat */
  soldOutSeconds: number;
  joinedBeforeOpening: { bot: number; person: number };
  latency: Record<string, { count: number; p50: number; p99: number }>;
  statuses: Record<string, number>;
  botRequestsPerSecond: number;
  admissions: { count: number; measuredRate: number; steadyCount: number; steadyRate: number; configuredRate: number; windowSeconds: number };
  wallSeconds: number;
}

async function runMode(mode: 'off' | 'on', ctx: { engine: BookingEngine; pool: Pool; port: number; citizens: Citizen[]; centerIndex: number }): Promise<ModeResult> {
  const { engine, pool, port } = ctx;
  const center = engine.country.data.centers[ctx.centerIndex % engine.country.data.centers.length]!;
  const slots = engine.country.slotsOf(center);
  const leadMs = mode === 'on' ? LEAD_MS : 3000;
  const opensAt = engine.now() + leadMs;
  const published = await engine.publishSession({
    center_id: center.center_id,
    date: engine.today() + 1 + ctx.centerIndex,
    vaccine: 'COVISHIELD',
    min_age_limit: 18,
    capacity_dose1: SEATS,
    capacity_dose2: 0,
    opens_at: opensAt,
    ...(mode === 'on' ? { fair_admission: true, prequeue_minutes: Math.ceil(leadMs / 60_000) + 1, admission_rate: RATE } : {}),
  });
  if (!published.ok) throw new Error(`publishSession (${mode}): status ${published.status}`);
  const sessionId = published.sessionId;
  const admissionMs = engine.country.rules.fair_admission.admission_seconds * 1000;

  const bots = Math.round(CITIZENS * BOT_SHARE);
  // which accounts are bots does not matter: every arrival time below is drawn at random
  const actors: Actor[] = ctx.citizens.map((citizen, i) => ({ kind: i < bots ? 'bot' : 'person', citizen, booked: false, joinedBeforeOpening: false, joined: false }));
  const botPool = new Connections(port, BOT_CONNECTIONS);
  const peoplePool = new Connections(port, PEOPLE_CONNECTIONS);
  const latencies: Record<string, number[]> = {};
  const statuses: Record<string, number> = {};
  let botRequests = 0;
  /** admission → when it was issued (epoch ms, from its expiry) */
  const admissions = new Map<string, number>();
  let over = false;
  let ended: () => void = () => {};
  const end = new Promise<void>((resolve) => (ended = resolve));
  /** a citizen's wait, cut short when the run is over */
  const wait = (ms: number) => Promise.race([sleep(ms), end]);
  let okAnswers = 0;

  const call = async (actor: Actor, name: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> => {
    const answer = await (actor.kind === 'bot' ? botPool : peoplePool).call(method, path, actor.citizen.token, body);
    if (actor.kind === 'bot') botRequests += 1;
    (latencies[`${name} (${actor.kind === 'bot' ? 'bots' : 'people'})`] ??= []).push(answer.ms);
    const code = answer.status === 200 ? '200' : `${answer.status} ${String(answer.json?.errorCode ?? '')}`.trim();
    statuses[`${name} ${code}`] = (statuses[`${name} ${code}`] ?? 0) + 1;
    return answer;
  };
  const schedule = (actor: Actor, admission?: string) =>
    call(actor, 'schedule', 'POST', '/api/v2/appointment/schedule', {
      dose: 1,
      session_id: sessionId,
      slot: slots[Math.floor(Math.random() * slots.length)],
      beneficiaries: actor.citizen.beneficiaryIds,
      center_id: center.center_id,
      ...(admission ? { admission } : {}),
    });
  const booked = (actor: Actor) => {
    actor.booked = true;
    okAnswers += 1;
  };
  /** the pace of an actor: a bot every ~20 ms from the start of its last request, a person 0.5–5 s after an answer */
  const pause = (actor: Actor, startedAt: number) => wait(actor.kind === 'bot' ? 20 - (performance.now() - startedAt) : between(500, 5000));

  /** Today's opening: at `opens_at` everybody fires `schedule` until they have a seat or the seats are gone. */
  async function race(actor: Actor): Promise<void> {
    await wait(actor.kind === 'bot' ? opensAt - 200 - engine.now() : opensAt - engine.now() + between(500, 5000));
    while (!over && !actor.booked) {
      const startedAt = performance.now();
      const answer = await schedule(actor);
      if (answer.status === 200) return booked(actor);
      await pause(actor, startedAt);
    }
  }

  /** The fair opening: join, ask for the place until the turn comes, then book with the admission. */
  async function queue(actor: Actor): Promise<void> {
    const start = opensAt - leadMs;
    const joinAt = actor.kind === 'bot' ? start + between(0, 300) : Math.random() < EARLY_PEOPLE ? between(start, start + leadMs * 0.7) : between(opensAt, opensAt + leadMs / 4);
    await wait(joinAt - engine.now());
    if (over) return;
    const joined = await call(actor, 'join', 'POST', '/teeka/queue/join', { session_id: sessionId, beneficiaries: actor.citizen.beneficiaryIds });
    if (joined.status !== 200) return;
    actor.joined = true;
    // the queue's own word: a place in the pre-queue is one the shuffle mixes
    actor.joinedBeforeOpening = joined.json?.state === 'prequeue';
    while (!over && !actor.booked) {
      const startedAt = performance.now();
      const answer = await call(actor, 'status', 'GET', `/teeka/queue/status?session_id=${encodeURIComponent(sessionId)}`);
      const status = answer.json ?? {};
      // the seats are gone, the opening closed, the turn lapsed or the place was skipped: this citizen is done
      if (answer.status === 404 || ['full', 'closed', 'expired', 'lapsed', 'used'].includes(String(status.state))) return;
      if (answer.status === 200 && status.admitted === true && typeof status.admission === 'string') {
        const admission = status.admission;
        if (!admissions.has(admission)) admissions.set(admission, Date.parse(String(status.admission_expires_at)) - admissionMs);
        // a person reads the page and presses Book; a bot books at once
        if (actor.kind === 'person') await wait(between(500, 5000));
        for (let attempt = 0; attempt < slots.length && !over; attempt++) {
          const result = await schedule(actor, admission);
          if (result.status === 200) return booked(actor);
          // another slot for a full one; any other refusal (the admission lapsed or was used): back to the status
          if (result.json?.errorCode !== 'APPOIN0040') break;
        }
        continue;
      }
      if (actor.kind === 'bot') await pause(actor, startedAt);
      else if (status.state === 'prequeue') await wait(Math.max(between(2000, 5000), opensAt - engine.now() + between(0, 3000)));
      else {
        const estimate = typeof status.estimated_wait_seconds === 'number' ? status.estimated_wait_seconds * 1000 : 5000;
        await wait(Math.min(10_000, Math.max(2000, estimate / 3)) * between(0.8, 1.2));
      }
    }
  }

  // the seats, watched in Redis: the run is over when they are gone or at the deadline
  const startedAt = performance.now();
  let soldOutAt = NaN;
  let lastBooked = 0;
  const deadline = opensAt + SECONDS * 1000;
  const watcher = (async () => {
    let lastPrint = 0;
    while (!over) {
      const state = await engine.getSession(sessionId);
      const taken = state?.booked1 ?? 0;
      if (taken > lastBooked) {
        lastBooked = taken;
        soldOutAt = engine.now();
      }
      if (taken >= SEATS || engine.now() > deadline) {
        over = true;
        ended();
      }
      if (performance.now() - lastPrint > 2000) {
        lastPrint = performance.now();
        const joinedNow = actors.filter((a) => a.joined).length;
        const seconds = (engine.now() - opensAt) / 1000;
        progress(`${mode}: ${seconds >= 0 ? `${seconds.toFixed(1)} s after the opening` : `${(-seconds).toFixed(1)} s before the opening`}, ${taken}/${SEATS} seats taken${mode === 'on' ? `, ${joinedNow} joined, ${admissions.size} admissions seen` : ''}`);
      }
      await sleep(50);
    }
  })();
  progress(`${mode}: ${SEATS} seats opening in ${(leadMs / 1000).toFixed(0)} s; ${actors.length} citizens, ${bots} of them bots${mode === 'on' ? `; fair admission at ${RATE}/s` : ''}`);
  await Promise.all([watcher, ...actors.map((actor) => (mode === 'on' ? queue(actor) : race(actor)))]);
  const wallSeconds = (performance.now() - startedAt) / 1000;
  botPool.close();
  peoplePool.close();

  // nothing oversold: Redis's count, the 200 answers and (once the worker drained) PostgreSQL's rows
  const redisBooked = (await engine.getSession(sessionId))?.booked1 ?? 0;
  const pgCount = async () => Number((await pool.query("select count(*)::int as n from appointments where session_id = $1 and status <> 'cancelled'", [sessionId])).rows[0].n);
  const drainStarted = performance.now();
  while ((await pgCount()) < redisBooked && performance.now() - drainStarted < 60_000) await sleep(200);
  const postgresBooked = await pgCount();

  const issued = [...admissions.values()].sort((a, b) => a - b);
  const windowSeconds = issued.length > 1 ? (issued[issued.length - 1]! - issued[0]!) / 1000 : 0;
  // the admission script's bucket holds one second's worth: the first second may admit up to twice
  // the rate, so the rate held is also measured from one second after the first admission, up to the
  // admission that filled the seats (after it, admissions follow bookings and expiries, not the rate)
  const steadyFrom = (issued[0] ?? 0) + 1000;
  const steady = issued.slice(0, SEATS).filter((at) => at >= steadyFrom);
  const steadySeconds = steady.length > 1 ? (steady[steady.length - 1]! - steadyFrom) / 1000 : 0;
  const count = (kind: Kind, pick: (a: Actor) => boolean) => actors.filter((a) => a.kind === kind && pick(a)).length;
  return {
    mode,
    seats: SEATS,
    booked: { bot: count('bot', (a) => a.booked), person: count('person', (a) => a.booked) },
    okAnswers,
    redisBooked,
    postgresBooked,
    oversold: redisBooked > SEATS || okAnswers > SEATS || postgresBooked > SEATS,
    soldOutSeconds: (soldOutAt - opensAt) / 1000,
    joinedBeforeOpening: { bot: count('bot', (a) => a.joinedBeforeOpening), person: count('person', (a) => a.joinedBeforeOpening) },
    latency: Object.fromEntries(
      Object.entries(latencies).map(([name, values]) => {
        const sorted = values.sort((a, b) => a - b);
        return [name, { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) }];
      }),
    ),
    statuses,
    botRequestsPerSecond: botRequests / wallSeconds,
    admissions: {
      count: issued.length,
      measuredRate: windowSeconds > 0 ? (issued.length - 1) / windowSeconds : NaN,
      steadyCount: steady.length,
      steadyRate: steadySeconds > 0 ? steady.length / steadySeconds : NaN,
      configuredRate: RATE,
      windowSeconds,
    },
    wallSeconds,
  };
}

// ------------------------------------------------------------------ the run

async function main(): Promise<void> {
  const { country, path: countryPath } = writeBenchCountry(config.countryFile, runDir);
  const redis = connectRedis({ address: { url: benchedRedisServer(config, 'bench:fair').url }, keyPrefix: prefix, role: 'tool', overrides: { enableAutoPipelining: true } });
  const engine = new BookingEngine(redis, { country, secret: config.secret, testMobiles: { prefix: '9999', otp: config.testOtp }, partitions: new Partitions(config.partitions) });
  const pool = openPool({ databaseUrl: config.databaseUrl, schema, max: 2 });
  const env = { TEEKA_REDIS_PREFIX: prefix, TEEKA_COUNTRY: countryPath, TEEKA_PG_SCHEMA: schema, TEEKA_ENV: 'demo' };
  const threads = Math.max(1, availableParallelism() - 1);
  try {
    const port = await freePort();
    progress(`starting on loopback: worker, gateway (${threads} thread${threads === 1 ? '' : 's'})`);
    await startProcess({ name: 'worker', script: 'worker/main.js', env, port: 0, logDir: runDir, ready: async () => (await pool.query("select to_regclass('appointments') as t")).rows[0].t !== null });
    await startProcess({ name: 'gateway', script: 'gateway/main.js', env: { ...env, PORT: String(port), HOST: '127.0.0.1', GATEWAY_THREADS: String(threads) }, port, logDir: runDir, ready: answers(`http://127.0.0.1:${port}/healthz`) });

    const results: ModeResult[] = [];
    for (const [m, mode] of (['off', 'on'] as const).entries()) {
      // each mode its own citizens: a beneficiary booked in one opening cannot book dose 1 again
      progress(`${mode}: logging in ${CITIZENS} citizens`);
      const citizens = await loggedInCitizens(engine, config.secret, config.testOtp, {
        accounts: CITIZENS,
        mobileOf: (i) => `9999${m}${String(i).padStart(5, '0')}`,
        beneficiariesOf: () => 1,
        photoIdOf: (i) => `6${m}${String(i).padStart(8, '0')}00`,
      });
      // the gateway follows logins from a stream: give it a moment
      await sleep(1000);
      results.push(await runMode(mode, { engine, pool, port, citizens, centerIndex: m }));
      const r = results[results.length - 1]!;
      progress(`${mode}: bots ${r.booked.bot}, people ${r.booked.person} of ${SEATS} seats; oversold: ${r.oversold ? 'YES' : 'no'}`);
    }

    const report = renderReport(results, country.rules.fair_admission.admission_seconds);
    writeFileSync(join(runDir, 'report.md'), report);
    writeFileSync(join(runDir, 'results.json'), JSON.stringify(results, null, 2));
    console.log(`\n${report}\nreport: ${join(runDir, 'report.md')}`);
    const on = results.find((r) => r.mode === 'on')!;
    const onBotShare = on.booked.bot / Math.max(1, on.booked.bot + on.booked.person);
    const failures = [
      ...results.filter((r) => r.oversold).map((r) => `oversold with fair admission ${r.mode}`),
      ...results.filter((r) => r.postgresBooked !== r.redisBooked).map((r) => `${r.mode}: PostgreSQL has ${r.postgresBooked} bookings, Redis ${r.redisBooked}`),
      ...(on.booked.bot + on.booked.person === 0 ? ['nobody booked through the queue'] : []),
      ...(SMOKE && onBotShare > SMOKE_FAIRNESS_LIMIT * BOT_SHARE ? [`bots took ${(onBotShare * 100).toFixed(0)}% of the seats through the queue, above ${SMOKE_FAIRNESS_LIMIT}× their ${(BOT_SHARE * 100).toFixed(0)}% of the citizens`] : []),
    ];
    if (failures.length) {
      console.error(`bench:fair: ${failures.join('; ')}`);
      process.exitCode = 1;
    }
  } finally {
    await pool.end().catch(() => {});
    redis.disconnect();
  }
}

function renderReport(results: ModeResult[], admissionSeconds: number): string {
  const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
  const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');
  const lines: string[] = [];
  lines.push('# Fair admission: who gets the seats\n');
  lines.push(`\`npm run bench:fair --${SMOKE ? ' --smoke' : ''} --seats ${SEATS} --citizens ${CITIZENS} --bots ${BOT_SHARE} --rate ${RATE} --seconds ${SECONDS} --bot-connections ${BOT_CONNECTIONS} --people-connections ${PEOPLE_CONNECTIONS}\`\n`);
  lines.push(
    `${SEATS} seats, ${CITIZENS} citizens with one beneficiary each, ${pct(BOT_SHARE)} of them bots (every ~20 ms, one request in flight each, ${BOT_CONNECTIONS} connections); people act 0.5–5 s after they can. ${availableParallelism()} cores shared by the gateway, Redis, PostgreSQL, the worker and this process. Admissions last ${admissionSeconds} s.\n`,
  );
  lines.push(
    formatTable(
      ['fair admission', 'seats taken', 'bots', 'people', "bots' share of seats", "bots' share of citizens", "bots' share of those in the pre-queue", 'last seat after s', 'bot requests/s achieved', 'oversold (Redis / 200s / PostgreSQL)'],
      results.map((r) => {
        const taken = r.booked.bot + r.booked.person;
        const preQueue = r.joinedBeforeOpening.bot + r.joinedBeforeOpening.person;
        return [
          r.mode,
          `${taken}/${r.seats}`,
          String(r.booked.bot),
          String(r.booked.person),
          pct(taken ? r.booked.bot / taken : 0),
          pct(BOT_SHARE),
          r.mode === 'on' && preQueue ? pct(r.joinedBeforeOpening.bot / preQueue) : '—',
          Number.isFinite(r.soldOutSeconds) ? r.soldOutSeconds.toFixed(2) : '—',
          Math.round(r.botRequestsPerSecond).toLocaleString('en-US'),
          `${r.oversold ? 'YES' : 'no'} (${r.redisBooked} / ${r.okAnswers} / ${r.postgresBooked})`,
        ];
      }),
    ),
  );
  const on = results.find((r) => r.mode === 'on');
  if (on) {
    lines.push(
      `\nAdmission rate held: ${on.admissions.count} admissions issued over ${on.admissions.windowSeconds.toFixed(2)} s = ${ms(on.admissions.measuredRate)}/s; from one second after the first (the bucket's burst left out) to the ${SEATS}th ${on.admissions.steadyCount}${on.admissions.steadyCount >= 10 ? ` = ${ms(on.admissions.steadyRate)}/s` : ' (too few to measure a rate)'}; configured ${on.admissions.configuredRate}/s. Issue times are each admission's expiry less its ${admissionSeconds} s; admissions stop once the places admitted fill the seats left.\n`,
    );
  }
  lines.push('\nLatency of each call, from having a connection to the answer (ms):\n');
  lines.push(
    formatTable(
      ['fair admission', 'call', 'calls', 'p50', 'p99'],
      results.flatMap((r) => Object.entries(r.latency).sort(([a], [b]) => a.localeCompare(b)).map(([name, l]) => [r.mode, name, String(l.count), ms(l.p50), ms(l.p99)])),
    ),
  );
  lines.push(`\nAnswers: ${results.map((r) => `${r.mode}: ${Object.entries(r.statuses).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} × ${v}`).join(', ')}`).join(' · ')}\n`);
  return lines.join('\n');
}

// the whole run is bounded: logins, two openings and the drains, whatever happens
const WHOLE_RUN_MS = (SMOKE ? 3 : 15) * 60_000;
setTimeout(() => {
  console.error(`bench:fair: still running after ${WHOLE_RUN_MS / 60_000} minutes, stopping`);
  process.exitCode = 1;
  process.kill(process.pid, 'SIGTERM');
}, WHOLE_RUN_MS).unref();

runBench('bench:fair', main, { databaseUrl: config.databaseUrl, schemas: [schema], redis: config.redis, prefix });
