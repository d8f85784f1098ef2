/**
 * PostgreSQL goes away for 10 seconds while bookings keep coming. A private PostgreSQL server, so
 * stopping it disturbs no other test.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Status } from '../../engine/status.js';
import { openPool } from '../../worker/database.js';
import { migrate } from '../../worker/migrate.js';
import { openPersistQueue } from '../../worker/queue.js';
import { readQueueDepth, type QueueDepth } from '../../worker/queue-depth.js';
import { formatReconcileReport, reconcile } from '../../worker/reconcile.js';
import { demoCenterId, everySlot, publishSession, slotsOf } from '../support/booking.js';
import {
  AcknowledgedChanges,
  describe,
  expect,
  fastWorkerSettings,
  loggedAppointmentEvents,
  outboxLength,
  PrivatePostgres,
  TEST_REDIS,
  registerAccounts,
  startWorkerProcess,
  test,
  waitFor,
} from './support.js';

describe('PostgreSQL down', () => {
  test('for 10 s during a stream of bookings: jobs are retried, nothing is lost, reconcile passes after', async ({
    engine,
    redis,
    prefix,
  }) => {
    const postgres = await PrivatePostgres.create();
    const schema = 'teeka';
    await migrate(postgres.url, schema);
    const pool = openPool({ databaseUrl: postgres.url, schema, onIdleError: () => {} });
    const observer = openPersistQueue({ redisAddress: TEST_REDIS, redisKeyPrefix: prefix, settings: fastWorkerSettings(schema) });
    const worker = await startWorkerProcess({ prefix, schema, databaseUrl: postgres.url, extra: { TEEKA_WORKER_BATCH: '100' } });
    try {
      const centerId = demoCenterId(engine);
      const slots = slotsOf(engine, centerId);
      const sessionId = await publishSession(engine, { capacity_dose1: 5000, capacity_dose2: 0, slot_capacity: everySlot(engine, centerId, 5000) });
      const citizens = (await registerAccounts(engine, 1000, 4)).flatMap(({ accountId, beneficiaryIds }) =>
        beneficiaryIds.map((id) => ({ accountId, id })),
      );
      const acknowledged = new AcknowledgedChanges();

      // about 200 bookings a second for the whole outage and a little on either side
      let stop = false;
      let made = 0;
      const rush = (async () => {
        while (!stop && made < citizens.length) {
          const tick = citizens.slice(made, made + 10);
          made += tick.length;
          await Promise.all(
            tick.map(async ({ accountId, id }, i) => {
              const outcome = await engine.book({ accountId, sessionId, slot: slots[(made + i) % slots.length]!, dose: 1, beneficiaryIds: [id] });
              expect(outcome.status).toBe(Status.OK);
              if (outcome.ok) acknowledged.booked(outcome.appointmentId);
            }),
          );
          await sleep(50);
        }
      })();

      await waitFor('the worker to write the first bookings', async () => (await loggedAppointmentEvents(pool)).rows > 50);
      await pool.end();
      await postgres.stop();
      const downSince = Date.now();
      const duringOutage: QueueDepth[] = [];
      while (Date.now() - downSince < 10_000) {
        duringOutage.push(await readQueueDepth(redis, observer.queue));
        await sleep(500);
      }
      await postgres.start();
      const bookedDuringOutage = made;
      await sleep(1000);
      stop = true;
      await rush;

      // while it was down, batches failed and waited for their retry, and the backlog grew in the outbox
      expect(worker.output).toMatch(/attempts failed, retrying/);
      expect(Math.max(...duringOutage.map((d) => d.bull.delayed + d.bull.waiting))).toBeGreaterThan(0);
      expect(Math.max(...duringOutage.map((d) => d.outboxLength))).toBeGreaterThan(500);
      expect(Math.max(...duringOutage.map((d) => d.oldestUndrainedAgeMs))).toBeGreaterThan(5000);
      expect(bookedDuringOutage).toBeGreaterThan(1000);

      await waitFor('the outbox to drain after PostgreSQL is back', async () => (await outboxLength(redis)) === 0, 30_000);
      const after = openPool({ databaseUrl: postgres.url, schema });
      try {
        const report = await reconcile(redis, after);
        expect(report.ok, formatReconcileReport(report)).toBe(true);
        const logged = await loggedAppointmentEvents(after);
        expect(logged.rows).toBe(acknowledged.eventIds.size);
        expect(logged.ids).toEqual(acknowledged.eventIds);
      } finally {
        await after.end();
      }
      // no batch gave up: a short outage never leaves a failed job behind
      expect((await readQueueDepth(redis, observer.queue)).bull.failed).toBe(0);
    } finally {
      await worker.kill('SIGTERM');
      await observer.close();
      await pool.end().catch(() => {});
      await postgres.destroy();
    }
  });
});
