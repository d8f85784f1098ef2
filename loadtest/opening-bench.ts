/**
 * `npm run bench:opening`: a real opening, and CoWIN's traffic mix, through teeka on loopback.
 *
 * 1. The opening. `--sessions` sessions of `--seats` seats each open at one instant (their
 *    `opens_at`), and `--crowd` times more citizens than seats try at once, families included (1 to
 *    4 beneficiaries per booking), while a protected search storm goes on. Reported: attempts/s
 *    answered and their p50/p99, seats taken per second until sold out, the search storm's rate and
 *    p99, Redis CPU per request (`INFO cpu`), the oversell check per session (Redis and PostgreSQL)
 *    and reconcile once the worker has drained.
 * 2. The CoWIN mix: mostly public and protected searches, a few percent booking attempts, logins
 *    and beneficiary lists, against the gateway after the opening; req/s and p99 beside CoWIN's
 *    national peak of 55,000 req/s (28 April 2021).
 *
 *   npm run bench:opening -- [--runs 3] [--sessions 50] [--seats 100] [--crowd 20] [--seconds 10]
 *   npm run bench:opening -- --smoke        seconds long, small: CI checks it still runs and oversells nothing
 *
 * Options also: --connections (64, the opening crowd; the search storm gets half), --gateway-threads
 * (cores - 1, as `npm run bench`), --profile (the gateway threads' CPU profiles into the run's folder).
 * Traffic goes to 127.0.0.1 only and every phase stops by itself.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, projectRoot } from '../engine/config.js';
import { formatCowinDate } from '../engine/dates.js';
import { BookingEngine } from '../engine/engine.js';
import { Partitions } from '../engine/partitions.js';
import { connectRedis } from '../engine/redis.js';
import { openPool } from '../worker/database.js';
import { formatReconcileReport, reconcile } from '../worker/reconcile.js';
import { answers, freePort, profilingArgs, redisCpuSeconds, reportProfiles, runBench, startProcess, stopAll } from './bench-processes.js';
import { wrkGet, wrkMix, wrkPost, type MixedRequest, type ScenarioResult } from './bench-scenarios.js';
import { benchedRedisServer, formatTable, loggedInCitizens, median, requireLoopbackServices, writeBenchCountry, type Citizen } from './bench-support.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    sessions: { type: 'string' },
    seats: { type: 'string' },
    crowd: { type: 'string' },
    seconds: { type: 'string' },
    connections: { type: 'string', default: '64' },
    'gateway-threads': { type: 'string' },
    smoke: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('npm run bench:opening -- [--runs 1] [--sessions 50] [--seats 100] [--crowd 20] [--seconds 10] [--connections 64] [--gateway-threads N] [--smoke] [--profile]');
  process.exit(0);
}
const SMOKE = args.smoke!;
const RUNS = Number(args.runs);
const SESSIONS = Number(args.sessions ?? (SMOKE ? 5 : 50));
const SEATS = Number(args.seats ?? (SMOKE ? 20 : 100));
const CROWD = Number(args.crowd ?? (SMOKE ? 5 : 20));
const SECONDS = Number(args.seconds ?? (SMOKE ? 2 : 10));
const CONNECTIONS = Number(args.connections);
const THREADS = Number(args['gateway-threads'] ?? Math.max(1, availableParallelism() - 1));
for (const [name, value, max] of [['runs', RUNS, 20], ['sessions', SESSIONS, 1000], ['seats', SEATS, 10_000], ['crowd', CROWD, 100], ['seconds', SECONDS, 300]] as const) {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`--${name}: expected a whole number from 1 to ${max}`);
}
/** beneficiaries per family, in turn: 1.8 on average */
const FAMILY_SIZES = [1, 1, 2, 1, 3, 2, 1, 4, 1, 2];
/** CoWIN's national peak, 28 April 2021 */
const COWIN_PEAK_RPS = 55_000;

const config = loadConfig();
requireLoopbackServices(config);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runDir = join(projectRoot(), 'loadtest', 'reports', `opening-${stamp}`);
mkdirSync(runDir, { recursive: true });
const id = randomUUID().slice(0, 8);
const prefix = `bench-opening:${id}:`;
const schema = `bench_opening_${id}`;
const progress = (line: string) => console.log(`[opening ${new Date().toISOString().slice(11, 19)}] ${line}`);

interface OpeningRun {
  run: number;
  seats: number;
  citizens: number;
  attempts: ScenarioResult;
  search: ScenarioResult;
  /** seconds from the opening until the last seat taken (±20 ms, the polling period) */
  soldOutSeconds: number;
  seatsTaken: number;
  redisCpuUsPerRequest: number;
  oversoldSessions: number;
  postgresSeats: number;
  reconcileOk: boolean;
  mix: ScenarioResult & { statuses: Record<string, number> };
  mixRedisCpuUsPerRequest: number;
}

function shuffled<T>(items: T[], seed: number): T[] {
  // a fixed generator: every run sends the same order
  let state = seed;
  const random = () => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

async function main(): Promise<void> {
  const { country, path: countryPath } = writeBenchCountry(config.countryFile, runDir, { beneficiaries_per_account: 20 });
  const redis = connectRedis({ address: { url: benchedRedisServer(config, 'bench:opening').url }, keyPrefix: prefix, role: 'tool', overrides: { enableAutoPipelining: true } });
  // TEEKA_LAYOUT as the gateway and worker have it (they inherit the environment)
  const engine = new BookingEngine(redis, {
    country,
    secret: config.secret,
    testMobiles: { prefix: '9999', otp: config.testOtp },
    partitions: new Partitions(config.partitions),
    layout: config.layout,
  });
  const pool = openPool({ databaseUrl: config.databaseUrl, schema, max: 2 });
  const env = { TEEKA_REDIS_PREFIX: prefix, TEEKA_COUNTRY: countryPath, TEEKA_PG_SCHEMA: schema, TEEKA_ENV: 'demo' };
  const runs: OpeningRun[] = [];
  try {
    const gatewayPort = await freePort();
    progress(`starting on loopback: worker, gateway (${THREADS} threads)`);
    await startProcess({ name: 'worker', script: 'worker/main.js', env, port: 0, logDir: runDir, ready: async () => (await pool.query("select to_regclass('appointments') as t")).rows[0].t !== null });
    await startProcess({
      name: 'gateway',
      script: 'gateway/main.js',
      env: { ...env, PORT: String(gatewayPort), HOST: '127.0.0.1', GATEWAY_THREADS: String(THREADS) },
      nodeArgs: profilingArgs(args.profile, join(runDir, 'profiles')),
      port: gatewayPort,
      logDir: runDir,
      ready: answers(`http://127.0.0.1:${gatewayPort}/healthz`),
    });
    const base = `http://127.0.0.1:${gatewayPort}`;
    const centers = country.data.centers;
    const districts = country.data.districts.map((d) => d.district_id);

    for (let r = 1; r <= RUNS; r++) {
      const seatsTotal = SESSIONS * SEATS;
      const wanted = seatsTotal * CROWD;
      const accounts = Math.ceil(wanted / (FAMILY_SIZES.reduce((a, b) => a + b) / FAMILY_SIZES.length));
      progress(`run ${r}/${RUNS}: logging in ${accounts} families (${wanted} beneficiaries) for ${SESSIONS} sessions × ${SEATS} seats`);
      const families: Citizen[] = await loggedInCitizens(engine, config.secret, config.testOtp, {
        accounts,
        mobileOf: (i) => `9999${r % 10}${String(i).padStart(5, '0')}`, // 10 digits: 100,000 families a run at most
        beneficiariesOf: (i) => FAMILY_SIZES[i % FAMILY_SIZES.length]!,
        photoIdOf: (i, b) => `5${String(r).padStart(2, '0')}${String(i).padStart(7, '0')}${b}0`,
      });

      // the sessions: distinct centres and days, every one opening at the same instant
      const today = engine.today();
      const opensAt = engine.now() + 5000;
      const sessions: { sessionId: string; slots: string[]; districtId: number }[] = [];
      for (let s = 0; s < SESSIONS; s++) {
        const center = centers[s % centers.length]!;
        const published = await engine.publishSession({
          center_id: center.center_id,
          date: today + 1 + Math.floor(s / centers.length) + 7 * (r - 1),
          vaccine: 'COVISHIELD',
          min_age_limit: 18,
          capacity_dose1: SEATS,
          capacity_dose2: 0,
          opens_at: opensAt,
        });
        if (!published.ok) throw new Error(`publishSession: ${published.status}`);
        sessions.push({ sessionId: published.sessionId, slots: country.slotsOf(center), districtId: center.district_id });
      }
      // each family tries one session, then (if the run lasts) another: the order is shuffled once
      const attempts = shuffled(
        [0, 1].flatMap((pass) =>
          families.map((family, i) => {
            const session = sessions[(i * 7 + pass * 3) % sessions.length]!;
            return { token: family.token, body: JSON.stringify({ dose: 1, session_id: session.sessionId, slot: session.slots[i % session.slots.length], beneficiaries: family.beneficiaryIds }) };
          }),
        ),
        r,
      );
      const searchTokens = families.slice(0, 500).map((f) => f.token);
      const searchPaths = districts.map((d) => `/api/v2/appointment/sessions/calendarByDistrict?district_id=${d}&date=${formatCowinDate(today)}`);

      // the gateway follows logins from the stream: give its threads a moment, then wait for the opening
      await new Promise((res) => setTimeout(res, Math.max(0, opensAt - engine.now())));
      progress(`run ${r}: the opening — ${attempts.length} attempts for ${seatsTotal} seats, with a search storm (${SECONDS}s)`);
      const cpuBefore = await redisCpuSeconds(redis);
      const openedAt = performance.now();
      // the seats taken, polled: when the last one was taken (families of 3 or 4 may leave a seat or
      // two no one can take, so "sold out" is the last seat taken, not the count reaching capacity)
      let soldOutSeconds = NaN;
      let watching = true;
      const soldOut = (async () => {
        let last = 0;
        while (watching) {
          const pipeline = redis.pipeline();
          for (const s of sessions) pipeline.hget(engine.records.session(s.sessionId), 'booked1');
          const taken = ((await pipeline.exec()) ?? []).reduce((n, [, v]) => n + Number(v ?? 0), 0);
          if (taken > last) {
            last = taken;
            soldOutSeconds = (performance.now() - openedAt) / 1000;
          }
          if (taken >= seatsTotal) return;
          await new Promise((res) => setTimeout(res, 20));
        }
      })();
      const [attemptsResult, searchResult] = await Promise.all([
        wrkPost({
          scenario: `opening-${r}`,
          target: `POST /appointment/schedule at the opening: ${SESSIONS} sessions × ${SEATS} seats, ${CROWD}× more citizens, families of 1–4`,
          url: base,
          path: '/api/v2/appointment/schedule',
          seconds: SECONDS,
          connections: CONNECTIONS,
          scratchDir: runDir,
          requests: attempts,
          okStatus: 200,
          expectedRefusal: 409,
        }),
        wrkGet({ scenario: `opening-search-${r}`, target: 'protected calendarByDistrict during the opening', url: base, paths: searchPaths, tokens: searchTokens, gzip: true, seconds: SECONDS, connections: Math.max(1, CONNECTIONS / 2), scratchDir: runDir }),
      ]);
      watching = false;
      await soldOut;
      const cpuUsed = (await redisCpuSeconds(redis)) - cpuBefore;

      progress(`run ${r}: oversell check, drain and reconcile`);
      let oversold = 0;
      let seatsTaken = 0;
      for (const s of sessions) {
        const state = (await engine.getSession(s.sessionId))!;
        seatsTaken += state.booked1;
        if (state.booked1 > state.cap1) oversold += 1;
      }
      const ids = sessions.map((s) => s.sessionId);
      const pgSeats = async () => Number((await pool.query("select count(*)::int as n from appointments where session_id = any($1) and status <> 'cancelled'", [ids])).rows[0].n);
      const drainStarted = performance.now();
      while ((await pgSeats()) < seatsTaken && performance.now() - drainStarted < 120_000) await new Promise((res) => setTimeout(res, 200));
      const postgresSeats = await pgSeats();
      const perSession = await pool.query("select session_id, count(*)::int as n from appointments where session_id = any($1) and status <> 'cancelled' group by session_id having count(*) > $2", [ids, SEATS]);
      oversold += perSession.rowCount ?? 0;
      const reconciled = await reconcile(redis, pool, engine.partitions);
      if (!reconciled.ok) console.error(formatReconcileReport(reconciled, 20));

      progress(`run ${r}: the CoWIN mix (${SECONDS}s)`);
      const pincodes = country.data.rules.search_by_pincode ? [...new Set(centers.map((c) => String(c.pincode)))] : [];
      const mix = cowinMix(sessions, families, today, pincodes);
      const mixCpuBefore = await redisCpuSeconds(redis);
      const mixResult = await wrkMix({ scenario: `cowin-mix-${r}`, target: 'CoWIN-shaped mix', url: base, seconds: SECONDS, connections: CONNECTIONS, scratchDir: runDir, requests: mix });
      const mixCpu = (await redisCpuSeconds(redis)) - mixCpuBefore;

      runs.push({
        run: r,
        seats: seatsTotal,
        citizens: wanted,
        attempts: attemptsResult,
        search: searchResult,
        soldOutSeconds,
        seatsTaken,
        redisCpuUsPerRequest: (cpuUsed * 1e6) / (attemptsResult.requests + searchResult.requests),
        oversoldSessions: oversold,
        postgresSeats,
        reconcileOk: reconciled.ok,
        mix: mixResult,
        mixRedisCpuUsPerRequest: (mixCpu * 1e6) / mixResult.requests,
      });
      progress(`run ${r}: ${seatsTaken}/${seatsTotal} seats taken, the last after ${soldOutSeconds.toFixed(2)} s, oversold sessions ${oversold}, reconcile ${reconciled.ok ? 'ok' : 'FAILED'}`);
    }

    const report = renderReport(runs);
    writeFileSync(join(runDir, 'report.md'), report);
    writeFileSync(join(runDir, 'results.json'), JSON.stringify(runs, null, 2));
    console.log(`\n${report}\nreport: ${join(runDir, 'report.md')}`);
    if (runs.some((x) => x.oversoldSessions > 0 || !x.reconcileOk || x.postgresSeats !== x.seatsTaken)) {
      console.error('bench:opening: an oversell, a reconcile failure or an undrained booking (see above)');
      process.exitCode = 1;
    }
  } finally {
    await pool.end().catch(() => {});
    redis.disconnect();
    // the gateway writes its profiles as it exits: stop it now (runBench's clean-up finds nothing left)
    if (args.profile) {
      await stopAll();
      reportProfiles(join(runDir, 'profiles'));
    }
  }
}

/**
 * CoWIN-shaped traffic, by weight: searches dominate (public and protected, by district and PIN),
 * then logins, beneficiary lists and a few booking attempts (into the sessions the opening filled).
 */
function cowinMix(sessions: { sessionId: string; slots: string[]; districtId: number }[], families: Citizen[], today: number, pincodes: string[]): MixedRequest[] {
  const date = formatCowinDate(today);
  const districts = [...new Set(sessions.map((s) => s.districtId))];
  // a country without postal codes: its PIN share goes to district search
  const byPin = pincodes.length ? 10 : 0;
  const kinds: [weight: number, make: (i: number) => MixedRequest][] = [
    [45 - byPin, (i) => ({ method: 'GET', path: `/api/v2/appointment/sessions/public/calendarByDistrict?district_id=${districts[i % districts.length]}&date=${date}` })],
    [byPin, (i) => ({ method: 'GET', path: `/api/v2/appointment/sessions/public/findByPin?pincode=${pincodes[i % pincodes.length]}&date=${date}` })],
    [35, (i) => ({ method: 'GET', path: `/api/v2/appointment/sessions/calendarByDistrict?district_id=${districts[i % districts.length]}&date=${date}`, token: families[i % families.length]!.token })],
    [5, (i) => ({ method: 'GET', path: '/api/v2/appointment/beneficiaries', token: families[i % families.length]!.token })],
    [5, (i) => {
      const family = families[i % families.length]!;
      const session = sessions[i % sessions.length]!;
      return { method: 'POST', path: '/api/v2/appointment/schedule', token: family.token, body: JSON.stringify({ dose: 1, session_id: session.sessionId, slot: session.slots[0], beneficiaries: family.beneficiaryIds }) };
    }],
    [5, (i) => ({ method: 'POST', path: '/api/v2/auth/generateMobileOTP', body: JSON.stringify({ mobile: `99997${String(i % 100_000).padStart(5, '0')}` }) })],
    // a confirmation with an OTP transaction the gateway never issued: refused, as most retries are
    [5, () => ({ method: 'POST', path: '/api/v2/auth/validateMobileOtp', body: JSON.stringify({ otp: '0'.repeat(64), txnId: randomUUID() }) })],
  ];
  const requests: MixedRequest[] = [];
  for (let i = 0; i < 2000; i++) for (const [weight, make] of kinds) for (let w = 0; w < weight; w++) requests.push(make(i * 100 + w));
  return shuffled(requests, 7);
}

function renderReport(runs: OpeningRun[]): string {
  const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
  const ms = (n: number) => n.toFixed(1);
  const med = (pick: (x: OpeningRun) => number) => median(runs.map(pick));
  const lines: string[] = [];
  const first = runs[0]!;
  lines.push(`# The opening and the CoWIN mix\n`);
  lines.push(`\`npm run bench:opening --${SMOKE ? ' --smoke' : ''} --runs ${RUNS} --sessions ${SESSIONS} --seats ${SEATS} --crowd ${CROWD} --seconds ${SECONDS} --connections ${CONNECTIONS} --gateway-threads ${THREADS}\``);
  lines.push(`\n${SESSIONS} sessions × ${SEATS} seats (${first.seats} seats) opened at one instant; ${first.citizens} citizens in families of 1–4 tried, each family once and then at another session; a protected search storm ran beside them. ${availableParallelism()} cores shared by the gateway (${THREADS} threads), Redis, PostgreSQL, the worker and wrk.\n`);
  lines.push(
    formatTable(
      ['run', 'attempts/s answered', 'p50 ms', 'p99 ms', 'seats taken', 'last seat taken after s', 'seats/s until then', 'search/s', 'search p99 ms', 'Redis CPU µs/request', 'oversold sessions', 'PostgreSQL seats', 'reconcile'],
      [
        ...runs.map((x) => [
          String(x.run), fmt(x.attempts.rps), ms(x.attempts.p50Ms), ms(x.attempts.p99Ms), `${x.seatsTaken}/${x.seats}`,
          Number.isFinite(x.soldOutSeconds) ? x.soldOutSeconds.toFixed(2) : 'none taken', fmt(x.seatsTaken / x.soldOutSeconds),
          fmt(x.search.rps), ms(x.search.p99Ms), x.redisCpuUsPerRequest.toFixed(1), String(x.oversoldSessions), String(x.postgresSeats), x.reconcileOk ? 'ok' : 'FAILED',
        ]),
        [
          'median', fmt(med((x) => x.attempts.rps)), ms(med((x) => x.attempts.p50Ms)), ms(med((x) => x.attempts.p99Ms)), '', ms(med((x) => x.soldOutSeconds)),
          fmt(med((x) => x.seatsTaken / x.soldOutSeconds)), fmt(med((x) => x.search.rps)), ms(med((x) => x.search.p99Ms)), med((x) => x.redisCpuUsPerRequest).toFixed(1), '', '', '',
        ],
      ],
    ),
  );
  lines.push(`\nAnswers per run: ${runs.map((x) => `run ${x.run}: ${x.attempts.notes.join('; ')}, ${x.attempts.errors} errors`).join(' · ')}\n`);
  lines.push(`## The CoWIN mix\n`);
  lines.push('35% public calendarByDistrict, 10% public findByPin, 35% protected calendarByDistrict, 5% beneficiary lists, 5% booking attempts (into the sessions the opening filled), 5% OTP requests, 5% OTP confirmations with an unknown transaction.\n');
  lines.push(
    formatTable(
      ['run', 'req/s', 'p50 ms', 'p99 ms', '÷ CoWIN peak (55,000 req/s)', 'Redis CPU µs/request', '5xx + socket errors', 'answers'],
      [
        ...runs.map((x) => [String(x.run), fmt(x.mix.rps), ms(x.mix.p50Ms), ms(x.mix.p99Ms), (x.mix.rps / COWIN_PEAK_RPS).toFixed(2), x.mixRedisCpuUsPerRequest.toFixed(1), String(x.mix.errors), x.mix.notes.join('')]),
        ['median', fmt(med((x) => x.mix.rps)), ms(med((x) => x.mix.p50Ms)), ms(med((x) => x.mix.p99Ms)), (med((x) => x.mix.rps) / COWIN_PEAK_RPS).toFixed(2), med((x) => x.mixRedisCpuUsPerRequest).toFixed(1), '', ''],
      ],
    ),
  );
  return lines.join('\n');
}

runBench('bench:opening', main, { databaseUrl: config.databaseUrl, schemas: [schema], redis: config.redis, prefix });
