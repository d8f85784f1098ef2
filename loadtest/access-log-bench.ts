/**
 * `npm run bench:access-log`: what the access log costs on the hot path, measured in one run on the
 * same machine. Two gateways, identical but for TEEKA_ACCESS_LOG (on, off), each on its own key
 * prefix of the same Redis, take turns (on then off, off then on, …) at:
 *
 * - a booking rush into one hot session, a new citizen per request (a logged change: one more
 *   script per booking, the entry);
 * - a citizen listing their beneficiaries (a logged read);
 * - the protected session search (not personal data: no entry, so the ratio shows the noise).
 *
 * Each turn starts a fresh gateway for each mode, one at a time, and stops it after its scenarios.
 * Two long-lived gateways with both logs off (`--control`) differed by up to 14 % in CPU per booking
 * for a whole run, one way or the other (first ÷ second: 1.14, 0.93, 0.99, 0.91 in four runs): each
 * process's own luck, which a median of turns cannot average out when every turn meets the same two
 * processes. With fresh processes that luck is a turn's, and the median spreads it over both modes.
 * Every turn's gateways start cold alike (the booking rush runs first; the JIT warms up in its first
 * moments, for the log's code too).
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
 * beneficiaries per gateway and turn: more than a turn can book (25,000 a second is above what this
 * machine's gateway does with coalesced bookings), so every request books and the rate is not capped
 * by the pool; a turn that still books most of its pool is reported as a lower bound
 */
const POOL = SECONDS * 25_000;

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
  /** each mode's citizens (made before any gateway starts: a gateway running while they are written is disturbed) */
  const setups = new Map<Mode, { prefix: string; engine: BookingEngine; disconnect: () => void; seats: { token: string; beneficiaryId: string }[]; tokens: string[] }>();
  try {
    for (const mode of ['on', 'off'] as const) {
      const prefix = `bench-access-${mode}:${id}:`;
      const redis = connectRedis({ address: config.redis, keyPrefix: prefix, role: 'tool', overrides: { enableAutoPipelining: true } });
      const engine = new BookingEngine(redis, { country, secret: config.secret, testMobiles: { prefix: '9999', otp: config.testOtp } });
      const accounts = Math.ceil((POOL * TURNS) / 20);
      progress(`citizens for the gateway with the access log ${mode}: ${accounts * 20} beneficiaries in ${accounts} logged-in accounts`);
      const people = await loggedInCitizens(engine, config.secret, config.testOtp, {
        accounts,
        mobileOf: (i) => `9999${String(i).padStart(6, '0')}`,
        beneficiariesOf: () => 20,
        photoIdOf: (i, b) => `2${String(i).padStart(9, '0')}${String(b).padStart(2, '0')}`,
      });
      setups.set(mode, {
        prefix,
        engine,
        disconnect: () => redis.disconnect(),
        seats: people.flatMap((c) => c.beneficiaryIds.map((beneficiaryId) => ({ token: c.token, beneficiaryId }))),
        tokens: people.slice(0, 500).map((c) => c.token),
      });
    }
    /** a fresh gateway of `mode` for one turn (the log on or off; both off for --control) */
    const startGateway = async (mode: Mode, turn: number): Promise<{ process: BenchProcess; base: string }> => {
      const port = await freePort();
      const process = await startProcess({
        name: `gateway-log-${mode}-turn-${turn + 1}`,
        script: 'gateway/main.js',
        nodeArgs: profilingArgs(args.profile, join(runDir, `profiles-${mode}`)),
        // no worker: the outbox keeps what both write, so each pays the same for it
        env: { TEEKA_REDIS_PREFIX: setups.get(mode)!.prefix, TEEKA_COUNTRY: countryPath, TEEKA_PG_SCHEMA: `bench_access_${id}`, TEEKA_ENV: 'demo', PORT: String(port), HOST: '127.0.0.1', GATEWAY_THREADS: '1', TEEKA_ACCESS_LOG: args.control ? 'off' : mode },
        port,
        logDir: runDir,
        ready: answers(`http://127.0.0.1:${port}/healthz`),
      });
      return { process, base: `http://127.0.0.1:${port}` };
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
    const center = country.data.centers[0]!;
    const slots = country.slotsOf(center);
    const today = setups.get('on')!.engine.today();
    const district = center.district_id;
    const saturated: string[] = [];
    for (let turn = 0; turn < TURNS; turn++) {
      // the modes take turns going first: whatever the second run of a turn meets (a warmer machine,
      // a fuller Redis) falls on each mode alike
      for (const mode of turn % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        const setup = setups.get(mode)!;
        const seats = setup.seats.slice(turn * POOL, (turn + 1) * POOL);
        const hot = await setup.engine.publishSession({ center_id: center.center_id, date: today + 1 + turn, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: seats.length, capacity_dose2: 0 });
        if (!hot.ok) throw new Error(`publishSession: ${hot.status}`);
        const gateway = await startGateway(mode, turn);
        progress(`turn ${turn + 1}, log ${mode}: booking rush, beneficiary lists, protected search (${SECONDS} s each)`);
        const rush = await measured('booking', gateway.process, mode, () => wrkPost({
          scenario: `access-${mode}-rush-${turn}`,
          target: 'POST /appointment/schedule, a new citizen per request',
          url: gateway.base,
          path: '/api/v2/appointment/schedule',
          seconds: SECONDS,
          connections: CONNECTIONS,
          scratchDir: runDir,
          requests: seats.map((seat, i) => ({ token: seat.token, body: JSON.stringify({ dose: 1, session_id: hot.sessionId, slot: slots[i % slots.length], beneficiaries: [seat.beneficiaryId] }) })),
          okStatus: 200,
          expectedRefusal: 409,
        }));
        results.booking![mode].push(rush.okPerSecond);
        if (rush.okPerSecond * SECONDS >= 0.9 * POOL) saturated.push(`turn ${turn + 1} log ${mode}`);
        const lists = await measured('beneficiaries', gateway.process, mode, () => wrkGet({ scenario: `access-${mode}-beneficiaries-${turn}`, target: 'GET /appointment/beneficiaries', url: gateway.base, paths: ['/api/v2/appointment/beneficiaries'], tokens: setup.tokens, seconds: SECONDS, connections: CONNECTIONS, scratchDir: runDir }));
        results.beneficiaries![mode].push(lists.okPerSecond);
        const search = await measured('search', gateway.process, mode, () => wrkGet({
          scenario: `access-${mode}-search-${turn}`,
          target: 'protected calendarByDistrict',
          url: gateway.base,
          paths: [`/api/v2/appointment/sessions/calendarByDistrict?district_id=${district}&date=${formatCowinDate(today)}`],
          tokens: setup.tokens,
          gzip: true,
          seconds: SECONDS,
          connections: CONNECTIONS,
          scratchDir: runDir,
        }));
        results.search![mode].push(search.okPerSecond);
        await gateway.process.stop();
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
    for (const setup of setups.values()) {
      setup.disconnect();
      await deleteKeysWithPrefix(config.redis, setup.prefix);
    }
  }
  if (args.profile) for (const mode of ['on', 'off']) reportProfiles(join(runDir, `profiles-${mode}`));
}

main().catch(async (err) => {
  console.error(err);
  await stopAll();
  process.exit(1);
});
