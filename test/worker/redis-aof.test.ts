/**
 * Redis itself crashes. With `appendonly yes` and `appendfsync always`, Redis writes every script's
 * effects to the append-only file before it answers, so a booking it acknowledged survives a
 * SIGKILL: the appointment, the seat counters and the outbox entry come back from the AOF.
 * (With `everysec`, up to the last second of acknowledged bookings can be lost: see worker/README.md.)
 */
import { Redis } from 'ioredis';
import { BookingEngine } from '../../engine/engine.js';
import { keys } from '../../engine/keys.js';
import { drainOutboxDirectly } from '../../worker/drain.js';
import { parseOutboxEntry, type StreamEntry } from '../../worker/outbox.js';
import { formatReconcileReport, reconcile } from '../../worker/reconcile.js';
import { demoCenterId, everySlot, publishSession, slotsOf } from '../support/booking.js';
import { demoCountry } from '../support/fixtures.js';
import { describe, expect, PrivateRedis, registerAccounts, test, waitFor } from './support.js';

describe('Redis killed and restarted from its append-only file', () => {
  test('with appendfsync always, no booking Redis acknowledged before the SIGKILL is lost, and all of them reach PostgreSQL', async ({
    prefix,
    clock,
    pool,
  }) => {
    const server = await PrivateRedis.start(['--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction']);
    // as the gateway connects: no offline queue, so nothing is retried behind the test's back
    const connect = () => {
      const connection = new Redis(server.url, { keyPrefix: prefix, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
      connection.on('error', () => {}); // the kill: every command in flight fails, which the rush counts
      return connection;
    };
    let redis = connect();
    try {
      await waitFor('the connection', () => redis.status === 'ready');
      const engine = new BookingEngine(redis, { country: demoCountry(), secret: 'test-secret', clock: clock.now });
      const centerId = demoCenterId(engine);
      const slots = slotsOf(engine, centerId);
      const sessionId = await publishSession(engine, { capacity_dose1: 5000, capacity_dose2: 0, slot_capacity: everySlot(engine, centerId, 5000) });
      const citizens = (await registerAccounts(engine, 1000, 4)).flatMap(({ accountId, beneficiaryIds }) => beneficiaryIds.map((id) => ({ accountId, id })));

      // 20 bookings in flight at any time; the kill lands in the middle of the rush
      const acknowledged: { appointmentId: string; beneficiaryId: string }[] = [];
      let failed = 0;
      let next = 0;
      const lane = async () => {
        while (next < citizens.length) {
          const { accountId, id } = citizens[next++]!;
          try {
            const outcome = await engine.book({ accountId, sessionId, slot: slots[next % slots.length]!, dose: 1, beneficiaryIds: [id] });
            if (outcome.ok) acknowledged.push({ appointmentId: outcome.appointmentId, beneficiaryId: id });
          } catch {
            failed += 1; // no answer: the client cannot know, and must not count it as booked
          }
        }
      };
      const rush = Promise.all(Array.from({ length: 20 }, lane));
      await waitFor('500 acknowledged bookings', () => acknowledged.length >= 500, 20_000, 1);
      await server.kill();
      await rush;
      expect(failed).toBeGreaterThan(0);
      const acknowledgedBeforeKill = acknowledged.length;
      redis.disconnect();

      await server.start();
      redis = connect();
      await waitFor('the connection after the restart', () => redis.status === 'ready');
      const restarted = new BookingEngine(redis, { country: demoCountry(), secret: 'test-secret', clock: clock.now });

      // every acknowledged booking is there, with its seat and its outbox entry
      const appointments = await Promise.all(acknowledged.map((a) => restarted.getAppointment(a.appointmentId)));
      const missing = acknowledged.filter((_, i) => !appointments[i] || appointments[i]!.beneficiaries[0]!.status !== 'booked');
      expect(missing).toEqual([]);
      const session = (await restarted.getSession(sessionId))!;
      expect(session.booked1).toBeGreaterThanOrEqual(acknowledgedBeforeKill);
      const outbox = ((await redis.xrange(keys.outbox(), '-', '+')) as StreamEntry[]).map(parseOutboxEntry);
      const outboxIds = new Set(outbox.map((e) => e.eventId));
      expect(acknowledged.filter((a) => !outboxIds.has(`appointment:${a.appointmentId}:1`))).toEqual([]);

      // and every one of them reaches PostgreSQL; Redis and PostgreSQL agree
      await drainOutboxDirectly(redis, pool);
      const report = await reconcile(redis, pool);
      expect(report.ok, formatReconcileReport(report)).toBe(true);
      const { rows } = await pool.query<{ appointment_id: string }>(
        `SELECT appointment_id FROM appointments WHERE appointment_id = ANY($1::text[]) AND status = 'booked'`,
        [acknowledged.map((a) => a.appointmentId)],
      );
      expect(rows.length).toBe(acknowledged.length);
      // the session counter equals the seats in PostgreSQL: nothing half-applied came back
      expect(report.counts.seats).toBe(session.booked1);
    } finally {
      redis.disconnect();
      await server.destroy();
    }
  });
});
