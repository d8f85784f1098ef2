/**
 * Microbenchmark of the booking engine: booking and search-quota consumption through the
 * TypeScript engine (ioredis, EVALSHA, auto-pipelining), beside `redis-benchmark` running the very
 * same scripts by EVALSHA against the same Redis, in the same run, as a ratio.
 *
 *   npm run bench:engine -- [--requests 30000] [--connections 50] [--runs 3]
 *
 * Both sides do the same work per call: a successful booking of one new beneficiary (capacity is
 * large), and a successful quota consumption (limits are raised so no call is refused).
 * Traffic goes to REDIS_URL only (loopback by default) and stops after --requests per run.
 * The engine coalesces the calls of one event-loop turn into one script call (engine/coalesce.ts;
 * TEEKA_COALESCE=off sends each alone); the table gives the mean batch size beside each rate.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig } from '../engine/config.js';
import type { BatchCounts } from '../engine/coalesce.js';
import { BookingEngine } from '../engine/engine.js';
import { sha256Hex } from '../engine/ids.js';
import { keys } from '../engine/keys.js';
import { loadCountry, parseCountry } from '../engine/masterdata.js';
import { Status } from '../engine/status.js';
import { redisBenchmark } from './bench-scenarios.js';
import { connectRedis } from '../engine/redis.js';
import { benchedRedisServer, createBeneficiaryPool, deleteKeysWithPrefix, formatTable, median, runWithConcurrency } from './bench-support.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '30000' },
    connections: { type: 'string', default: '50' },
    runs: { type: 'string', default: '3' },
  },
});
const REQUESTS = Number(values.requests);
const CONNECTIONS = Number(values.connections);
const RUNS = Number(values.runs);

const config = loadConfig();
const { url: redisUrl, host, port } = benchedRedisServer(config, 'bench:engine');
if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
  console.error(`refusing to benchmark a Redis that is not on loopback: ${host}`);
  process.exit(2);
}

const prefix = `bench:${randomUUID().slice(0, 8)}:`;
const redis = connectRedis({ address: { url: redisUrl }, keyPrefix: prefix, role: 'tool', overrides: { enableAutoPipelining: true } });

const demo = loadCountry(config.countryFile).data;
// the same rules, with limits raised so every benchmarked call takes the success path
const country = parseCountry({
  ...demo,
  rules: {
    ...demo.rules,
    beneficiaries_per_account: 20,
    search_quota: { ...demo.rules.search_quota, max_per_window: 1e9, max_per_day: 1e9 },
  },
});
const engine = new BookingEngine(redis, { country, secret: 'bench-secret', testMobiles: { prefix: '9999', otp: '123456' }, coalesce: config.coalesce });

/** The mean size of the batches `counts` gained since `before` (what one script call carried). */
function meanBatch(counts: BatchCounts, before: { batches: number; calls: number }): number {
  return (counts.calls - before.calls) / Math.max(1, counts.batches - before.batches);
}

async function main(): Promise<void> {
  const sessionOutcome = await engine.publishSession({
    center_id: country.data.centers[0]!.center_id,
    date: engine.today() + 1,
    vaccine: 'COVISHIELD',
    min_age_limit: 18,
    capacity_dose1: 1_000_000,
    capacity_dose2: 0,
    slot_capacity: country.slotsOf(country.data.centers[0]!).map(() => 1_000_000),
  });
  if (!sessionOutcome.ok) throw new Error(`publishSession: ${sessionOutcome.status}`);
  const sessionId = sessionOutcome.sessionId;
  const slot = country.slotsOf(country.data.centers[0]!)[0]!;
  const book = engine.scripts.source('bookAppointment');
  const quota = engine.scripts.source('consumeSearchQuota');
  await redis.script('LOAD', book.lua);
  await redis.script('LOAD', quota.lua);

  const rows: { run: number; bookEngine: number; bookBatch: number; bookRaw: number; quotaEngine: number; quotaBatch: number; quotaRaw: number }[] = [];
  for (let r = 1; r <= RUNS; r++) {
    process.stdout.write(`run ${r}/${RUNS}: preparing ${REQUESTS} beneficiaries per side… `);
    const engineAccount = `bench-engine-${r}`;
    const rawAccount = `bench-raw-${r}`;
    const engineIds = await createBeneficiaryPool(redis, engineAccount, REQUESTS);
    // redis-benchmark draws ids at random: a pool 20× larger keeps repeats (cheaper refusals) near 2.5%
    await createBeneficiaryPool(redis, rawAccount, REQUESTS * 20);

    process.stdout.write('booking (engine)… ');
    let refused = 0;
    const bookingsBefore = { ...engine.bookings.counts };
    const started = performance.now();
    await runWithConcurrency(REQUESTS, CONNECTIONS, async (i) => {
      const outcome = await engine.book({ accountId: engineAccount, sessionId, slot, dose: 1, beneficiaryIds: [engineIds[i]!] });
      if (!outcome.ok) refused += 1;
    });
    const bookEngine = REQUESTS / ((performance.now() - started) / 1000);
    const bookBatch = meanBatch(engine.bookings.counts, bookingsBefore);
    if (refused) throw new Error(`${refused} engine bookings were refused; the benchmark expects every one to succeed`);

    process.stdout.write('booking (redis-benchmark)… ');
    const bookRaw = await redisBenchmark(host.replace(/^\[|\]$/g, ''), port, REQUESTS, CONNECTIONS, REQUESTS * 20, [
      'EVALSHA', book.sha, '6',
      prefix + keys.session(sessionId), prefix + keys.account(rawAccount), prefix + keys.appointment('__rand_int__'),
      prefix + keys.idempotency(rawAccount, '-'), prefix + keys.outbox(), prefix + keys.availability(),
      `appt-${r}`, sessionId, rawAccount, slot, '1', String(engine.now()), String(engine.today()), '', '86400000', '100000',
      '4821', // the security code's random digits (the engine draws fresh ones per booking)
      '', '', // no access log entry (the engine's bookings here carry none either)
      '__rand_int__',
    ]);

    process.stdout.write('quota (engine)… ');
    const issued = await engine.issueOtp(`99990${String(r).padStart(5, '0')}`, '127.0.0.1');
    if (!issued.ok) throw new Error('issueOtp failed');
    const login = await engine.verifyOtp(issued.txnId, sha256Hex('123456'));
    if (!login.ok) throw new Error('verifyOtp failed');
    const quotasBefore = { ...engine.searchQuotas.counts };
    const quotaStarted = performance.now();
    await runWithConcurrency(REQUESTS, CONNECTIONS, async () => {
      const outcome = await engine.consumeSearchQuota(login.accountId, login.sid);
      if (!outcome.ok) throw new Error(`quota refused: ${Status[outcome.status]}`);
    });
    const quotaEngine = REQUESTS / ((performance.now() - quotaStarted) / 1000);
    const quotaBatch = meanBatch(engine.searchQuotas.counts, quotasBefore);

    process.stdout.write('quota (redis-benchmark)…\n');
    const call = engine.searchQuotaCall(login.accountId, login.sid);
    const quotaRaw = await redisBenchmark(host.replace(/^\[|\]$/g, ''), port, REQUESTS, CONNECTIONS, 1, [
      'EVALSHA', quota.sha, String(call.keys.length), ...call.keys.map((key) => prefix + key), ...call.args.map(String),
    ]);
    rows.push({ run: r, bookEngine, bookBatch, bookRaw, quotaEngine, quotaBatch, quotaRaw });
    await redis.del(keys.account(engineAccount), keys.account(rawAccount), keys.outbox());
  }

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  console.log(`\nRedis ${host}:${port}; ${REQUESTS} calls per side per run; ${CONNECTIONS} concurrent; ${RUNS} runs; coalescing ${config.coalesce ? 'on' : 'off'}\n`);
  console.log(
    formatTable(
      ['run', 'book: engine ops/s', 'mean batch', 'book: redis-benchmark ops/s', 'ratio', 'quota: engine ops/s', 'mean batch', 'quota: redis-benchmark ops/s', 'ratio'],
      [
        ...rows.map((x) => [
          String(x.run),
          fmt(x.bookEngine),
          x.bookBatch.toFixed(1),
          fmt(x.bookRaw),
          ratio(x.bookEngine, x.bookRaw),
          fmt(x.quotaEngine),
          x.quotaBatch.toFixed(1),
          fmt(x.quotaRaw),
          ratio(x.quotaEngine, x.quotaRaw),
        ]),
        [
          'median',
          fmt(median(rows.map((x) => x.bookEngine))),
          median(rows.map((x) => x.bookBatch)).toFixed(1),
          fmt(median(rows.map((x) => x.bookRaw))),
          median(rows.map((x) => x.bookEngine / x.bookRaw)).toFixed(2),
          fmt(median(rows.map((x) => x.quotaEngine))),
          median(rows.map((x) => x.quotaBatch)).toFixed(1),
          fmt(median(rows.map((x) => x.quotaRaw))),
          median(rows.map((x) => x.quotaEngine / x.quotaRaw)).toFixed(2),
        ],
      ],
    ),
  );
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    // remove everything this run wrote
    redis.disconnect();
    await deleteKeysWithPrefix(config.redis, prefix);
  });
