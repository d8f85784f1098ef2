/**
 * `npm run bench:access-log`: what the access log costs on the hot path, measured in one run on the
 * same machine. Two gateways, identical but for TEEKA_ACCESS_LOG (on, off), on one key prefix and
 * one set of citizens, take turns (on then off, off then on, …) at:
 *
 * - a booking rush into one hot session (a centre of each mode's own), a new citizen per request
 *   (a logged change: the entry rides in the booking's own outbox entry);
 * - a citizen listing their beneficiaries (a logged read);
 * - the protected session search (not personal data: no entry, so the ratio shows the noise).
 *
 * Each turn starts a fresh gateway for each mode, one at a time, and stops it after its scenarios.
 * Two long-lived gateways with both logs off (`--control`) differed by up to 14 % in CPU per booking
 * for a whole run, one way or the other (first ÷ second: 1.14, 0.93, 0.99, 0.91 in four runs): each
 * process's own luck, which a median of turns cannot average out when every turn meets the same two
 * processes. With fresh processes that luck is a turn's, and the median spreads it over both modes.
 * Each fresh gateway first gets a second of every scenario, not measured (its JIT's warm-up).
 *
 * It prints the rates and the on/off ratios (medians of the turns), and the gateway's CPU time per
 * answer (user + system, all its threads, from /proc: what the log costs the gateway whatever else
 * the machine runs, where a rate on a shared machine swings with its neighbours), and Redis's script
 * calls and script time per answer (INFO commandstats: give it a Redis of its own), and writes them to
 * loadtest/reports/<time>/access-log.md. A few minutes; the machine is shared, so compare ratios.
 *
 *   npm run bench:access-log -- [--seconds 4] [--turns 2] [--connections 32] [--profile] [--control]
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, projectRoot } from '../engine/config.js';
import { formatCowinDate } from '../engine/dates.js';
import { BookingEngine } from '../engine/engine.js';
import { connectRedis, type RedisClient } from '../engine/redis.js';
import { answers, cpuSeconds, freePort, profilingArgs, reportProfiles, startProcess, stopAll, type BenchProcess } from './bench-processes.js';
import { wrkGet, wrkPost } from './bench-scenarios.js';
import { benchedRedisServer, deleteKeysWithPrefix, formatTable, loggedInCitizens, median, requireLoopbackServices, writeBenchCountry } from './bench-support.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    turns: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
    /** write V8 CPU profiles of each gateway's thread into the run's folder (profiles-on, profiles-off) */
    profile: { type: 'boolean', default: false },
    /**
     * the control: both gateways with the log off, so the ratios show what the bench itself does
     * to two identical gateways (it should print about 1.00; see docs/performance.md)
     */
    control: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds);
const TURNS = Number(args.turns);
const CONNECTIONS = Number(args.connections);
if (!(SECONDS >= 1 && SECONDS <= 15) || !(TURNS >= 1 && TURNS <= 8)) throw new Error('--seconds: 1 to 15, --turns: 1 to 8 (the whole run stays within a few minutes)');
/**
 * beneficiaries per gateway and turn: more than a turn can book (15,000 a second is above what one
 * gateway thread has done here with coalesced bookings, about 10,600), so every request books and the rate is not capped
 * by the pool; a turn that still books most of its pool is reported as a lower bound
 */
const POOL = SECONDS * 15_000;
/** beneficiaries per gateway and turn for its warm-up rush (1 s; past them it is refused, which warms the rest) */
const WARM = 8_000;

const config = loadConfig();
requireLoopbackServices(config);
benchedRedisServer(config, 'bench:access-log');
const runDir = join(projectRoot(), 'loadtest', 'reports', new Date().toISOString().replace(/[:.]/g, '-'));
mkdirSync(runDir, { recursive: true });
const id = randomUUID().slice(0, 8);
const progress = (line: string) => console.log(`[bench:access-log ${new Date().toISOString().slice(11, 19)}] ${line}`);

type Mode = 'on' | 'off';

/**
 * Redis's script calls (EVALSHA, EVAL) so far and the time it spent running them (µs, the commands
 * they call included), from INFO commandstats: the two gateways take turns, so a turn's deltas are
 * its own (on a Redis of its own: REDIS_URL).
 */
async function redisCounters(redis: RedisClient): Promise<{ scripts: number; scriptUs: number }> {
  const info = await redis.info('commandstats');
  const stat = (name: string, field: string) => Number(new RegExp(`cmdstat_${name}:(?:.*,)?${field}=(\\d+)`).exec(info)?.[1] ?? 0);
  return { scripts: stat('evalsha', 'calls') + stat('eval', 'calls'), scriptUs: stat('evalsha', 'usec') + stat('eval', 'usec') };
}


async function main(): Promise<void> {
  const { country, path: countryPath } = writeBenchCountry(config.countryFile, runDir, { beneficiaries_per_account: 20 });
  const prefix = `bench-access:${id}:`;
  const redis = connectRedis({ address: config.redis, keyPrefix: prefix, role: 'tool', overrides: { enableAutoPipelining: true } });
  try {
    // one set of citizens for both modes, made before any gateway starts (a gateway running while
    // they are written is disturbed): each mode's turn takes its own slice of it. With a set per mode
    // on a prefix of its own, the mode whose set was made first booked about 4 % slower in every turn
    // of a control run (both logs off), whatever the order of the turns.
    const engine = new BookingEngine(redis, { country, secret: config.secret, testMobiles: { prefix: '9999', otp: config.testOtp } });
    const accounts = Math.ceil(((WARM + POOL) * TURNS * 2) / 20);
    progress(`citizens: ${accounts * 20} beneficiaries in ${accounts} logged-in accounts`);
    const people = await loggedInCitizens(engine, config.secret, config.testOtp, {
      accounts,
      mobileOf: (i) => `9999${String(i).padStart(6, '0')}`,
      beneficiariesOf: () => 20,
      photoIdOf: (i, b) => `2${String(i).padStart(9, '0')}${String(b).padStart(2, '0')}`,
    });
    const allSeats = people.flatMap((c) => c.beneficiaryIds.map((beneficiaryId) => ({ token: c.token, beneficiaryId })));
    /** the seats of one mode's turn: its warm-up's, then its rush's */
    const seatsOf = (mode: Mode, turn: number) => {
      const from = (turn * 2 + (mode === 'on' ? 0 : 1)) * (WARM + POOL);
      return { warm: allSeats.slice(from, from + WARM), rush: allSeats.slice(from + WARM, from + WARM + POOL) };
    };
    const tokens = people.slice(0, 500).map((c) => c.token);
    /** a fresh gateway of `mode` for one turn (the log on or off; both off for --control) */
    const startGateway = async (mode: Mode, turn: number): Promise<{ gatewayProcess: BenchProcess; base: string }> => {
      const port = await freePort();
      const gatewayProcess = await startProcess({
        name: `gateway-log-${mode}-turn-${turn + 1}`,
        script: 'gateway/main.js',
        nodeArgs: profilingArgs(args.profile, join(runDir, `profiles-${mode}`)),
        // no worker: the outbox keeps what both write, so each pays the same for it
        env: { TEEKA_REDIS_PREFIX: prefix, TEEKA_COUNTRY: countryPath, TEEKA_PG_SCHEMA: `bench_access_${id}`, TEEKA_ENV: 'demo', PORT: String(port), HOST: '127.0.0.1', GATEWAY_THREADS: '1', TEEKA_ACCESS_LOG: args.control ? 'off' : mode },
        port,
        logDir: runDir,
        ready: answers(`http://127.0.0.1:${port}/healthz`),
      });
      return { gatewayProcess, base: `http://127.0.0.1:${port}` };
    };

    const results: Record<string, Record<Mode, number[]>> = { booking: { on: [], off: [] }, beneficiaries: { on: [], off: [] }, search: { on: [], off: [] } };
    /** the gateway's CPU µs per ok answer, per scenario and mode */
    const cpu: Record<string, Record<Mode, number[]>> = { booking: { on: [], off: [] }, beneficiaries: { on: [], off: [] }, search: { on: [], off: [] } };
    /** Redis's script calls and script time (µs) per ok answer, per scenario and mode */
    const redisSide: Record<string, Record<Mode, { scripts: number; scriptUs: number }[]>> = { booking: { on: [], off: [] }, beneficiaries: { on: [], off: [] }, search: { on: [], off: [] } };
    const statsRedis = connectRedis({ address: config.redis, keyPrefix: '', role: 'tool' });
    const measured = async <T extends { okPerSecond: number }>(scenario: string, gateway: BenchProcess, mode: Mode, run: () => Promise<T>): Promise<T> => {
      const before = cpuSeconds(gateway);
      const redisBefore = await redisCounters(statsRedis);
      const result = await run();
      const redisAfter = await redisCounters(statsRedis);
      const answers = result.okPerSecond * SECONDS;
      if (answers > 0) {
        cpu[scenario]![mode].push(((cpuSeconds(gateway) - before) * 1e6) / answers);
        redisSide[scenario]![mode].push({ scripts: (redisAfter.scripts - redisBefore.scripts) / answers, scriptUs: (redisAfter.scriptUs - redisBefore.scriptUs) / answers });
      }
      return result;
    };
    // each mode's sessions at centres of its own (one session per centre and day)
    const centers = { on: { hot: country.data.centers[0]!, warm: country.data.centers[2]! }, off: { hot: country.data.centers[1]!, warm: country.data.centers[3]! } };
    const center = centers.on.hot;
    const today = engine.today();
    const district = center.district_id;
    const saturated: string[] = [];
    const rushOf = (gateway: { base: string }, scenario: string, seconds: number, sessionId: string, sessionSlots: string[], seats: { token: string; beneficiaryId: string }[]) =>
      wrkPost({
        scenario,
        target: 'POST /appointment/schedule, a new citizen per request',
        url: gateway.base,
        path: '/api/v2/appointment/schedule',
        seconds,
        connections: CONNECTIONS,
        scratchDir: runDir,
        requests: seats.map((seat, i) => ({ token: seat.token, body: JSON.stringify({ dose: 1, session_id: sessionId, slot: sessionSlots[i % sessionSlots.length], beneficiaries: [seat.beneficiaryId] }) })),
        okStatus: 200,
        expectedRefusal: 409,
      });
    const listsOf = (gateway: { base: string }, scenario: string, seconds: number, tokens: string[]) =>
      wrkGet({ scenario, target: 'GET /appointment/beneficiaries', url: gateway.base, paths: ['/api/v2/appointment/beneficiaries'], tokens, seconds, connections: CONNECTIONS, scratchDir: runDir });
    const searchOf = (gateway: { base: string }, scenario: string, seconds: number, tokens: string[]) =>
      wrkGet({
        scenario,
        target: 'protected calendarByDistrict',
        url: gateway.base,
        paths: [`/api/v2/appointment/sessions/calendarByDistrict?district_id=${district}&date=${formatCowinDate(today)}`],
        tokens,
        gzip: true,
        seconds,
        connections: CONNECTIONS,
        scratchDir: runDir,
      });
    for (let turn = 0; turn < TURNS; turn++) {
      // the modes take turns going first: whatever the second run of a turn meets (a warmer machine,
      // a fuller Redis) falls on each mode alike
      for (const mode of turn % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        const { warm: warmSeats, rush: seats } = seatsOf(mode, turn);
        const hot = await engine.publishSession({ center_id: centers[mode].hot.center_id, date: today + 1 + turn, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: seats.length, capacity_dose2: 0 });
        const warm = await engine.publishSession({ center_id: centers[mode].warm.center_id, date: today + 1 + turn, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: warmSeats.length, capacity_dose2: 0 });
        if (!hot.ok || !warm.ok) throw new Error(`publishSession: ${hot.status} ${warm.status}`);
        const gateway = await startGateway(mode, turn);
        // a fresh gateway's first second is its JIT's: a second of each scenario first, not measured
        progress(`turn ${turn + 1}, log ${mode}: warm-up (1 s each), then booking rush, beneficiary lists, protected search (${SECONDS} s each)`);
        await rushOf(gateway, `access-${mode}-warm-rush-${turn}`, 1, warm.sessionId, country.slotsOf(centers[mode].warm), warmSeats);
        await listsOf(gateway, `access-${mode}-warm-beneficiaries-${turn}`, 1, tokens);
        await searchOf(gateway, `access-${mode}-warm-search-${turn}`, 1, tokens);
        const rush = await measured('booking', gateway.gatewayProcess, mode, () => rushOf(gateway, `access-${mode}-rush-${turn}`, SECONDS, hot.sessionId, country.slotsOf(centers[mode].hot), seats));
        results.booking![mode].push(rush.okPerSecond);
        if (rush.okPerSecond * SECONDS >= 0.9 * POOL) saturated.push(`turn ${turn + 1} log ${mode}`);
        const lists = await measured('beneficiaries', gateway.gatewayProcess, mode, () => listsOf(gateway, `access-${mode}-beneficiaries-${turn}`, SECONDS, tokens));
        results.beneficiaries![mode].push(lists.okPerSecond);
        const search = await measured('search', gateway.gatewayProcess, mode, () => searchOf(gateway, `access-${mode}-search-${turn}`, SECONDS, tokens));
        results.search![mode].push(search.okPerSecond);
        await gateway.gatewayProcess.stop();
      }
    }

    const rows = Object.entries(results).map(([scenario, byMode]) => {
      const on = median(byMode.on);
      const off = median(byMode.off);
      const turns = byMode.on.map((v, i) => `${v.toFixed(0)} / ${byMode.off[i]!.toFixed(0)}`).join(', ');
      return [scenario, on.toFixed(0), off.toFixed(0), (on / off).toFixed(2), turns];
    });
    const table = formatTable(['scenario (ok answers/s, median of turns)', 'log on', 'log off', 'on / off', 'each turn (on / off)'], rows);
    const cpuRows = Object.entries(cpu).map(([scenario, byMode]) => {
      const on = median(byMode.on);
      const off = median(byMode.off);
      const turns = byMode.on.map((v, i) => `${v.toFixed(0)} / ${(byMode.off[i] ?? NaN).toFixed(0)}`).join(', ');
      return [scenario, on.toFixed(0), off.toFixed(0), (on / off).toFixed(2), turns];
    });
    const cpuTable = formatTable(["gateway CPU µs per ok answer (median of turns)", 'log on', 'log off', 'on / off', 'each turn (on / off)'], cpuRows);
    const redisRows = Object.entries(redisSide).map(([scenario, byMode]) => {
      const of = (mode: Mode, pick: (v: { scripts: number; scriptUs: number }) => number) => median(byMode[mode].map(pick));
      return [scenario, of('on', (v) => v.scripts).toFixed(3), of('off', (v) => v.scripts).toFixed(3), of('on', (v) => v.scriptUs).toFixed(1), of('off', (v) => v.scriptUs).toFixed(1)];
    });
    const redisTable = formatTable(['Redis per ok answer (median of turns; the whole server: run on a Redis of its own)', 'script calls, log on', 'log off', 'script µs, log on', 'log off'], redisRows);
    statsRedis.disconnect();
    const title = args.control ? 'Access log cost: the control (both gateways with the log off; "log on" is the first gateway)' : 'Access log cost';
    const report = `# ${title}\n\n${new Date().toISOString()}, ${TURNS} turns of ${SECONDS} s, ${CONNECTIONS} connections, one gateway thread each; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end.\n\n${table}\n\n${cpuTable}\n\n${redisTable}\n${saturated.length ? `\nBooking turns that booked most of their pool of ${POOL} (their rate is a lower bound): ${saturated.join(', ')}.\n` : ''}`;
    writeFileSync(join(runDir, 'access-log.md'), report);
    console.log(`\n${report}\nwritten to ${join(runDir, 'access-log.md')}`);
  } finally {
    await stopAll();
    redis.disconnect();
    await deleteKeysWithPrefix(config.redis, prefix);
  }
  if (args.profile) for (const mode of ['on', 'off']) reportProfiles(join(runDir, `profiles-${mode}`));
}

main().catch(async (err) => {
  console.error(err);
  await stopAll();
  process.exit(1);
});
