/**
 * Drain rate: how fast the worker writes a backlog of bookings into PostgreSQL.
 *
 *   npm run build && node dist/worker/drain-bench.js [--bookings 20000] [--batch 500] [--concurrency 1] [--runs 3]
 *
 * 1. (not measured) sessions, accounts and beneficiaries are registered and drained;
 * 2. `--bookings` single-beneficiary bookings are made through the engine while no worker runs,
 *    leaving a backlog in the outbox as a rush does (their rate is printed too: the engine's, without HTTP);
 * 3. (measured) the worker, in this process with its production code path (consumer group, Bull
 *    jobs, one transaction per batch, acknowledgement), drains the backlog: from its start to an
 *    empty outbox.
 *
 * Rows are those written to PostgreSQL for the bookings: one appointment row and one event-log row
 * each. Each run uses REDIS_URL and DATABASE_URL under a key prefix and a schema of its own, both
 * removed afterwards; the last line gives the median of the runs (the machine may be shared and noisy).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../engine/config.js';
import { BookingEngine } from '../engine/engine.js';
import { keys } from '../engine/keys.js';
import { loadCountry } from '../engine/masterdata.js';
import { connectRedis, scanKeys, unlinkKeys } from '../engine/redis.js';
import { defineSession } from '../engine/sessions.js';
import { openPool } from './database.js';
import { drainOutboxDirectly } from './drain.js';
import { migrate } from './migrate.js';
import { OutboxWorker } from './outbox-worker.js';
import { loadWorkerSettings } from './settings.js';
import { median } from '../loadtest/bench-support.js';

const { values } = parseArgs({
  options: {
    bookings: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '1' },
    runs: { type: 'string', default: '3' },
  },
});
const RUNS = Number(values.runs);
const BOOKINGS = Number(values.bookings);
const PER_ACCOUNT = 4;
const SESSIONS = 4;

async function inParallel(total: number, lanes: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < total) await task(next++);
    }),
  );
}

interface RunResult {
  bookingsPerSecond: number;
  rowsPerSecond: number;
  engineBookingsPerSecond: number;
}

async function runOnce(run: number): Promise<RunResult> {
  const config = loadConfig();
  const country = loadCountry(config.countryFile);
  const prefix = `drainbench:${randomUUID().slice(0, 8)}:`;
  const schema = `drain_bench_${randomUUID().slice(0, 8)}`;
  const settings = loadWorkerSettings({
    ...process.env,
    TEEKA_PG_SCHEMA: schema,
    TEEKA_WORKER_BATCH: values.batch,
    TEEKA_WORKER_CONCURRENCY: values.concurrency,
    TEEKA_QUOTA_SNAPSHOT_MS: '0',
  });
  const redis = connectRedis({ address: config.redis, keyPrefix: prefix, role: 'worker', overrides: { enableAutoPipelining: true } });
  await migrate(config.databaseUrl, schema);
  const pool = openPool({ databaseUrl: config.databaseUrl, schema, max: settings.concurrency + 2 });
  try {
    // 1. what the bookings need, drained before the measurement
    const engine = new BookingEngine(redis, { country, secret: 'drain-bench', clock: () => Date.now() });
    const center = country.data.centers[0]!;
    const slots = country.slotsOf(center);
    const perSession = Math.ceil(BOOKINGS / SESSIONS);
    const sessionIds: string[] = [];
    for (let n = 0; n < SESSIONS; n++) {
      const input = {
        center_id: center.center_id,
        date: engine.today() + 1 + n,
        vaccine: country.data.vaccines[0]!.name,
        min_age_limit: 18,
        capacity_dose1: perSession,
        capacity_dose2: 0,
        slot_capacity: slots.map(() => perSession),
      };
      const outcome = await engine.publishSession(input);
      if (!outcome.ok) throw new Error(`publishSession refused: status ${outcome.status}`);
      sessionIds.push(defineSession(country, input).sessionId);
    }
    const accounts = Math.ceil(BOOKINGS / PER_ACCOUNT);
    const citizens: { accountId: string; beneficiaryId: string }[] = [];
    await inParallel(accounts, 100, async (i) => {
      const accountId = engine.accountIdOf(`7${String(i).padStart(9, '0')}`);
      for (let b = 0; b < PER_ACCOUNT; b++) {
        const outcome = await engine.addBeneficiary(accountId, {
          name: `Citizen ${i}-${b}`,
          birth_year: 1960 + ((i + b) % 40),
          gender_id: 1 + (b % 3),
          photo_id_type: 1,
          photo_id_number: `${String(i).padStart(10, '0')}${String(b).padStart(2, '0')}`,
          comorbidity_ind: 'N',
          consent_version: 'V1',
        });
        if (!outcome.ok) throw new Error(`addBeneficiary refused: status ${outcome.status}`);
        citizens.push({ accountId, beneficiaryId: outcome.beneficiaryId });
      }
    });
    await drainOutboxDirectly(redis, pool);
    console.log(`drain-bench run ${run}: ${SESSIONS} sessions, ${citizens.length} beneficiaries in ${accounts} accounts registered and drained`);

    // 2. the backlog
    const bookingStart = performance.now();
    await inParallel(BOOKINGS, 50, async (i) => {
      const { accountId, beneficiaryId } = citizens[i]!;
      const outcome = await engine.book({
        accountId,
        sessionId: sessionIds[i % SESSIONS]!,
        slot: slots[i % slots.length]!,
        dose: 1,
        beneficiaryIds: [beneficiaryId],
      });
      if (!outcome.ok) throw new Error(`booking refused: status ${outcome.status}`);
    });
    const bookingSeconds = (performance.now() - bookingStart) / 1000;
    const backlog = await redis.xlen(keys.outbox());
    console.log(
      `drain-bench run ${run}: ${BOOKINGS} bookings in ${bookingSeconds.toFixed(2)} s through the engine (${Math.round(BOOKINGS / bookingSeconds)}/s, no HTTP); outbox backlog ${backlog}`,
    );

    // 3. the drain, measured
    const worker = new OutboxWorker({ redis, redisAddress: config.redis, redisKeyPrefix: prefix, pool, settings, log: () => {} });
    const drainStart = performance.now();
    await worker.start();
    while ((await redis.xlen(keys.outbox())) > 0) await sleep(5);
    const drainSeconds = (performance.now() - drainStart) / 1000;
    await worker.stop();
    const { rows } = await pool.query<{ appointments: number; events: number }>(
      'SELECT (SELECT count(*)::int FROM appointments) AS appointments, (SELECT count(*)::int FROM appointment_events) AS events',
    );
    const written = rows[0]!.appointments + rows[0]!.events;
    console.log(
      `drain-bench run ${run}: drained ${backlog} bookings in ${drainSeconds.toFixed(2)} s: ${Math.round(backlog / drainSeconds)} bookings/s, ` +
        `${Math.round(written / drainSeconds)} rows/s into PostgreSQL (${rows[0]!.appointments} appointment rows + ${rows[0]!.events} event-log rows; ` +
        `batches of ${settings.batchSize}, ${settings.concurrency} at a time, ${worker.totals.batches} batches)`,
    );
    if (rows[0]!.appointments !== BOOKINGS || rows[0]!.events !== BOOKINGS) throw new Error('not every booking reached PostgreSQL');
    return {
      bookingsPerSecond: backlog / drainSeconds,
      rowsPerSecond: written / drainSeconds,
      engineBookingsPerSecond: BOOKINGS / bookingSeconds,
    };
  } finally {
    await pool.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
    await pool.end();
    for await (const chunk of scanKeys(redis, '*')) await unlinkKeys(redis, chunk);
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const results: RunResult[] = [];
  for (let run = 1; run <= RUNS; run++) results.push(await runOnce(run));
  const pick = (f: (r: RunResult) => number) => Math.round(median(results.map(f)));
  console.log(
    `drain-bench: median of ${RUNS} runs: ${pick((r) => r.rowsPerSecond)} rows/s into PostgreSQL ` +
      `(${pick((r) => r.bookingsPerSecond)} bookings/s drained; the engine booked ${pick((r) => r.engineBookingsPerSecond)}/s without HTTP)`,
  );
}

main().catch((err: Error) => {
  console.error(`drain-bench: ${err.stack ?? err.message}`);
  process.exit(1);
});
