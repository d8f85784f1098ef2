/**
 * Invariant 4 under real faults: a rush of more than 10,000 bookings through the gateway over HTTP,
 * during which the worker is SIGKILLed twice, the gateway once (all restarted), and PostgreSQL
 * (a private server) is stopped for 10 seconds. Clients do what a careful client does: when a
 * request fails without an answer, they retry it with the same Idempotency-Key.
 *
 * After draining: reconcile passes, every booking the API acknowledged is in PostgreSQL exactly
 * once, and PostgreSQL holds no booking the API did not acknowledge.
 */
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { projectRoot } from '../../engine/config.js';
import { BookingEngine } from '../../engine/engine.js';
import { deleteKeysWithPrefix, type RedisClient } from '../../engine/redis.js';
import { runWithConcurrency } from '../../loadtest/bench-support.js';
import { openPool } from '../../worker/database.js';
import { readQueueDepth } from '../../worker/queue-depth.js';
import { formatReconcileReport, reconcile } from '../../worker/reconcile.js';
import { processClock } from '../support/clock.js';
import { connectTestRedis, demoCountry, TEST_REDIS } from '../support/fixtures.js';
import { freePort } from '../support/gateway.js';
import { bookUntilAnswered, publishRushSessions, rushSeats } from './rush.js';
import { PrivatePostgres, spawnNode, startWorkerProcess, waitFor, type ChildProcessHandle } from '../worker/support.js';

const DEMO_SECRET = 'teeka-demo-secret-do-not-use-in-production'; // the gateway's demo default
const BOOKINGS = 10_400;
const prefix = `faults:${Date.now().toString(36)}:`;
const schema = `faults_${Date.now().toString(36)}`;

let postgres: PrivatePostgres;
let redis: RedisClient;
let pool: pg.Pool;
let worker: ChildProcessHandle | undefined;
let gateway: ChildProcessHandle | undefined;
let port: number;

const env = () => ({ prefix, schema, databaseUrl: postgres.url, extra: { PORT: String(port), HOST: '127.0.0.1', GATEWAY_THREADS: '2', TEEKA_ENV: 'demo' } });

async function startGateway(): Promise<ChildProcessHandle> {
  const handle = spawnNode(join(projectRoot(), 'dist', 'gateway', 'main.js'), env());
  // any HTTP answer will do: /healthz says 503 while PostgreSQL is down, and bookings still work
  await waitFor('the gateway to answer', async () => {
    if (handle.child.exitCode !== null) throw new Error(`gateway exited:\n${handle.output}`);
    return fetch(`http://127.0.0.1:${port}/healthz`).then(
      () => true,
      () => false,
    );
  }, 30_000);
  return handle;
}

beforeAll(async () => {
  postgres = await PrivatePostgres.create();
  port = await freePort();
  redis = connectTestRedis(prefix);
  worker = await startWorkerProcess(env());
  pool = openPool({ databaseUrl: postgres.url, schema, max: 2, onIdleError: () => {} });
  gateway = await startGateway();
}, 120_000);

afterAll(async () => {
  await gateway?.kill('SIGTERM');
  await worker?.kill('SIGTERM');
  await pool?.end().catch(() => {});
  redis?.disconnect();
  await deleteKeysWithPrefix(TEST_REDIS, prefix);
  await postgres?.destroy();
});

it(
  `${BOOKINGS} bookings through the gateway while the worker is killed twice, the gateway once and PostgreSQL is down for 10 s`,
  async () => {
    const engine = new BookingEngine(redis, { country: demoCountry(), secret: DEMO_SECRET, testMobiles: { prefix: '9999', otp: '123456' }, clock: processClock });
    const sessions = await publishRushSessions(engine, 3, 4000);
    // citizens: test numbers logged in through the engine, 4 beneficiaries each (the demo's limit)
    const seats = await rushSeats(engine, DEMO_SECRET, BOOKINGS);

    // the rush: every request retried with its Idempotency-Key until it gets an answer
    const acknowledged = new Map<string, { appointmentId: string; sessionId: string }>();
    const refusals: string[] = [];
    let retries = 0;
    const book = async (i: number) => {
      const seat = seats[i]!;
      const session = sessions[i % sessions.length]!;
      const answer = await bookUntilAnswered(port, seat, session, session.slots[i % 4]!);
      retries += answer.retries;
      if (answer.status === 200) acknowledged.set(seat.beneficiaryId, { appointmentId: answer.appointmentId!, sessionId: session.id });
      else refusals.push(`${answer.status} ${answer.errorCode}`);
    };

    // the faults, each triggered by the rush's progress so that it strikes mid-rush
    const log: string[] = [];
    const at = (fraction: number) => waitFor(`${fraction * 100} % of the rush`, () => acknowledged.size >= fraction * BOOKINGS || null, 120_000, 20);
    const faults = (async () => {
      await at(0.1);
      await worker!.kill('SIGKILL');
      log.push(`worker SIGKILLed at ${acknowledged.size} acknowledged`);
      worker = await startWorkerProcess(env());
      await at(0.2);
      await postgres.stop();
      const stoppedAt = Date.now();
      log.push(`PostgreSQL stopped at ${acknowledged.size} acknowledged`);
      const restartPostgres = (async () => {
        await new Promise((r) => setTimeout(r, 10_000 - (Date.now() - stoppedAt)));
        await postgres.start();
        log.push(`PostgreSQL started again after ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s, at ${acknowledged.size} acknowledged`);
      })();
      await at(0.4);
      await gateway!.kill('SIGKILL');
      log.push(`gateway SIGKILLed at ${acknowledged.size} acknowledged`);
      gateway = await startGateway();
      log.push(`gateway restarted at ${acknowledged.size} acknowledged`);
      await at(0.7);
      await worker!.kill('SIGKILL');
      log.push(`worker SIGKILLed again at ${acknowledged.size} acknowledged`);
      worker = await startWorkerProcess(env());
      await restartPostgres;
    })();
    const started = Date.now();
    await runWithConcurrency(BOOKINGS, 32, book);
    const rushSeconds = (Date.now() - started) / 1000;
    await faults;
    expect(log.filter((l) => l.includes('SIGKILL'))).toHaveLength(3);

    // drain, then prove it
    await waitFor('the outbox to drain', async () => {
      const depth = await readQueueDepth(redis, null);
      return depth.outboxLength === 0 && depth.pending === 0;
    }, 120_000, 200);
    const report = await reconcile(redis, pool);
    console.log(
      `rush of ${BOOKINGS} in ${rushSeconds.toFixed(1)} s, ${retries} retries without an answer\n${log.join('\n')}\n${formatReconcileReport(report)}`,
    );
    expect(report.ok, formatReconcileReport(report)).toBe(true);
    expect(refusals).toEqual([]);
    expect(acknowledged.size).toBe(BOOKINGS);

    const rows = await pool.query<{ appointment_id: string; beneficiary_id: string; status: string; session_id: string }>(
      'SELECT appointment_id, beneficiary_id, status, session_id FROM appointments',
    );
    // exactly once: one row per acknowledged booking, and none the API did not acknowledge
    expect(rows.rows).toHaveLength(BOOKINGS);
    const byBeneficiary = new Map(rows.rows.map((r) => [r.beneficiary_id, r]));
    for (const [beneficiaryId, ack] of acknowledged) {
      const row = byBeneficiary.get(beneficiaryId);
      expect(row, `acknowledged booking of ${beneficiaryId} missing in PostgreSQL`).toBeDefined();
      expect([row!.appointment_id, row!.status, row!.session_id]).toEqual([ack.appointmentId, 'booked', ack.sessionId]);
    }
    const events = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM appointment_events WHERE event_id LIKE 'appointment:%:1'");
    expect(events.rows[0]!.n).toBe(BOOKINGS);
    for (const session of sessions) {
      const state = (await engine.getSession(session.id))!;
      expect(state.booked1).toBe([...acknowledged.values()].filter((a) => a.sessionId === session.id).length);
    }
  },
  300_000,
);
