/**
 * The booking across two partitions (engine/partitioned-booking.ts, engine/partitioned-booking.md):
 * each operation's steps, a stop after every step followed by recovery, the tombstone that refuses
 * a late seats step, and many concurrent bookings into a few seats. On one Redis (REDIS_URL) or on
 * the cluster (REDIS_CLUSTER, npm run test:cluster).
 */
import { keys } from '../../engine/keys.js';
import { PartitionedBooking, StoppedAfterStep, type PartitionedOperation } from '../../engine/partitioned-booking.js';
import { parseOutboxEntry, type StreamEntry } from '../../engine/records.js';
import { Status } from '../../engine/status.js';
import { demoCenterId, slotsOf } from '../support/booking.js';
import { partitionedAccount, partitionedSessions, publishPartitioned } from '../support/partitioned.js';
import { describe, expect, test } from '../support/fixtures.js';
import type { BookingEngine } from '../../engine/engine.js';

async function outboxAppointmentEvents(engine: BookingEngine, accountId: string) {
  const entries = (await engine.redis.xrange(keys.forAccount(engine.partitions, accountId).outbox(), '-', '+')) as StreamEntry[];
  return entries.map(parseOutboxEntry).filter((e) => e.kind === 'appointment');
}

describe('partitioned booking: the steps', () => {
  test('a booking holds, takes seats and confirms; its outbox entry is the single-slot one', async ({ engine }) => {
    const booking = new PartitionedBooking(engine);
    const sessionId = await publishPartitioned(booking);
    const { accountId, beneficiaryIds } = await partitionedAccount(engine, 2);
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    const booked = await booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds });
    expect(booked).toMatchObject({ ok: true, status: Status.OK, availableAfter: 8 });
    if (!booked.ok) return;
    expect(engine.partitions.of(booked.appointmentId)).toBe(engine.partitions.of(accountId));
    const held = (await booking.getAppointment(booked.appointmentId))!;
    expect(held.pending).toBeNull();
    expect(held.appointment.beneficiaries.map((b) => b.status)).toEqual(['booked', 'booked']);
    expect((await booking.getSession(sessionId))!.booked1).toBe(2);
    expect(await booking.getClaim(sessionId, booked.appointmentId)).toMatchObject({ state: 'taken', seats: 2 });
    const [event] = await outboxAppointmentEvents(engine, accountId);
    expect(event).toMatchObject({ kind: 'appointment', change: { action: 'booked', appointment_id: booked.appointmentId, version: 1, session_id: sessionId } });
    expect(await engine.redis.zcard(keys.forAccount(engine.partitions, accountId).intents())).toBe(0);

    // one live appointment per beneficiary and dose, as the single-slot script says
    const again = await booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds: [beneficiaryIds[0]!] });
    expect(again).toMatchObject({ ok: false, status: Status.ALREADY_BOOKED, beneficiaryId: beneficiaryIds[0] });
  });

  test('a refused seats step releases the hold: the beneficiary can book elsewhere at once', async ({ engine }) => {
    const booking = new PartitionedBooking(engine);
    const full = await publishPartitioned(booking, { capacity_dose1: 1 });
    const other = await publishPartitioned(booking, { date: engine.today() + 2 });
    const { accountId, beneficiaryIds } = await partitionedAccount(engine, 2);
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    expect(await booking.book({ accountId, sessionId: full, slot, dose: 1, beneficiaryIds })).toMatchObject({ ok: false, status: Status.FULL });
    expect(await booking.getClaim(full, 'x')).toBeNull();
    expect(await booking.book({ accountId, sessionId: other, slot, dose: 1, beneficiaryIds })).toMatchObject({ ok: true });
    expect((await booking.getSession(full))!.booked1).toBe(0);
  });

  test('cancel and reschedule across two session partitions give the seats back exactly', async ({ engine }) => {
    const booking = new PartitionedBooking(engine);
    const [first, second] = await partitionedSessions(booking, 2);
    const { accountId, beneficiaryIds } = await partitionedAccount(engine, 3);
    const slots = slotsOf(engine, demoCenterId(engine));
    const booked = await booking.book({ accountId, sessionId: first!, slot: slots[0]!, dose: 1, beneficiaryIds });
    if (!booked.ok) throw new Error(`book: ${booked.status}`);
    expect(await booking.reschedule(accountId, booked.appointmentId, second!, slots[1]!)).toMatchObject({ ok: true, availableAfter: 7 });
    expect((await booking.getSession(first!))!.booked1).toBe(0);
    expect((await booking.getSession(second!))!).toMatchObject({ booked1: 3 });
    expect(await booking.cancel(accountId, booked.appointmentId, [beneficiaryIds[1]!])).toMatchObject({ ok: true, cancelled: 1 });
    expect((await booking.getSession(second!))!.booked1).toBe(2);
    // a move to another slot of the same session moves the slot counters only
    expect(await booking.reschedule(accountId, booked.appointmentId, second!, slots[2]!)).toMatchObject({ ok: true, availableAfter: 8 });
    const session = (await booking.getSession(second!))!;
    expect([session.booked1, session.slot_booked.slice(0, 3)]).toEqual([2, [0, 0, 2]]);
    const actions = (await outboxAppointmentEvents(engine, accountId)).map((e) => e.kind === 'appointment' && e.change.action);
    expect(actions).toEqual(['booked', 'rescheduled', 'cancelled', 'rescheduled']);
    expect(await engine.redis.zcard(keys.forAccount(engine.partitions, accountId).intents())).toBe(0);
  });
});
