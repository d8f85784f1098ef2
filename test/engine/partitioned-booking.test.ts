/**
 * The booking across two partitions (engine/partitioned-booking.ts, engine/partitioned-booking.md):
 * each operation's steps, a stop after every step followed by recovery, the tombstone that refuses
 * a late seats step, and many concurrent bookings into a few seats. On one Redis (REDIS_URL) or on
 * the cluster (REDIS_CLUSTER, npm run test:cluster).
 */
import { keys } from '../../engine/keys.js';
import { PartitionedBooking, StoppedAfterStep } from '../../engine/partitioned-booking.js';
import { parseOutboxEntry, type StreamEntry } from '../../engine/records.js';
import { Status } from '../../engine/status.js';
import { demoCenterId, everySlot, slotsOf } from '../support/booking.js';
import { partitionedAccount, partitionedSessions, partitionedViolations, publishPartitioned } from '../support/partitioned.js';
import { Cluster } from 'ioredis';
import { connectTestRedis, describe, expect, test, TEST_REDIS } from '../support/fixtures.js';
import { BookingEngine } from '../../engine/engine.js';

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

describe('partitioned booking: a stop after any step, then recovery', () => {
  const HOLD_MS = 30_000;

  test.for([1, 2])('a booking stopped after step %i is resolved after its deadline, never before', async (step, { engine, clock }) => {
    const booking = new PartitionedBooking(engine, { holdMs: HOLD_MS });
    const sessionId = await publishPartitioned(booking);
    const { accountId, beneficiaryIds } = await partitionedAccount(engine, 1);
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    const partition = engine.partitions.of(accountId);
    booking.stopAfter = { operation: 'book', step };
    await expect(booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds })).rejects.toThrow(StoppedAfterStep);
    const [intent] = await engine.redis.zrange(keys.intents(engine.partitions, partition), 0, -1);
    const appointmentId = intent!.slice('book:'.length);
    expect((await booking.getAppointment(appointmentId))!.pending).toBe('book');
    // held: the beneficiary cannot be booked twice meanwhile, and nothing is resolved before the deadline
    expect(await booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds })).toMatchObject({ status: Status.ALREADY_BOOKED });
    expect(await booking.resolveExpiredIntents(partition)).toBe(0);
    expect((await booking.getSession(sessionId))!.booked1).toBe(step === 2 ? 1 : 0);

    clock.advance(HOLD_MS + 1);
    expect(await booking.resolveExpiredIntents(partition)).toBe(1);
    expect(await partitionedViolations(booking, [sessionId], [appointmentId], [accountId])).toEqual([]);
    if (step === 1) {
      // decided as failed: the tombstone is there, the hold is gone, the beneficiary books afresh
      expect(await booking.getClaim(sessionId, appointmentId)).toEqual({ state: 'aborted' });
      expect(await booking.getAppointment(appointmentId)).toBeNull();
      expect(await booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds })).toMatchObject({ ok: true });
    } else {
      // the seats were taken: recovery confirms, and the outbox gets the booking
      expect((await booking.getAppointment(appointmentId))!.pending).toBeNull();
      expect((await outboxAppointmentEvents(engine, accountId)).map((e) => e.eventId)).toEqual([`appointment:${appointmentId}:1`]);
    }
  });

  test('the sweeper pass resolves every partition\'s expired intents, batch after batch', async ({ engine, clock }) => {
    const booking = new PartitionedBooking(engine, { holdMs: HOLD_MS, sweepBatch: 2 });
    const sessionId = await publishPartitioned(booking);
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    const accounts = await Promise.all(Array.from({ length: 6 }, () => partitionedAccount(engine, 1)));
    for (const [i, { accountId, beneficiaryIds }] of accounts.entries()) {
      booking.stopAfter = { operation: 'book', step: 1 + (i % 2) };
      await expect(booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds })).rejects.toThrow(StoppedAfterStep);
    }
    const partitions = [...new Set(accounts.map((a) => engine.partitions.of(a.accountId)))];
    const intents = (await Promise.all(partitions.map((p) => engine.redis.zrange(keys.intents(engine.partitions, p), 0, -1)))).flat();
    expect(intents).toHaveLength(6);
    expect(await booking.resolveAllExpiredIntents()).toBe(0);
    clock.advance(HOLD_MS + 1);
    expect(await booking.resolveAllExpiredIntents()).toBe(6);
    // the three stopped after taking their seats are booked; the three stopped before are not
    expect((await booking.getSession(sessionId))!.booked1).toBe(3);
    const appointmentIds = intents.map((intent) => intent.slice('book:'.length));
    expect(await partitionedViolations(booking, [sessionId], appointmentIds, accounts.map((a) => a.accountId))).toEqual([]);
  });

  test('the next booking of a held beneficiary resolves an expired hold itself', async ({ engine, clock }) => {
    const booking = new PartitionedBooking(engine, { holdMs: HOLD_MS });
    const sessionId = await publishPartitioned(booking);
    const { accountId, beneficiaryIds } = await partitionedAccount(engine, 1);
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    booking.stopAfter = { operation: 'book', step: 1 };
    await expect(booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds })).rejects.toThrow(StoppedAfterStep);
    clock.advance(HOLD_MS + 1);
    expect(await booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds })).toMatchObject({ ok: true, availableAfter: 9 });
  });

  test('a late seats step after recovery decided "aborted" is refused by the tombstone', async ({ engine, clock }) => {
    const booking = new PartitionedBooking(engine, { holdMs: HOLD_MS });
    const sessionId = await publishPartitioned(booking);
    const { accountId, beneficiaryIds } = await partitionedAccount(engine, 2);
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    booking.stopAfter = { operation: 'book', step: 1 };
    await expect(booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds })).rejects.toThrow(StoppedAfterStep);
    const [intent] = await engine.redis.zrange(keys.forAccount(engine.partitions, accountId).intents(), 0, -1);
    const appointmentId = intent!.slice('book:'.length);
    // what the stopped process still holds in memory, to run its step 2 late
    const held = (await booking.getAppointment(appointmentId))!;
    clock.advance(HOLD_MS + 1);
    expect(await booking.resolveExpiredIntents(engine.partitions.of(accountId))).toBe(1);
    const late = await (booking as unknown as { takeSeats: (id: string, h: typeof held) => Promise<unknown[]> }).takeSeats(appointmentId, held);
    expect(late).toEqual([Status.BOOKING_ABORTED]);
    expect((await booking.getSession(sessionId))!.booked1).toBe(0);
    expect(await partitionedViolations(booking, [sessionId], [appointmentId], [accountId])).toEqual([]);
  });

  test.for([1, 2])('a cancel stopped after step %i gives the seats back once, after recovery', async (step, { engine, clock }) => {
    const booking = new PartitionedBooking(engine, { holdMs: HOLD_MS });
    const sessionId = await publishPartitioned(booking);
    const { accountId, beneficiaryIds } = await partitionedAccount(engine, 2);
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    const booked = await booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds });
    if (!booked.ok) throw new Error(`book: ${booked.status}`);
    booking.stopAfter = { operation: 'cancel', step };
    await expect(booking.cancel(accountId, booked.appointmentId, [beneficiaryIds[0]!])).rejects.toThrow(StoppedAfterStep);
    // cancelled at once; the seat is back after step 2, or owed (an undersell) until recovery
    expect((await booking.getAppointment(booked.appointmentId))!.appointment.beneficiaries[0]!.status).toBe('cancelled');
    expect((await booking.getSession(sessionId))!.booked1).toBe(step === 1 ? 2 : 1);
    clock.advance(HOLD_MS + 1);
    expect(await booking.resolveExpiredIntents(engine.partitions.of(accountId))).toBe(1);
    expect((await booking.getSession(sessionId))!.booked1).toBe(1);
    expect(await partitionedViolations(booking, [sessionId], [booked.appointmentId], [accountId])).toEqual([]);
  });

  test.for([
    [1, 'other'],
    [2, 'other'],
    [3, 'other'],
    [4, 'other'],
    [1, 'same'],
    [2, 'same'],
    [3, 'same'],
  ] as const)('a reschedule stopped after step %i (%s session) ends moved or not, never both, after recovery', async ([step, where], { engine, clock }) => {
    const booking = new PartitionedBooking(engine, { holdMs: HOLD_MS });
    const [from, to] = await partitionedSessions(booking, 2);
    const target = where === 'same' ? from! : to!;
    const { accountId, beneficiaryIds } = await partitionedAccount(engine, 2);
    const slots = slotsOf(engine, demoCenterId(engine));
    const booked = await booking.book({ accountId, sessionId: from!, slot: slots[0]!, dose: 1, beneficiaryIds });
    if (!booked.ok) throw new Error(`book: ${booked.status}`);
    booking.stopAfter = { operation: 'reschedule', step };
    await expect(booking.reschedule(accountId, booked.appointmentId, target, slots[1]!)).rejects.toThrow(StoppedAfterStep);
    // until recovery the appointment stays live (in the old session, or already in the new one)
    const during = (await booking.getAppointment(booked.appointmentId))!;
    expect(during.appointment.beneficiaries.every((b) => b.status === 'booked')).toBe(true);
    clock.advance(HOLD_MS + 1);
    expect(await booking.resolveExpiredIntents(engine.partitions.of(accountId))).toBe(1);
    const after = (await booking.getAppointment(booked.appointmentId))!;
    // the seats were taken in the new session from step 2 on: the move stands; before, it is undone
    expect([after.appointment.session_id, after.appointment.slot]).toEqual(step >= 2 ? [target, slots[1]] : [from, slots[0]]);
    expect(await partitionedViolations(booking, [from!, to!], [booked.appointmentId], [accountId])).toEqual([]);
    // and it can be moved again
    expect(await booking.reschedule(accountId, booked.appointmentId, target, slots[2]!)).toMatchObject({ ok: true });
    expect(await partitionedViolations(booking, [from!, to!], [booked.appointmentId], [accountId])).toEqual([]);
  });
});

describe('partitioned booking: what a step meets', () => {
  test('a session changed between the hold and the seats: refused as SESSION_CHANGED, released, and the retry books afresh', async ({ engine }) => {
    const booking = new PartitionedBooking(engine);
    const sessionId = await publishPartitioned(booking, { capacity_dose1: 10 });
    const { accountId, beneficiaryIds } = await partitionedAccount(engine, 1);
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    const request = { accountId, sessionId, slot, dose: 1, beneficiaryIds, idempotencyKey: 'retry-1' };
    booking.stopAfter = { operation: 'book', step: 1 };
    await expect(booking.book(request)).rejects.toThrow(StoppedAfterStep);
    const [intent] = await engine.redis.zrange(keys.forAccount(engine.partitions, accountId).intents(), 0, -1);
    const first = intent!.slice('book:'.length);
    // an administrator changes the session (a new version) before the stopped booking is retried
    await publishPartitioned(booking, { capacity_dose1: 12 });
    const retried = await booking.book(request);
    expect(retried).toMatchObject({ ok: true, status: Status.OK, availableAfter: 11 });
    if (!retried.ok) return;
    expect(retried.appointmentId).not.toBe(first);
    expect(await booking.getClaim(sessionId, first)).toEqual({ state: 'refused', status: Status.SESSION_CHANGED });
    expect(await booking.getAppointment(first)).toBeNull();
    expect(await partitionedViolations(booking, [sessionId], [first, retried.appointmentId], [accountId])).toEqual([]);
    // and the key now answers with the booking that was made
    expect(await booking.book(request)).toMatchObject({ ok: true, status: Status.REPLAYED, appointmentId: retried.appointmentId });
  });

  test('a cancel meeting a reschedule in flight is STALE_APPOINTMENT until its deadline, then resolves it and cancels', async ({ engine, clock }) => {
    const booking = new PartitionedBooking(engine, { holdMs: 30_000 });
    const [from, to] = await partitionedSessions(booking, 2);
    const { accountId, beneficiaryIds } = await partitionedAccount(engine, 1);
    const slots = slotsOf(engine, demoCenterId(engine));
    const booked = await booking.book({ accountId, sessionId: from!, slot: slots[0]!, dose: 1, beneficiaryIds });
    if (!booked.ok) throw new Error(`book: ${booked.status}`);
    booking.stopAfter = { operation: 'reschedule', step: 2 };
    await expect(booking.reschedule(accountId, booked.appointmentId, to!, slots[1]!)).rejects.toThrow(StoppedAfterStep);
    expect(await booking.cancel(accountId, booked.appointmentId)).toMatchObject({ ok: false, status: Status.STALE_APPOINTMENT });
    expect(await booking.reschedule(accountId, booked.appointmentId, to!, slots[2]!)).toMatchObject({ ok: false, status: Status.STALE_APPOINTMENT });
    clock.advance(30_001);
    // the move had its seats: it is finished first, then the cancel gives back the new session's seats
    expect(await booking.cancel(accountId, booked.appointmentId)).toMatchObject({ ok: true, cancelled: 1 });
    expect([(await booking.getSession(from!))!.booked1, (await booking.getSession(to!))!.booked1]).toEqual([0, 0]);
    const actions = (await outboxAppointmentEvents(engine, accountId)).map((e) => e.kind === 'appointment' && e.change.action);
    expect(actions).toEqual(['booked', 'rescheduled', 'cancelled']);
    expect(await partitionedViolations(booking, [from!, to!], [booked.appointmentId], [accountId])).toEqual([]);
  });
});

describe('partitioned booking: concurrency', () => {
  test('many concurrent bookings on four connections into a few seats in three partitions: capacity and one live appointment per dose hold', async ({ engine, clock, prefix }) => {
    const SEATS = 4;
    const setup = new PartitionedBooking(engine);
    const sessions = await partitionedSessions(setup, 3, { capacity_dose1: SEATS, capacity_dose2: 0, slot_capacity: everySlot(engine, demoCenterId(engine), SEATS) });
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    const accounts = await Promise.all(Array.from({ length: 72 }, () => partitionedAccount(engine, 1)));
    // four engines, each on its own connection, as four gateway processes
    const connections = Array.from({ length: 4 }, () => connectTestRedis(prefix));
    try {
      const bookings = connections.map((redis) => new PartitionedBooking(new BookingEngine(redis, { country: engine.country, secret: 'test-secret', clock: clock.now })));
      const attempts = accounts.flatMap(({ accountId, beneficiaryIds }, i) => {
        const request = (s: number) => ({ accountId, sessionId: sessions[s % 3]!, slot, dose: 1, beneficiaryIds });
        // every fourth beneficiary also tries another session at the same time; each session has
        // more single attempts than seats, so every session fills whoever wins the doubles
        return i % 4 === 0 ? [request(i), request(i + 1)] : [request(i)];
      });
      const outcomes = await Promise.all(attempts.map((request, i) => bookings[i % bookings.length]!.book(request)));
      const byStatus = new Map<Status, number>();
      for (const o of outcomes) byStatus.set(o.status, (byStatus.get(o.status) ?? 0) + 1);
      expect([...byStatus.keys()].every((s) => [Status.OK, Status.FULL, Status.ALREADY_BOOKED].includes(s)), JSON.stringify([...byStatus])).toBe(true);
      expect(byStatus.get(Status.OK), JSON.stringify([...byStatus])).toBe(3 * SEATS);
      const winners = attempts.filter((_, i) => outcomes[i]!.ok).map((r) => r.beneficiaryIds[0]);
      expect(new Set(winners).size).toBe(winners.length);
      for (const sessionId of sessions) expect((await setup.getSession(sessionId))!.booked1).toBe(SEATS);
      const appointmentIds = outcomes.flatMap((o) => (o.ok ? [o.appointmentId] : []));
      expect(await partitionedViolations(setup, sessions, appointmentIds, accounts.map((a) => a.accountId))).toEqual([]);
    } finally {
      for (const redis of connections) redis.disconnect();
    }
  });
});

// the local cluster has a replica per master; one Redis has none to wait for
describe.skipIf(TEST_REDIS.cluster === undefined)('partitioned booking: acknowledged only once replicas hold it', () => {
  test('with one replica required, every step waits, and an answered booking is on the replicas of both partitions', async ({ engine, clock, prefix }) => {
    const waiting = new BookingEngine(engine.redis, { country: engine.country, secret: 'test-secret', clock: clock.now, durability: { replicas: 1, timeoutMs: 5000 } });
    const booking = new PartitionedBooking(waiting);
    const [sessionId] = await partitionedSessions(booking, 1);
    const { accountId, beneficiaryIds } = await partitionedAccount(engine, 1);
    const outcome = await booking.book({ accountId, sessionId: sessionId!, slot: slotsOf(engine, demoCenterId(engine))[0]!, dose: 1, beneficiaryIds });
    if (!outcome.ok) throw new Error(`book: ${outcome.status}`);
    // every step that wrote waited (publish, hold, take, confirm), joined to WAITs per hash tag
    expect(waiting.durability.counts.changes).toBe(4);
    expect(waiting.durability.counts.waits).toBeGreaterThanOrEqual(3);
    const replicas = new Cluster(TEST_REDIS.cluster!, { scaleReads: 'slave', keyPrefix: prefix });
    try {
      expect(await replicas.hget(keys.partitionAppointment(engine.partitions, outcome.appointmentId), 'pending')).toBeNull();
      expect(await replicas.hget(keys.partitionAppointment(engine.partitions, outcome.appointmentId), 'account_id')).toBe(accountId);
      expect(await replicas.hget(keys.claim(engine.partitions, sessionId!, outcome.appointmentId), 'state')).toBe('taken');
    } finally {
      replicas.disconnect();
    }
  });
});
