/**
 * The worker process as the partitioned booking's sweeper (worker/outbox-worker.ts, "intents"):
 * bookings stopped between their steps, as a killed gateway leaves them, are resolved by a real
 * worker once their deadline passes, and not before.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { keys } from '../../engine/keys.js';
import { PartitionedBooking, StoppedAfterStep } from '../../engine/partitioned-booking.js';
import { demoCenterId, slotsOf } from '../support/booking.js';
import { processClock } from '../support/clock.js';
import { partitionedAccount, partitionedViolations, publishPartitioned } from '../support/partitioned.js';
import { describe, expect, startWorkerProcess, test, waitFor } from './support.js';

/** a hold far above a sweep period (200 ms here) and the time to make the bookings on a loaded machine */
const HOLD_MS = 4000;

describe('the worker as the sweeper of expired intents', () => {
  test('resolves bookings stopped after their hold or their seats once the deadline passes, never before', async ({ makeEngine, prefix, schema }) => {
    // the worker process runs on processClock: so does this engine, so both agree on the deadlines
    const engine = makeEngine({ clock: processClock });
    const booking = new PartitionedBooking(engine, { holdMs: HOLD_MS });
    const sessionId = await publishPartitioned(booking);
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    const accounts = await Promise.all(Array.from({ length: 4 }, () => partitionedAccount(engine, 1)));
    const worker = await startWorkerProcess({ prefix, schema, extra: { TEEKA_WORKER_SWEEP_MS: '200' } });
    try {
      // after the worker started, so that its start-up time cannot eat the hold
      for (const [i, { accountId, beneficiaryIds }] of accounts.entries()) {
        booking.stopAfter = { operation: 'book', step: 1 + (i % 2) };
        await expect(booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds })).rejects.toThrow(StoppedAfterStep);
      }
      const intentsOf = async () =>
        (await Promise.all(accounts.map((a) => engine.redis.zrange(keys.forAccount(engine.partitions, a.accountId).intents(), 0, -1)))).flat();
      const intents = [...new Set(await intentsOf())];
      expect(intents).toHaveLength(4);

      // several sweeps pass before the deadline: nothing is touched
      await sleep(1000);
      expect(new Set(await intentsOf())).toEqual(new Set(intents));
      expect(worker.output).not.toMatch(/expired intent/);

      await waitFor('the worker to resolve the four intents', async () => (await intentsOf()).length === 0, 20_000);
      await worker.waitForOutput(/resolved \d+ expired intents? .*\(4 since start\)/);
      // the two stopped after taking their seats are booked, the two stopped before are released
      expect((await booking.getSession(sessionId))!.booked1).toBe(2);
      const appointmentIds = intents.map((intent) => intent.slice('book:'.length));
      const outcomes = await Promise.all(appointmentIds.map(async (id) => [await booking.getAppointment(id), await booking.getClaim(sessionId, id)] as const));
      expect(outcomes.filter(([held, claim]) => held?.pending === null && claim?.state === 'taken')).toHaveLength(2);
      expect(outcomes.filter(([held, claim]) => held === null && claim?.state === 'aborted')).toHaveLength(2);
      expect(await partitionedViolations(booking, [sessionId], appointmentIds, accounts.map((a) => a.accountId))).toEqual([]);
    } finally {
      await worker.kill('SIGTERM');
    }
  });
});
