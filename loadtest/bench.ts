/**
 * `npm run bench`: starts teeka and its baselines on loopback, runs every scenario for a bounded
 * time, and writes a markdown report with the ratios design.md asks for, all measured in the same
 * run on the same machine:
 *
 * - booking through the gateway vs redis-benchmark running the same booking script by EVALSHA;
 * - protected search (quota included) vs a uWS hello-world;
 * - teeka vs the PostgreSQL `UPDATE … WHERE available > 0` service on the same hot-session rush;
 * - the worker's drain rate vs the peak booking rate, and the time for queue depth to reach zero;
 * - after each rush: the oversell check and the reconcile command.
 *
 *   npm run bench                      one run, ~3 minutes; report in loadtest/reports/
 *   npm run bench -- --runs 3          three runs, medians
 *   npm run bench -- --publish         also write docs/performance.md and docs/performance-chart.svg
 *   npm run bench -- --smoke           seconds-long version for CI
 *   npm run bench -- --profile         also a V8 CPU profile of each gateway thread (all scenarios it
 *                                      serves: searches, both rushes, watchers) and its top functions
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig, projectRoot } from '../engine/config.js';
import { formatCowinDate } from '../engine/dates.js';
import { BookingEngine } from '../engine/engine.js';
import { Partitions } from '../engine/partitions.js';
import { keys } from '../engine/keys.js';
import { loadCountry } from '../engine/masterdata.js';
import { sha256Hex } from '../engine/ids.js';
import { openPool } from '../worker/database.js';
import { openPersistQueue } from '../worker/queue.js';
import { readQueueDepth } from '../worker/queue-depth.js';
import { reconcile, formatReconcileReport } from '../worker/reconcile.js';
import { loadWorkerSettings } from '../worker/settings.js';
import { answers, cpuSeconds, freePort, machineBusySeconds, measureCpu, pidCpuSeconds, postgresCpuSeconds, profilingArgs, reportProfiles, startProcess, stopAll } from './bench-processes.js';
import { renderChart, renderReport, type BenchRun, type BotsResult } from './bench-report.js';
import { autocannonPost, redisBenchmark, watchers, wrkGet, wrkPost, type ScenarioResult } from './bench-scenarios.js';
import { connectRedis } from '../engine/redis.js';
import { benchedRedisServer, createBeneficiaryPool, deleteKeysWithPrefix, loggedInCitizens, requireLoopbackServices, writeBenchCountry, type Citizen } from './bench-support.js';
import { publishPlannedSessions } from '../engine/seed.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    seconds: { type: 'string' },
    smoke: { type: 'boolean', default: false },
    publish: { type: 'boolean', default: false },
    connections: { type: 'string', default: '64' },
    'gateway-threads': { type: 'string' },
    /** write V8 CPU profiles of the gateway's threads into the run's folder and print their top functions */
    profile: { type: 'boolean', default: false },
  },
});

const SMOKE = args.smoke!;
const RUNS = Number(args.runs);
const SECONDS = Number(args.seconds ?? (SMOKE ? 2 : 10));
const CONNECTIONS = Number(args.connections);
// citizens pre-registered for the wrk rush (more than it can book in SECONDS) and for the autocannon rush
// the rush runs shorter than the other scenarios so the pool never runs out (every request books)
const RUSH_SECONDS = Math.min(SECONDS, SMOKE ? 1 : 5);
const RUSH_POOL = SMOKE ? 8000 : 60_000;
const AUTOCANNON_RUSH = SMOKE ? 500 : 5000;
const WATCHERS = SMOKE ? 50 : 1000;
const WATCHED_BOOKINGS = SMOKE ? 10 : 50;
// Redis, PostgreSQL, the worker and the load generators run on this machine too: by default the
// gateway (and, for fairness, the hello-world and the PostgreSQL baseline) leave them one core
const THREADS = Number(args['gateway-threads'] ?? Math.max(1, availableParallelism() - 1));
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 20) throw new Error('--runs: expected 1 to 20');

const config = loadConfig();
requireLoopbackServices(config);
const { host: redisHost, port: redisPort } = benchedRedisServer(config, 'bench');

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runDir = join(projectRoot(), 'loadtest', 'reports', stamp);
mkdirSync(runDir, { recursive: true });
const id = randomUUID().slice(0, 8);
const prefix = `bench:${id}:`;
const botsPrefix = `bench-bots:${id}:`;
const schema = `bench_${id}`;
const progress = (line: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** Log in `accounts` test numbers and give each `perAccount` beneficiaries, through the engine. */
function citizens(engine: BookingEngine, run: number, accounts: number, perAccount: number): Promise<Citizen[]> {
  return loggedInCitizens(engine, config.secret, config.testOtp, {
    accounts,
    mobileOf: (i) => `9999${String(run).padStart(2, '0')}${String(i).padStart(4, '0')}`,
    beneficiariesOf: () => perAccount,
    // Aadhaar-shaped (12 digits), unique within the run's own key prefix
    photoIdOf: (i, b) => `1${String(run).padStart(2, '0')}${String(i).padStart(7, '0')}${String(b).padStart(2, '0')}`,
  });
}

/**
 * How the gateway's booking scripts were coalesced (engine/coalesce.ts), from its counters; since
 * `before` when given. The threads' counts reach /metrics once a second (and a second later on a busy
 * machine), so it waits for two of those.
 */
async function coalescedBookings(base: string, before = { bookings: 0, calls: 0 }): Promise<{ bookings: number; calls: number }> {
  await new Promise((resolve) => setTimeout(resolve, 2200));
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name}\\{script="bookAppointment"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { bookings: read('teeka_coalesced_requests_total') - before.bookings, calls: read('teeka_coalesced_batches_total') - before.calls };
}

async function main(): Promise<void> {
  const { country, path: countryPath } = writeBenchCountry(config.countryFile, runDir, { beneficiaries_per_account: 20 });
  const redis = connectRedis({ address: config.redis, keyPrefix: prefix, role: 'tool', overrides: { enableAutoPipelining: true } });
  const engine = new BookingEngine(redis, { country, secret: config.secret, testMobiles: { prefix: '9999', otp: config.testOtp } });
  const pool = openPool({ databaseUrl: config.databaseUrl, schema, max: 2 });
  const queue = openPersistQueue({ redisAddress: config.redis, redisKeyPrefix: prefix, settings: loadWorkerSettings() });
  const env = { TEEKA_REDIS_PREFIX: prefix, TEEKA_COUNTRY: countryPath, TEEKA_PG_SCHEMA: schema, TEEKA_ENV: 'demo' };

  try {
    progress(`starting on loopback: worker, gateway (${THREADS} threads), uWS hello-world, PostgreSQL baseline, a second gateway with real quotas for the bots`);
    const [gatewayPort, helloPort, pgPort, botsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const worker = await startProcess({ name: 'worker', script: 'worker/main.js', env, port: 0, logDir: runDir, ready: async () => (await pool.query("select to_regclass('appointments') as t")).rows[0].t !== null });
    // every watcher connects from this one address: lift the per-address WebSocket limit above them
    const gateway = await startProcess({ name: 'gateway', script: 'gateway/main.js', env: { ...env, PORT: String(gatewayPort), HOST: '127.0.0.1', GATEWAY_THREADS: String(THREADS), TEEKA_WS_MAX_PER_ADDRESS: String(WATCHERS + 10) }, nodeArgs: profilingArgs(args.profile, join(runDir, 'profiles')), port: gatewayPort, logDir: runDir, ready: answers(`http://127.0.0.1:${gatewayPort}/healthz`) });
    await startProcess({ name: 'hello-uws', script: 'loadtest/baseline/hello-uws.js', args: [String(helloPort), String(THREADS)], port: helloPort, logDir: runDir, ready: answers(`http://127.0.0.1:${helloPort}/`) });
    await startProcess({
      name: 'pg-baseline',
      script: 'loadtest/baseline/pg-booking-server.js',
      args: [String(pgPort), String(THREADS), config.databaseUrl, `${schema}_baseline`],
      port: pgPort,
      logDir: runDir,
      ready: async () => (await fetch(`http://127.0.0.1:${pgPort}/`, { method: 'POST' })).status === 404,
    });
    await startProcess({
      name: 'gateway-bots',
      script: 'gateway/main.js',
      // no worker and no system of record behind it: a schema no one migrates
      env: { TEEKA_REDIS_PREFIX: botsPrefix, TEEKA_PG_SCHEMA: `${schema}_bots`, TEEKA_ENV: 'demo', PORT: String(botsPort), HOST: '127.0.0.1', GATEWAY_THREADS: '1' },
      port: botsPort,
      logDir: runDir,
      ready: answers(`http://127.0.0.1:${botsPort}/healthz`),
    });
    const base = `http://127.0.0.1:${gatewayPort}`;
    // where the machine's CPU goes in a scenario, process by process (bench-report.ts "CPU per booking")
    const redisPid = Number(/process_id:(\d+)/.exec(String(await redis.call('INFO', 'server')))?.[1]);
    const rushCpuSources = {
      gateway: () => cpuSeconds(gateway),
      worker: () => cpuSeconds(worker),
      postgres: postgresCpuSeconds,
      redis: () => pidCpuSeconds(redisPid),
      bench: () => (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      machine: machineBusySeconds,
    };
    const today = engine.today();
    // the demo country's sessions of the coming week, so a calendar is as big as a real one (tens of KB)
    const seeded = await publishPlannedSessions(engine, today, 8);
    progress(`published the demo plans: ${seeded.published} sessions`);
    const districts = country.data.districts.map((d) => d.district_id);
    const searchPaths = (kind: 'public/' | '') => districts.map((d) => `/api/v2/appointment/sessions/${kind}calendarByDistrict?district_id=${d}&date=${formatCowinDate(today)}`);

    const runs: BenchRun[] = [];
    for (let r = 1; r <= RUNS; r++) {
      const citizensNeeded = RUSH_POOL + AUTOCANNON_RUSH;
      progress(`run ${r}/${RUNS}: preparing ${citizensNeeded} beneficiaries in ${Math.ceil(citizensNeeded / 20)} logged-in accounts`);
      const people = await citizens(engine, r, Math.ceil(citizensNeeded / 20), 20);
      const seats = people.flatMap((c) => c.beneficiaryIds.map((beneficiaryId) => ({ token: c.token, beneficiaryId })));
      /** Resolves (with the time) once the worker has written everything to PostgreSQL. */
      const drained = async (limitMs = 300_000) => {
        const started = performance.now();
        for (;;) {
          const depth = await readQueueDepth(redis, queue.queue);
          if (depth.outboxLength === 0 && depth.bull.active === 0 && depth.bull.waiting === 0) return performance.now();
          if (performance.now() - started > limitMs) throw new Error(`the worker did not drain within ${limitMs / 1000} s`);
          await new Promise((res) => setTimeout(res, 100));
        }
      };
      // the registrations went through the outbox too: let the worker finish them before measuring
      await drained();
      const center = country.data.centers[r % country.data.centers.length]!;
      const slots = country.slotsOf(center);
      // one hot session with a seat for every citizen: every booking takes the success path
      const capacity = seats.length;
      const hot = await engine.publishSession({ center_id: center.center_id, date: today + 1, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: capacity, capacity_dose2: 0 });
      if (!hot.ok) throw new Error(`publishSession: ${hot.status}`);
      const tokens = people.slice(0, 500).map((c) => c.token);
      const results: ScenarioResult[] = [];
      const bookingBody = (seat: { beneficiaryId: string }, i: number) =>
        JSON.stringify({ dose: 1, session_id: hot.sessionId, slot: slots[i % slots.length], beneficiaries: [seat.beneficiaryId] });

      progress(`run ${r}: hello-world (wrk, ${SECONDS}s)`);
      results.push(await wrkGet({ scenario: 'hello-world', target: 'uWS hello-world (baseline)', url: `http://127.0.0.1:${helloPort}`, paths: ['/'], seconds: SECONDS, connections: CONNECTIONS, scratchDir: runDir }));
      progress(`run ${r}: protected search with quota (wrk, ${SECONDS}s)`);
      const searchCpuBefore = cpuSeconds(gateway);
      const search = await wrkGet({ scenario: 'search', target: 'protected calendarByDistrict (gzip), per-user quota script on every request', url: base, paths: searchPaths(''), tokens, gzip: true, seconds: SECONDS, connections: CONNECTIONS, scratchDir: runDir });
      // the CPU a request costs the gateway (all its threads, /proc): a busy machine moves it far less than req/s
      search.notes.push(`gateway CPU ${(((cpuSeconds(gateway) - searchCpuBefore) * 1e6) / Math.max(1, search.requests)).toFixed(1)} µs per request`);
      results.push(search);
      progress(`run ${r}: public search (wrk, ${SECONDS}s)`);
      results.push(await wrkGet({ scenario: 'search-public', target: 'public calendarByDistrict (gzip), per-address limit script on every request', url: base, paths: searchPaths('public/'), gzip: true, seconds: SECONDS, connections: CONNECTIONS, scratchDir: runDir }));

      progress(`run ${r}: hot-session rush through the gateway (wrk, ${RUSH_SECONDS}s, ${RUSH_POOL} citizens)`);
      const rowsBefore = Number((await pool.query('select count(*)::int as n from appointments')).rows[0].n);
      const batchesBefore = await coalescedBookings(base);
      const rushCpu = measureCpu(rushCpuSources);
      const rushStarted = performance.now();
      const rush = await wrkPost({
        scenario: 'rush',
        target: `POST /appointment/schedule into one hot session, a new citizen per request (wrk)`,
        url: base,
        path: '/api/v2/appointment/schedule',
        seconds: RUSH_SECONDS,
        connections: CONNECTIONS,
        scratchDir: runDir,
        requests: seats.slice(0, RUSH_POOL).map((seat, i) => ({ token: seat.token, body: bookingBody(seat, i) })),
        okStatus: 200,
        expectedRefusal: 409,
      });
      const rushEnded = performance.now();
      const rushCpuUsed = rushCpu();
      rush.notes.push(`gateway CPU ${((rushCpuUsed.gateway * 1e6) / Math.max(1, rush.requests)).toFixed(1)} µs per request`);
      results.push(rush);

      // drain: how long until PostgreSQL has everything, and at what rate the backlog went
      const backlog = (await readQueueDepth(redis, queue.queue)).outboxLength;
      const drainedAt = await drained();
      const rows = Number((await pool.query('select count(*)::int as n from appointments')).rows[0].n) - rowsBefore;
      const drainSeconds = (drainedAt - rushEnded) / 1000;
      const batches = await coalescedBookings(base, batchesBefore);
      rush.notes.push(`booking scripts: ${batches.bookings} bookings in ${batches.calls} calls (mean ${(batches.bookings / Math.max(1, batches.calls)).toFixed(1)} per call)`);

      progress(`run ${r}: the same rush driven by autocannon (${AUTOCANNON_RUSH} bookings)`);
      results.push(
        await autocannonPost({
          scenario: 'rush-autocannon',
          target: `the same rush, ${AUTOCANNON_RUSH} citizens, driven by autocannon (a JavaScript load generator)`,
          url: base,
          path: '/api/v2/appointment/schedule',
          amount: AUTOCANNON_RUSH,
          maxSeconds: 120,
          connections: CONNECTIONS,
          okStatus: 200,
          expectedRefusal: 409,
          request: (i) => {
            const seat = seats[RUSH_POOL + i]!;
            return { headers: { authorization: `Bearer ${seat.token}` }, body: bookingBody(seat, i) };
          },
        }),
      );
      await drained();

      progress(`run ${r}: oversell check and reconcile`);
      const session = (await engine.getSession(hot.sessionId))!;
      const pgSeats = Number((await pool.query("select count(*)::int as n from appointments where session_id = $1 and status <> 'cancelled'", [hot.sessionId])).rows[0].n);
      const reconciled = await reconcile(redis, pool);

      progress(`run ${r}: the same rush on the PostgreSQL baseline (wrk, ${RUSH_SECONDS}s)`);
      const baselineSession = `hot-${r}`;
      await fetch(`http://127.0.0.1:${pgPort}/sessions`, { method: 'POST', body: JSON.stringify({ id: baselineSession, available: capacity }) });
      results.push(
        await wrkPost({
          scenario: 'rush-postgres',
          target: 'Node HTTP + UPDATE … SET available = available - 1 WHERE available > 0, one hot session (wrk)',
          url: `http://127.0.0.1:${pgPort}`,
          path: '/book',
          seconds: RUSH_SECONDS,
          connections: CONNECTIONS,
          scratchDir: runDir,
          requests: Array.from({ length: RUSH_POOL }, (_, i) => ({ body: JSON.stringify({ session_id: baselineSession, beneficiary_id: `${r}-${i}` }) })),
          okStatus: 200,
          expectedRefusal: 409,
        }),
      );
      const baselineRow = await pool.query(`select available from ${schema}_baseline.sessions where id = $1`, [baselineSession]);
      const baselineBooked = Number((await pool.query(`select count(*)::int as n from ${schema}_baseline.bookings where session_id = $1`, [baselineSession])).rows[0].n);

      progress(`run ${r}: redis-benchmark running the booking script by EVALSHA`);
      // redis-benchmark draws ids at random, so its bookings share appointment ids and repeat
      // beneficiaries across runs: they go under a prefix of their own, which no worker drains
      // and no reconcile reads
      const rawPrefix = `${prefix}raw${r}:`;
      const rawRedis = connectRedis({ address: config.redis, keyPrefix: rawPrefix, role: 'tool' });
      const rawEngine = new BookingEngine(rawRedis, { country, secret: config.secret, partitions: new Partitions(config.partitions) });
      const rawAccount = 'bench-raw';
      const rawRequests = SMOKE ? 2000 : 30_000;
      await createBeneficiaryPool(rawRedis, rawAccount, rawRequests * 20);
      const rawSession = await rawEngine.publishSession({ center_id: center.center_id, date: today + 2, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 1_000_000, capacity_dose2: 0, slot_capacity: slots.map(() => 1_000_000) });
      if (!rawSession.ok) throw new Error('publishSession failed');
      const book = engine.scripts.source('bookAppointment');
      await redis.script('LOAD', book.lua);
      const rawCpu = measureCpu({ redis: rushCpuSources.redis, machine: machineBusySeconds });
      const rawStarted = performance.now();
      const rawRps = await redisBenchmark(redisHost, redisPort, rawRequests, CONNECTIONS, rawRequests * 20, [
        'EVALSHA', book.sha, '6',
        rawPrefix + keys.session(rawSession.sessionId), rawPrefix + keys.account(rawAccount), rawPrefix + keys.appointment('__rand_int__'),
        rawPrefix + keys.idempotency(rawAccount, '-'), rawPrefix + keys.outbox(), rawPrefix + keys.availability(),
        'raw-__rand_int__', rawSession.sessionId, rawAccount, slots[0]!, '1', String(engine.now()), String(today), '', '86400000', '100000', '4821', '', '', '__rand_int__',
      ]);
      const rawCpuUsed = rawCpu();
      const rawSeconds = (performance.now() - rawStarted) / 1000;
      rawRedis.disconnect();
      await deleteKeysWithPrefix(config.redis, rawPrefix);

      progress(`run ${r}: ${WATCHERS} WebSocket watchers`);
      const watchingCitizens = await citizens(engine, 50 + r, WATCHED_BOOKINGS, 1);
      const watched = await engine.publishSession({ center_id: center.center_id, date: today + 3, vaccine: 'COVAXIN', min_age_limit: 18, capacity_dose1: 1000, capacity_dose2: 0, slot_capacity: slots.map(() => 1000) });
      if (!watched.ok) throw new Error('publishSession failed');
      const watchers_ = await watchers({
        wsUrl: `ws://127.0.0.1:${gatewayPort}/teeka/ws/availability?district_id=${center.district_id}`,
        watchers: WATCHERS,
        bookings: WATCHED_BOOKINGS,
        sessionId: watched.sessionId,
        bookOne: async (i) => {
          const citizen = watchingCitizens[i]!;
          const response = await fetch(`${base}/api/v2/appointment/schedule`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${citizen.token}` },
            body: JSON.stringify({ dose: 1, session_id: watched.sessionId, slot: slots[0], beneficiaries: [citizen.beneficiaryIds[0]] }),
          });
          if (response.status !== 200) throw new Error(`watcher booking: ${response.status} ${await response.text()}`);
          return 1000 - (i + 1);
        },
      });
      results.push(watchers_);

      progress(`run ${r}: bots against the real quotas`);
      const bots = await botsScenario(`http://127.0.0.1:${botsPort}`, r);

      runs.push({
        run: r,
        results,
        rush: {
          capacity,
          booked: session.booked1,
          postgresSeats: pgSeats,
          rushSeconds: (rushEnded - rushStarted) / 1000,
          backlogAtEnd: backlog,
          drainSeconds,
          rowsWritten: rows,
          reconcileOk: reconciled.ok,
          reconcileText: formatReconcileReport(reconciled, 20),
        },
        baseline: { capacity, booked: baselineBooked, available: Number(baselineRow.rows[0]?.available ?? NaN) },
        redisBenchmarkBookRps: rawRps,
        cpu: {
          rushSeconds: (rushEnded - rushStarted) / 1000,
          rushBookings: Math.round(rush.okPerSecond * rush.seconds),
          rush: rushCpuUsed,
          redisBenchmark: { seconds: rawSeconds, scripts: rawRequests, redis: rawCpuUsed.redis, machine: rawCpuUsed.machine },
        },
        bots,
      });
      progress(`run ${r}: done — ${Math.round(rush.okPerSecond)} bookings/s through the gateway, reconcile ${reconciled.ok ? 'ok' : 'FAILED'}`);
    }

    const machine = {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: availableParallelism(),
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      redis: String(await redis.call('INFO', 'server')).match(/redis_version:(\S+)/)?.[1] ?? '?',
      postgres: String((await pool.query('show server_version')).rows[0].server_version),
    };
    const command = `npm run bench --${SMOKE ? ' --smoke' : ''}${RUNS > 1 ? ` --runs ${RUNS}` : ''} --seconds ${SECONDS} --gateway-threads ${THREADS}`;
    const report = renderReport({ runs, machine, command, seconds: SECONDS, connections: CONNECTIONS, threads: THREADS, rushPool: RUSH_POOL, rushSeconds: RUSH_SECONDS, startedAt: stamp });
    writeFileSync(join(runDir, 'report.md'), report.markdown);
    writeFileSync(join(runDir, 'chart.svg'), renderChart(runs));
    writeFileSync(join(runDir, 'results.json'), JSON.stringify({ machine, runs }, null, 2));
    if (args.publish) {
      const docs = join(projectRoot(), 'docs');
      mkdirSync(docs, { recursive: true });
      const target = join(docs, 'performance.md');
      const existing = existsSync(target) ? readFileSync(target, 'utf8') : '';
      const block = `<!-- bench:start -->\n${report.markdown}\n<!-- bench:end -->`;
      const updated = existing.includes('<!-- bench:start -->')
        ? existing.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, block)
        : `# Performance\n\n${block}\n`;
      writeFileSync(target, updated);
      writeFileSync(join(docs, 'performance-chart.svg'), renderChart(runs));
      progress(`published docs/performance.md and docs/performance-chart.svg`);
    }
    console.log(`\n${report.summary}\n\nreport: ${join(runDir, 'report.md')}`);
    if (!report.correct) {
      console.error('bench: an oversell check or reconcile FAILED (see the report)');
      process.exitCode = 1;
    }
  } finally {
    await queue.close().catch(() => {});
    await pool.end().catch(() => {});
    redis.disconnect();
    await cleanUp();
    if (args.profile) reportProfiles(join(runDir, 'profiles'));
  }
}

let cleanedUp: Promise<void> | undefined;
/** Stop every process the bench started, drop its schemas and delete its keys (once). */
function cleanUp(): Promise<void> {
  cleanedUp ??= (async () => {
    await stopAll();
    const admin = new pg.Client({ connectionString: config.databaseUrl });
    await admin.connect().then(
      () => admin.query(`drop schema if exists ${schema} cascade; drop schema if exists ${schema}_baseline cascade`),
      () => undefined,
    );
    await admin.end().catch(() => {});
    await deleteKeysWithPrefix(config.redis, prefix);
    await deleteKeysWithPrefix(config.redis, botsPrefix);
  })();
  return cleanedUp;
}

/**
 * Bots poll protected search as fast as they can, re-logging in after each logout; one client
 * hammers the public API from one address; honest citizens search a little and book. Expected:
 * logouts and 429s for the bots, every honest booking made.
 */
async function botsScenario(base: string, run: number): Promise<BotsResult> {
  const demoEngineRedis = connectRedis({ address: config.redis, keyPrefix: botsPrefix, role: 'tool' });
  const engine = new BookingEngine(demoEngineRedis, { country: loadCountry(config.countryFile), secret: config.secret, partitions: new Partitions(config.partitions) });
  const center = engine.country.data.centers[0]!;
  const session = await engine.publishSession({ center_id: center.center_id, date: engine.today() + 1, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 100, capacity_dose2: 0 });
  if (!session.ok) throw new Error('publishSession failed');
  const counts = { botSearches: 0, botLogouts: 0, botBlocks: 0, public429: 0, publicOk: 0, honestBookings: 0, honestFailures: 0 };
  const login = async (mobile: string): Promise<string> => {
    const otp = (await (await fetch(`${base}/api/v2/auth/generateMobileOTP`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mobile }) })).json()) as { txnId?: string };
    if (!otp.txnId) return '';
    const done = (await (await fetch(`${base}/api/v2/auth/validateMobileOtp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ otp: sha256Hex(config.testOtp), txnId: otp.txnId }) })).json()) as { token?: string };
    return done.token ?? '';
  };
  const until = Date.now() + (SMOKE ? 2000 : 8000);
  const path = `/api/v2/appointment/sessions/calendarByDistrict?district_id=${center.district_id}&date=${formatCowinDate(engine.today())}`;
  const bot = async (n: number) => {
    let token = await login(`99998${String(run).padStart(2, '0')}${String(n).padStart(3, '0')}`);
    while (Date.now() < until && token) {
      const response = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
      await response.arrayBuffer();
      if (response.status === 200) counts.botSearches += 1;
      else if (response.status === 401) {
        counts.botLogouts += 1;
        token = await login(`99998${String(run).padStart(2, '0')}${String(n).padStart(3, '0')}`);
      } else if (response.status === 403) {
        counts.botBlocks += 1;
        return;
      }
    }
  };
  const publicBot = async () => {
    while (Date.now() < until) {
      const response = await fetch(`${base}/api/v2/appointment/sessions/public/calendarByDistrict?district_id=${center.district_id}&date=${formatCowinDate(engine.today())}`);
      await response.arrayBuffer();
      if (response.status === 429) counts.public429 += 1;
      else if (response.status === 200) counts.publicOk += 1;
    }
  };
  const honest = async (n: number) => {
    const token = await login(`99997${String(run).padStart(2, '0')}${String(n).padStart(3, '0')}`);
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const added = (await (await fetch(`${base}/api/v2/registration/beneficiary/new`, { method: 'POST', headers, body: JSON.stringify({ name: 'Honest Citizen', birth_year: '1975', gender_id: 2, photo_id_type: 1, photo_id_number: `2${String(run).padStart(2, '0')}${String(n).padStart(9, '0')}`, comorbidity_ind: 'N', consent_version: 'V1' }) })).json()) as { beneficiary_reference_id?: string };
    for (let i = 0; i < 3; i++) await (await fetch(base + path, { headers })).arrayBuffer();
    const booked = await fetch(`${base}/api/v2/appointment/schedule`, { method: 'POST', headers, body: JSON.stringify({ dose: 1, session_id: session.sessionId, slot: engine.country.slotsOf(center)[n % 4], beneficiaries: [added.beneficiary_reference_id] }) });
    await booked.arrayBuffer();
    if (booked.status === 200) counts.honestBookings += 1;
    else counts.honestFailures += 1;
  };
  await Promise.all([...Array.from({ length: 20 }, (_, n) => bot(n)), publicBot(), ...Array.from({ length: 10 }, (_, n) => honest(n))]);
  demoEngineRedis.disconnect();
  return { ...counts, bots: 20, honest: 10 };
}

// Ctrl-C or SIGTERM: stop what the bench started and remove what it wrote, then exit
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

main().catch(async (err) => {
  console.error('bench failed:', err);
  await cleanUp();
  process.exit(1);
});
