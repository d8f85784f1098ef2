/**
 * The worker as a real process (node, compiled), killed for real while it drains bookings that keep
 * coming through the engine.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BookingEngine } from '../../engine/engine.js';
import { readOutboxBacklog } from '../../worker/outbox.js';
import { formatReconcileReport, reconcile } from '../../worker/reconcile.js';
import { demoCenterId, everySlot, publishSession, slotsOf } from '../support/booking.js';
import {
  AcknowledgedChanges,
  describe,
  expect,
  loggedAppointmentEvents,
  outboxLength,
  registerAccounts,
  startWorkerProcess,
  test,
  waitFor,
  type ChildProcessHandle,
} from './support.js';

/**
 * Books every beneficiary given, `perTick` at a time with a pause between ticks, until told to stop
 * or out of beneficiaries; every tenth booking is cancelled again (a second change of the same
 * appointment). Records what the engine acknowledged.
 */
function bookingRush(
  engine: BookingEngine,
  sessions: { sessionId: string; slots: string[] }[],
  citizens: { accountId: string; beneficiaryIds: string[] }[],
  acknowledged: AcknowledgedChanges,
  perTick = 20,
  pauseMs = 10,
) {
  let stopped = false;
  const queue = citizens.flatMap(({ accountId, beneficiaryIds }) => beneficiaryIds.map((id) => ({ accountId, id })));
  let made = 0;
  const done = (async () => {
    while (!stopped && queue.length) {
      const tick = queue.splice(0, perTick);
      await Promise.all(
        tick.map(async ({ accountId, id }) => {
          const n = made++;
          const { sessionId, slots } = sessions[n % sessions.length]!;
          const outcome = await engine.book({
            accountId,
            sessionId,
            slot: slots[Math.floor(n / sessions.length) % slots.length]!,
            dose: 1,
            beneficiaryIds: [id],
          });
          if (!outcome.ok) throw new Error(`booking refused: status ${outcome.status}`);
          acknowledged.booked(outcome.appointmentId);
          if (n % 10 === 0) {
            const cancelled = await engine.cancel(accountId, outcome.appointmentId);
            if (!cancelled.ok) throw new Error(`cancel refused: status ${cancelled.status}`);
            acknowledged.changed(outcome.appointmentId, 2);
          }
        }),
      );
      await sleep(pauseMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
    },
    get made() {
      return made;
    },
  };
}

async function rowsWritten(pool: import('pg').Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM appointment_events');
  return rows[0]!.n;
}

describe('the worker process', () => {
  test('killed with SIGKILL twice mid-drain and restarted, it writes every acknowledged change exactly once', async ({
    engine,
    redis,
    pool,
    prefix,
    schema,
  }) => {
    const sessions = await Promise.all(
      [0, 1].map(async (n) => {
        const centerId = demoCenterId(engine, n);
        const options = { center_id: centerId, capacity_dose1: 5000, capacity_dose2: 0, slot_capacity: everySlot(engine, centerId, 5000) };
        return { sessionId: await publishSession(engine, options), slots: slotsOf(engine, centerId) };
      }),
    );
    const citizens = await registerAccounts(engine, 1500, 4);
    const acknowledged = new AcknowledgedChanges();
    const env = { prefix, schema, extra: { TEEKA_WORKER_BATCH: '100' } };

    let worker: ChildProcessHandle = await startWorkerProcess(env);
    const rush = bookingRush(engine, sessions, citizens, acknowledged);
    const workers: ChildProcessHandle[] = [worker];
    try {
      for (let kill = 1; kill <= 2; kill++) {
        // each worker gets to write a good part of the rush before it is killed
        const threshold = (await rowsWritten(pool)) + 500;
        await waitFor(`${threshold} appointment events in PostgreSQL`, async () => (await rowsWritten(pool)) >= threshold);
        // mid-drain: entries read from the outbox and not yet written are pending when the kill lands
        const backlog = await waitFor('entries pending in the consumer group', async () => {
          const b = await readOutboxBacklog(redis);
          return b.pending > 0 ? b : null;
        }, 5000, 1);
        const killed = await worker.kill('SIGKILL');
        expect(killed.signal).toBe('SIGKILL');
        expect(backlog.pending).toBeGreaterThan(0);
        worker = await startWorkerProcess(env);
        workers.push(worker);
      }
      await waitFor('the rush to book more after the second restart', async () => rush.made > 3000, 30_000);
    } finally {
      await rush.stop();
    }

    try {
      await waitFor('the outbox to drain', async () => (await outboxLength(redis)) === 0, 30_000);
      const report = await reconcile(redis, pool);
      expect(report.ok, formatReconcileReport(report)).toBe(true);
      // every acknowledged change exactly once, and nothing else
      const logged = await loggedAppointmentEvents(pool);
      expect(logged.rows).toBe(acknowledged.eventIds.size);
      expect(logged.ids).toEqual(acknowledged.eventIds);
      // the restarted workers took over what the killed ones held: stalled jobs or claimed entries
      const takeovers = workers.slice(1).map((w) => /lost its worker|claimed \d+ entries of dead consumer/.test(w.output));
      expect(takeovers.some(Boolean), workers.map((w) => w.output).join('\n-----\n')).toBe(true);
    } finally {
      await worker.kill('SIGTERM');
    }
    // its waits are bounded one by one (three worker starts, two kills, a 30 s rush and a 30 s drain);
    // under CI's load together they pass the suite's 60 s, which is not what this test is about
  }, 180_000);

  test('on SIGTERM it stops reading, finishes the batch in progress and exits 0; a restart drains the rest', async ({
    engine,
    redis,
    pool,
    prefix,
    schema,
  }) => {
    const slots = slotsOf(engine, demoCenterId(engine));
    const sessionId = await publishSession(engine, { capacity_dose1: 2000, capacity_dose2: 0, slot_capacity: slots.map(() => 2000) });
    const citizens = await registerAccounts(engine, 300, 4);
    const acknowledged = new AcknowledgedChanges();
    const env = { prefix, schema, extra: { TEEKA_WORKER_BATCH: '50' } };
    const worker = await startWorkerProcess(env);
    const rush = bookingRush(engine, [{ sessionId, slots }], citizens, acknowledged, 20, 5);
    await waitFor('some bookings in PostgreSQL', async () => (await rowsWritten(pool)) > 100);
    const exit = await worker.kill('SIGTERM');
    await rush.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(worker.output).toMatch(/SIGTERM: finishing the batch in progress/);
    expect(worker.output).toMatch(/stopped after \d+ batches/);

    const restarted = await startWorkerProcess(env);
    try {
      await waitFor('the outbox to drain', async () => (await outboxLength(redis)) === 0, 30_000);
      const report = await reconcile(redis, pool);
      expect(report.ok, formatReconcileReport(report)).toBe(true);
      expect((await loggedAppointmentEvents(pool)).ids).toEqual(acknowledged.eventIds);
    } finally {
      await restarted.kill('SIGTERM');
    }
  });
});
