/**
 * What a daily-quota snapshot costs Redis as the keyspace grows: the full scan (every key walked,
 * as every snapshot did before the quota-changes sets) against the snapshot of the accounts that
 * searched since the last one (worker/quotas.ts).
 *
 *   npm run build && node dist/worker/quota-snapshot-bench.js [--keys 1000000] [--searchers 200] [--runs 3]
 *
 * Each run: `--searchers` citizens log in and search once; `--keys` other keys fill the keyspace
 * (as other accounts' records would); then one full snapshot and one of the changes, each timed and
 * measured in Redis CPU (INFO cpu). A third snapshot, with nobody having searched since, shows the
 * idle cost. Everything goes under a key prefix and a PostgreSQL schema of its own, removed after.
 * Redis is REDIS_URL's (one server: INFO cpu is that server's), which should be otherwise idle.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig } from '../engine/config.js';
import { BookingEngine } from '../engine/engine.js';
import { sha256Hex } from '../engine/ids.js';
import { keys } from '../engine/keys.js';
import { loadCountry } from '../engine/masterdata.js';
import { connectRedis, deleteKeysWithPrefix, type RedisClient } from '../engine/redis.js';
import { redisCpuSeconds } from '../loadtest/bench-processes.js';
import { median } from '../loadtest/bench-support.js';
import { openPool } from './database.js';
import { migrate } from './migrate.js';
import { snapshotDailyQuotas, type QuotaSnapshotReport } from './quotas.js';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    searchers: { type: 'string', default: '200' },
    runs: { type: 'string', default: '3' },
  },
});
const FILLER = Number(values.keys);
const SEARCHERS = Number(values.searchers);
const RUNS = Number(values.runs);
for (const [name, value] of [['--keys', FILLER], ['--searchers', SEARCHERS], ['--runs', RUNS]] as const) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: expected a positive whole number`);
}

interface Measured {
  ms: number;
  redisMs: number;
  report: QuotaSnapshotReport;
}

async function measured(redis: RedisClient, take: () => Promise<QuotaSnapshotReport>): Promise<Measured> {
  const cpuBefore = await redisCpuSeconds(redis);
  const started = performance.now();
  const report = await take();
  const ms = performance.now() - started;
  return { ms, redisMs: ((await redisCpuSeconds(redis)) - cpuBefore) * 1000, report };
}

interface RunResult {
  full: Measured;
  changes: Measured;
  idle: Measured;
}

async function runOnce(run: number): Promise<RunResult> {
  const config = loadConfig();
  const country = loadCountry(config.countryFile);
  const prefix = `quotabench:${randomUUID().slice(0, 8)}:`;
  const schema = `quota_bench_${randomUUID().slice(0, 8)}`;
  const redis = connectRedis({ address: config.redis, keyPrefix: prefix, role: 'tool' });
  await migrate(config.databaseUrl, schema);
  const pool = openPool({ databaseUrl: config.databaseUrl, schema, max: 2 });
  try {
    const testMobilePrefix = country.data.demo?.test_mobile_prefix ?? '9999';
    const engine = new BookingEngine(redis, { country, secret: 'quota-bench', testMobiles: { prefix: testMobilePrefix, otp: '123456' } });
    for (let i = 0; i < SEARCHERS; i++) {
      const mobile = `${testMobilePrefix}${String(i).padStart(10 - testMobilePrefix.length, '0')}`;
      const issued = await engine.issueOtp(mobile, `10.${run}.${i >> 8}.${i & 255}`);
      if (!issued.ok) throw new Error(`issueOtp refused: status ${issued.status}`);
      const login = await engine.verifyOtp(issued.txnId, sha256Hex('123456'));
      if (!login.ok) throw new Error(`verifyOtp refused: status ${login.status}`);
      const searched = await engine.consumeSearchQuota(login.accountId, login.sid);
      if (!searched.ok) throw new Error(`search refused: status ${searched.status}`);
    }
    process.stdout.write(`quota-snapshot-bench run ${run}: ${SEARCHERS} citizens searched; filling the keyspace with ${FILLER.toLocaleString('en-US')} keys… `);
    for (let i = 0; i < FILLER; i += 10_000) {
      const pipeline = redis.pipeline();
      for (let j = i; j < Math.min(FILLER, i + 10_000); j++) pipeline.set(`${keys.forAccount(engine.partitions, `filler-${j}`).authSession()}`, '1');
      await pipeline.exec();
    }
    const full = await measured(redis, () => snapshotDailyQuotas(redis, pool, engine.partitions, { full: true }));
    // the same searchers again: the sets name them once more
    for (const login of await loginsOf(engine, SEARCHERS, testMobilePrefix)) await engine.consumeSearchQuota(login.accountId, login.sid);
    const changes = await measured(redis, () => snapshotDailyQuotas(redis, pool, engine.partitions));
    const idle = await measured(redis, () => snapshotDailyQuotas(redis, pool, engine.partitions));
    const line = (name: string, m: Measured) => `${name} ${m.ms.toFixed(1)} ms (Redis CPU ${m.redisMs.toFixed(0)} ms, ${m.report.saved} rows)`;
    console.log(`${line('full scan', full)}; ${line('changes only', changes)}; ${line('nobody searched', idle)}`);
    return { full, changes, idle };
  } finally {
    await pool.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
    await pool.end();
    redis.disconnect();
    await deleteKeysWithPrefix(config.redis, prefix);
  }
}

/** The searchers' logins as the first pass left them (the account's live login session). */
async function loginsOf(engine: BookingEngine, count: number, testMobilePrefix: string): Promise<{ accountId: string; sid: string }[]> {
  const logins: { accountId: string; sid: string }[] = [];
  for (let i = 0; i < count; i++) {
    const accountId = engine.accountIdOf(`${testMobilePrefix}${String(i).padStart(10 - testMobilePrefix.length, '0')}`);
    const sid = await engine.redis.hget(keys.forAccount(engine.partitions, accountId).authSession(), 'sid');
    if (sid) logins.push({ accountId, sid });
  }
  return logins;
}

async function main(): Promise<void> {
  const results: RunResult[] = [];
  for (let run = 1; run <= RUNS; run++) results.push(await runOnce(run));
  const med = (pick: (r: RunResult) => number) => median(results.map(pick)).toFixed(1);
  console.log(
    `quota-snapshot-bench: median of ${RUNS} runs, ${FILLER.toLocaleString('en-US')} other keys, ${SEARCHERS} searchers: ` +
      `full scan ${med((r) => r.full.ms)} ms (Redis CPU ${med((r) => r.full.redisMs)} ms); ` +
      `changes only ${med((r) => r.changes.ms)} ms (Redis CPU ${med((r) => r.changes.redisMs)} ms); ` +
      `nobody searched ${med((r) => r.idle.ms)} ms (Redis CPU ${med((r) => r.idle.redisMs)} ms)`,
  );
}

main().catch((err: Error) => {
  console.error(`quota-snapshot-bench: ${err.stack ?? err.message}`);
  process.exit(1);
});
