/**
 * `npm run bench:refusals`: the part of a real opening that `npm run bench` leaves out — the seats
 * are gone and the crowd keeps trying. A short, bounded run on loopback that measures, in the same
 * run and beside a uWS hello-world on as many threads as the gateway:
 *
 * - refused attempts: POST /appointment/schedule into a full session, a rotating crowd of logged-in
 *   citizens (wrk), and the Redis commands each attempt costs (from `INFO commandstats`);
 * - protected search with the per-user quota (wrk, gzip), as in `npm run bench`;
 * - both again against uWS replaying the gateway's recorded answers to the same requests
 *   (loadtest/baseline/replay-uws.ts): the ceiling for that traffic, so that what teeka's own work
 *   costs is told apart from what the bigger requests and answers cost uWS and the kernel;
 * - how stale a gateway thread's memory is, alone and under that load: a seat of another session
 *   is cancelled and booked again, and a login replaces the previous one, every 20 ms, for 2 s on
 *   its own and then under the crowd; the gateway's own histograms (`teeka_stream_lag_seconds`)
 *   time each stream entry from its XADD to the moment a thread applied it.
 *
 *   npm run bench:refusals -- --runs 3 --seconds 5
 *
 * Options: --runs (1), --seconds per scenario (5), --connections (64), --gateway-threads (cores - 1,
 * as `npm run bench`), --citizens in the crowd (500).
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
import { sha256Hex } from '../engine/ids.js';
import { publishPlannedSessions } from '../engine/seed.js';
import { answers, cpuSeconds, freePort, profilingArgs, recordAnswer, reportProfiles, startProcess, stopAll, type BenchProcess } from './bench-processes.js';
import { wrkGet, wrkPostRefusals, type ScenarioResult } from './bench-scenarios.js';
import { connectRedis, type RedisClient } from '../engine/redis.js';
import { benchedRedisServer, deleteKeysWithPrefix, formatTable, loggedInCitizens, median, requireLoopbackServices, writeBenchCountry } from './bench-support.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    'gateway-threads': { type: 'string' },
    citizens: { type: 'string', default: '500' },
    /** write V8 CPU profiles of the gateway's threads into the run's folder (--cpu-prof) */
    profile: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('npm run bench:refusals -- [--runs 3] [--seconds 5] [--connections 64] [--gateway-threads N] [--citizens 500] [--profile]');
  process.exit(0);
}

const RUNS = Number(args.runs);
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);
const CITIZENS = Number(args.citizens);
const THREADS = Number(args['gateway-threads'] ?? Math.max(1, availableParallelism() - 1));
const CHURN_EVERY_MS = 20;

const config = loadConfig();
requireLoopbackServices(config);
const benchedRedis = { url: benchedRedisServer(config, 'bench:refusals').url };
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runDir = join(projectRoot(), 'loadtest', 'reports', `refusals-${stamp}`);
mkdirSync(runDir, { recursive: true });
const prefix = `bench-refusals:${randomUUID().slice(0, 8)}:`;
const progress = (line: string) => console.log(`[refusals ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** Redis's count of calls per command since its start (`INFO commandstats`). */
async function commandCalls(redis: RedisClient): Promise<Map<string, number>> {
  const text = String(await redis.call('INFO', 'commandstats'));
  const calls = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

/** The cumulative bucket counts (by upper bound) of one Prometheus histogram in /metrics text. */
function histogramBuckets(metricsText: string, name: string, labels: string): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const match of metricsText.matchAll(new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\d+)`, 'gm'))) {
    if (!match[1]!.includes(labels)) continue;
    const le = /le="([^"]+)"/.exec(match[1]!)![1]!;
    buckets.set(le === '+Inf' ? Infinity : Number(le), Number(match[2]));
  }
  return buckets;
}

/** Quantile `q` (the upper bound of the bucket it falls in) of what a histogram counted between two readings. */
function quantileBetween(before: Map<number, number>, after: Map<number, number>, q: number): { value: number; count: number } {
  const buckets = [...after.entries()].map(([le, n]) => [le, n - (before.get(le) ?? 0)] as const).sort((a, b) => a[0] - b[0]);
  const count = buckets[buckets.length - 1]?.[1] ?? 0;
  return { value: buckets.find(([, n]) => n >= q * count)?.[0] ?? NaN, count };
}

/** How the search-quota scripts were coalesced (engine/coalesce.ts), from the gateway's counters. */
function coalescedSearches(metricsText: string): string {
  const read = (name: string) => Number(new RegExp(`^${name}\\{script="consumeSearchQuota"\\} (\\d+)`, 'm').exec(metricsText)?.[1] ?? 0);
  const [batches, searches] = [read('teeka_coalesced_batches_total'), read('teeka_coalesced_requests_total')];
  return batches ? `Search-quota scripts: ${searches} searches in ${batches} script calls (mean ${(searches / batches).toFixed(2)} per call: coalesced per partition and event-loop turn).` : 'Search-quota scripts: no coalescing counted.';
}

/** The gateway's metrics, once the threads' latest counts are in them (aggregated once a second). */
async function settledMetrics(base: string): Promise<string> {
  await new Promise((r) => setTimeout(r, 2200));
  return (await fetch(`${base}/metrics`)).text();
}

async function main(): Promise<void> {
  const { country, path: countryPath } = writeBenchCountry(config.countryFile, runDir);
  const redis = connectRedis({ address: benchedRedis, keyPrefix: prefix, role: 'tool', overrides: { enableAutoPipelining: true } });
  const plain = connectRedis({ address: benchedRedis, keyPrefix: '', role: 'tool' });
  const engine = new BookingEngine(redis, { country, secret: config.secret, testMobiles: { prefix: '9999', otp: config.testOtp } });
  try {
    const [gatewayPort, helloPort] = await Promise.all([freePort(), freePort()]);
    progress(`starting on loopback: gateway (${THREADS} threads, no worker: nothing is booked during the crowd), uWS hello-world (${THREADS} threads)`);
    const gateway = await startProcess({
      name: 'gateway',
      script: 'gateway/main.js',
      // no worker and no system of record behind it: a schema no one migrates
      env: {
        TEEKA_REDIS_PREFIX: prefix,
        TEEKA_COUNTRY: countryPath,
        TEEKA_PG_SCHEMA: `bench_refusals_no_record`,
        TEEKA_ENV: 'demo',
        PORT: String(gatewayPort),
        HOST: '127.0.0.1',
        GATEWAY_THREADS: String(THREADS),
      },
      nodeArgs: profilingArgs(args.profile, join(runDir, 'profiles')),
      port: gatewayPort,
      logDir: runDir,
      ready: answers(`http://127.0.0.1:${gatewayPort}/healthz`),
    });
    const helloProcess = await startProcess({ name: 'hello-uws', script: 'loadtest/baseline/hello-uws.js', args: [String(helloPort), String(THREADS)], port: helloPort, logDir: runDir, ready: answers(`http://127.0.0.1:${helloPort}/`) });
    const base = `http://127.0.0.1:${gatewayPort}`;
    const today = engine.today();
    const seeded = await publishPlannedSessions(engine, today, 8);
    progress(`published the demo plans: ${seeded.published} sessions`);

    // the crowd: citizens logged in with a beneficiary each. Logged in after the gateway started,
    // as at a real opening (a gateway thread answers for logins it has followed from the start)
    await new Promise((r) => setTimeout(r, 2500));
    progress(`logging in ${CITIZENS} citizens with a beneficiary each`);
    const crowd = (
      await loggedInCitizens(engine, config.secret, config.testOtp, {
        accounts: CITIZENS,
        mobileOf: (i) => `99990${String(i).padStart(5, '0')}`,
        beneficiariesOf: () => 1,
        photoIdOf: (i) => `3${String(i).padStart(11, '0')}`,
      })
    ).map(({ accountId, token, beneficiaryIds }) => ({ accountId, token, beneficiaryId: beneficiaryIds[0]! }));

    // the full session: one seat, taken by the first citizen; every slot is then full
    const center = country.data.centers[0]!;
    const slots = country.slotsOf(center);
    const full = await engine.publishSession({ center_id: center.center_id, date: today + 2, vaccine: 'COVAXIN', min_age_limit: 18, capacity_dose1: 1, capacity_dose2: 0 });
    if (!full.ok) throw new Error('publishSession failed');
    const taken = await engine.book({ accountId: crowd[0]!.accountId, sessionId: full.sessionId, slot: slots[0]!, dose: 1, beneficiaryIds: [crowd[0]!.beneficiaryId] });
    if (!taken.ok) throw new Error(`booking the last seat: ${taken.status}`);
    const check = await fetch(`${base}/api/v2/appointment/schedule`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${crowd[1]!.token}` },
      body: JSON.stringify({ dose: 1, session_id: full.sessionId, slot: slots[0], beneficiaries: [crowd[1]!.beneficiaryId] }),
    });
    if (check.status !== 409) throw new Error(`the full session answered ${check.status}: ${await check.text()}`);

    // the churn that runs under the crowd: a seat of another session cancelled and booked again,
    // and a login replaced by a new one (a revocation), every CHURN_EVERY_MS
    const churnSession = await engine.publishSession({ center_id: center.center_id, date: today + 3, vaccine: 'COVAXIN', min_age_limit: 18, capacity_dose1: 10, capacity_dose2: 0 });
    if (!churnSession.ok) throw new Error('publishSession failed');
    const churner = crowd[CITIZENS - 1]!;
    let churning = false;
    let churnEvents = 0;
    const churn = async () => {
      let appointment: string | null = null;
      while (churning) {
        if (appointment) {
          const cancelled = await engine.cancel(churner.accountId, appointment);
          if (!cancelled.ok) throw new Error(`churn cancel: ${cancelled.status}`);
          appointment = null;
        } else {
          const booked = await engine.book({ accountId: churner.accountId, sessionId: churnSession.sessionId, slot: slots[1]!, dose: 1, beneficiaryIds: [churner.beneficiaryId] });
          if (!booked.ok) throw new Error(`churn booking: ${booked.status}`);
          appointment = booked.appointmentId;
        }
        const issued = await engine.issueOtp('9999999999', '127.0.0.1');
        if (issued.ok) await engine.verifyOtp(issued.txnId, sha256Hex(config.testOtp));
        churnEvents += 1;
        await new Promise((r) => setTimeout(r, CHURN_EVERY_MS));
      }
      if (appointment) await engine.cancel(churner.accountId, appointment);
    };

    const searchPaths = country.data.districts.map((d) => `/api/v2/appointment/sessions/calendarByDistrict?district_id=${d.district_id}&date=${formatCowinDate(today)}`);
    const tokens = crowd.map((c) => c.token);
    const attempts = crowd.slice(1, CITIZENS - 1).map((c, i) => ({
      token: c.token,
      body: JSON.stringify({ dose: 1, session_id: full.sessionId, slot: slots[i % slots.length], beneficiaries: [c.beneficiaryId] }),
    }));

    // the same traffic's ceiling: uWS replaying the gateway's own answers to these requests
    const recorded = [
      await recordAnswer(base, 'POST', '/api/v2/appointment/schedule', { 'content-type': 'application/json', authorization: `Bearer ${attempts[0]!.token}` }, attempts[0]!.body),
      ...(await Promise.all(searchPaths.map((path, i) => recordAnswer(base, 'GET', path, { 'accept-encoding': 'gzip', authorization: `Bearer ${tokens[i % tokens.length]}` })))),
    ];
    const wrong = recorded.find((a, i) => !a.status.startsWith(i === 0 ? '409' : '200'));
    if (wrong) throw new Error(`recording the answers to replay: ${wrong.method} ${wrong.url} answered ${wrong.status}`);
    const answersFile = join(runDir, 'replayed-answers.json');
    writeFileSync(answersFile, JSON.stringify(recorded));
    const replayPort = await freePort();
    const replayProcess = await startProcess({ name: 'replay-uws', script: 'loadtest/baseline/replay-uws.js', args: [String(replayPort), String(THREADS), answersFile], port: replayPort, logDir: runDir, ready: answers(`http://127.0.0.1:${replayPort}${searchPaths[0]}`) });
    const replayBase = `http://127.0.0.1:${replayPort}`;
    const refusedAt = (url: string, scenario: string, target: string) =>
      wrkPostRefusals({ scenario, target, url, path: '/api/v2/appointment/schedule', seconds: SECONDS, connections: CONNECTIONS, scratchDir: runDir, requests: attempts });
    const searchAt = (url: string, scenario: string, target: string) => wrkGet({ scenario, target, url, paths: searchPaths, tokens, gzip: true, seconds: SECONDS, connections: CONNECTIONS, scratchDir: runDir });

    interface Run {
      run: number;
      hello: ScenarioResult;
      /** uWS replaying the gateway's answers to the same requests */
      replayRefused: ScenarioResult;
      replaySearch: ScenarioResult;
      refused: ScenarioResult;
      search: ScenarioResult;
      /** Redis commands per refused attempt, by command, during the crowd (every client of the shared Redis counts) */
      perAttempt: Record<string, number>;
      /** CPU µs per request of the process that answered it (/proc, all threads) */
      cpu: { hello: number; refused: number; search: number; replayRefused: number; replaySearch: number };
    }
    /** `scenario`'s result and the CPU µs per request `process` spent on it */
    const measured = async (process: BenchProcess, scenario: () => Promise<ScenarioResult>): Promise<[ScenarioResult, number]> => {
      const before = cpuSeconds(process);
      const result = await scenario();
      return [result, ((cpuSeconds(process) - before) * 1e6) / Math.max(1, result.requests)];
    };
    const runs: Run[] = [];
    /** the lag histograms read before and after each crowd: only what the crowd's churn counted */
    const lagReadings: { when: 'quiet' | 'crowd'; stream: string; before: Map<number, number>; after: Map<number, number> }[] = [];
    /** the lag histograms' counts between two readings of /metrics, kept for `when` */
    const recordLag = (when: 'quiet' | 'crowd', metricsBefore: string, metricsAfter: string) => {
      for (const stream of ['availability', 'revocations']) {
        const name = 'teeka_stream_lag_seconds';
        lagReadings.push({ when, stream, before: histogramBuckets(metricsBefore, name, `stream="${stream}"`), after: histogramBuckets(metricsAfter, name, `stream="${stream}"`) });
      }
    };
    for (let r = 1; r <= RUNS; r++) {
      progress(`run ${r}/${RUNS}: the churn alone for 2 s (staleness without load)`);
      const quietBefore = await settledMetrics(base);
      churning = true;
      const quietChurn = churn();
      await new Promise((res) => setTimeout(res, 2000));
      churning = false;
      await quietChurn;
      recordLag('quiet', quietBefore, await settledMetrics(base));
      progress(`run ${r}/${RUNS}: hello-world (wrk, ${SECONDS}s)`);
      const [hello, helloCpu] = await measured(helloProcess, () => wrkGet({ scenario: 'hello-world', target: 'uWS hello-world (baseline)', url: `http://127.0.0.1:${helloPort}`, paths: ['/'], seconds: SECONDS, connections: CONNECTIONS, scratchDir: runDir }));
      progress(`run ${r}/${RUNS}: uWS replaying the gateway's answers to the same refused attempts and searches (wrk, 2 × ${SECONDS}s)`);
      const [replayRefused, replayRefusedCpu] = await measured(replayProcess, () => refusedAt(replayBase, 'replay-refused', 'uWS replaying the 409 to the same attempts (baseline)'));
      const [replaySearch, replaySearchCpu] = await measured(replayProcess, () => searchAt(replayBase, 'replay-search', 'uWS replaying the same searches\' answers (baseline)'));
      progress(`run ${r}/${RUNS}: refused attempts into the full session (wrk, ${SECONDS}s), churn underneath`);
      const metricsBefore = await settledMetrics(base);
      churning = true;
      const churned = churn();
      const before = await commandCalls(plain);
      const [refused, refusedCpu] = await measured(gateway, () => refusedAt(base, 'refused', 'POST /appointment/schedule into a full session, a crowd of logged-in citizens (wrk)'));
      const after = await commandCalls(plain);
      churning = false;
      await churned;
      recordLag('crowd', metricsBefore, await settledMetrics(base));
      const perAttempt: Record<string, number> = {};
      for (const command of ['evalsha', 'eval', 'hget', 'xread']) perAttempt[command] = ((after.get(command) ?? 0) - (before.get(command) ?? 0)) / refused.requests;
      progress(`run ${r}/${RUNS}: protected search with the quota (wrk, ${SECONDS}s)`);
      const [search, searchCpu] = await measured(gateway, () => searchAt(base, 'search', 'protected calendarByDistrict (gzip), per-user quota'));
      runs.push({ run: r, hello, replayRefused, replaySearch, refused, search, perAttempt, cpu: { hello: helloCpu, refused: refusedCpu, search: searchCpu, replayRefused: replayRefusedCpu, replaySearch: replaySearchCpu } });
      progress(
        `run ${r}: hello ${Math.round(hello.rps)}/s, refused ${Math.round(refused.rps)}/s (${refused.notes.join('; ')}; replayed ${Math.round(replayRefused.rps)}/s), ` +
          `search ${Math.round(search.rps)}/s (replayed ${Math.round(replaySearch.rps)}/s); CPU µs per request: hello ${helloCpu.toFixed(1)}, refused ${refusedCpu.toFixed(1)} (replayed ${replayRefusedCpu.toFixed(1)}), search ${searchCpu.toFixed(1)} (replayed ${replaySearchCpu.toFixed(1)})`,
      );
    }
    const booked = (await engine.getSession(full.sessionId))!;
    if (booked.booked1 !== 1) throw new Error(`OVERSOLD: the full session holds ${booked.booked1} bookings`);

    const metricsText = await settledMetrics(base);
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    const ms = (n: number) => `${n.toFixed(2)} ms`;
    const ratio = (n: number) => n.toFixed(2);
    const micros = (n: number) => n.toFixed(1);
    // each column a figure of a run; the last row is each column's median over the runs
    const columns: [string, (x: Run) => number, (n: number) => string][] = [
      ['hello-world req/s', (x) => x.hello.rps, fmt],
      ['refused attempts/s', (x) => x.refused.rps, fmt],
      ['÷ hello', (x) => x.refused.rps / x.hello.rps, ratio],
      ['replayed 409s/s', (x) => x.replayRefused.rps, fmt],
      ['÷ replayed', (x) => x.refused.rps / x.replayRefused.rps, ratio],
      ['refused p99', (x) => x.refused.p99Ms, ms],
      ['protected search req/s', (x) => x.search.rps, fmt],
      ['÷ hello', (x) => x.search.rps / x.hello.rps, ratio],
      ['replayed searches/s', (x) => x.replaySearch.rps, fmt],
      ['÷ replayed', (x) => x.search.rps / x.replaySearch.rps, ratio],
      ['search p99', (x) => x.search.p99Ms, ms],
      ['scripts per attempt', (x) => x.perAttempt.evalsha! + x.perAttempt.eval!, (n) => n.toFixed(3)],
      ['HGET per attempt', (x) => x.perAttempt.hget!, (n) => n.toFixed(3)],
      ['hello CPU µs/req', (x) => x.cpu.hello, micros],
      ['replay CPU µs/409', (x) => x.cpu.replayRefused, micros],
      ['gateway CPU µs/refusal', (x) => x.cpu.refused, micros],
      ['replay CPU µs/search', (x) => x.cpu.replaySearch, micros],
      ['gateway CPU µs/search', (x) => x.cpu.search, micros],
    ];
    const rows = runs.map((x) => [String(x.run), ...columns.map(([, value, format]) => format(value(x)))]);
    rows.push(['median', ...columns.map(([, value, format]) => format(median(runs.map(value))))]);
    const lag = (when: 'quiet' | 'crowd', stream: string) => {
      // every run's crowd, pooled
      const before = new Map<number, number>();
      const after = new Map<number, number>();
      for (const reading of lagReadings.filter((x) => x.when === when && x.stream === stream)) {
        for (const [le, n] of reading.before) before.set(le, (before.get(le) ?? 0) + n);
        for (const [le, n] of reading.after) after.set(le, (after.get(le) ?? 0) + n);
      }
      const [p50, p99, max] = [0.5, 0.99, 1].map((q) => quantileBetween(before, after, q)) as [{ value: number; count: number }, { value: number; count: number }, { value: number; count: number }];
      const ms = (v: number) => `${v * 1000} ms`;
      return p50.count ? `${stream}: ${p50.count} entries applied; p50 ≤ ${ms(p50.value)}, p99 ≤ ${ms(p99.value)}, max ≤ ${ms(max.value)}` : `${stream}: not measured by this gateway`;
    };
    const memory = [...metricsText.matchAll(/^teeka_refused_from_memory_total\{([^}]*)\} (\d+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    // wrk only tells ≥ 400 from the rest: the gateway's own count says they were all "full"
    const fullAnswers = Number(/^teeka_booking_outcomes_total\{outcome="full"\} (\d+)/m.exec(metricsText)?.[1] ?? 0);
    const attempted = runs.reduce((sum, x) => sum + x.refused.requests, 0) + 1;
    if (fullAnswers < attempted) throw new Error(`only ${fullAnswers} of ${attempted} attempts were answered "full"`);
    const report = [
      `Command: \`npm run bench:refusals -- --runs ${RUNS} --seconds ${SECONDS} --connections ${CONNECTIONS} --gateway-threads ${THREADS} --citizens ${CITIZENS}\``,
      '',
      formatTable(['run', ...columns.map(([name]) => name)], rows),
      '',
      `Staleness, XADD → applied by a gateway thread (${churnEvents} churn events in all): with the churn alone, ${lag('quiet', 'availability')}; ${lag('quiet', 'revocations')}. Under the crowd: ${lag('crowd', 'availability')}; ${lag('crowd', 'revocations')}.`,
      `Refusals answered from memory: ${memory.length ? memory.join(', ') : 'none counted'}.`,
      coalescedSearches(metricsText),
      'Scripts and HGET per attempt count every client of the Redis during the crowd (the churn: about 2 scripts per 20 ms; other users of a shared Redis).',
      'Replayed: uWS answering the same requests, sent by the same wrk script, with the answers the gateway gave them (loadtest/baseline/replay-uws.ts), reading each body and doing nothing else: the ceiling for this traffic, where the hello-world is the ceiling for a 40-byte GET.',
      'CPU µs per request: the process\'s CPU time (/proc, every thread, user and system) over the scenario ÷ the requests it answered; the gateway\'s includes its main thread and, during the crowd, the churn\'s stream entries. On a busy machine this moves far less than req/s.',
    ].join('\n');
    writeFileSync(join(runDir, 'report.md'), report + '\n');
    console.log(`\n${report}\n\nreport: ${join(runDir, 'report.md')}`);
  } finally {
    redis.disconnect();
    plain.disconnect();
    await stopAll();
    await deleteKeysWithPrefix(config.redis, prefix);
    if (args.profile) reportProfiles(join(runDir, 'profiles'));
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll()
      .then(() => deleteKeysWithPrefix(config.redis, prefix))
      .finally(() => process.exit(130));
  });
}

main().catch((err) => {
  console.error('bench:refusals failed:', err);
  process.exitCode = 1;
});
