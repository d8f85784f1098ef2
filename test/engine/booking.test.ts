import type { RedisClient } from '../../engine/redis.js';
import { BookingEngine, type BookingRequest } from '../../engine/engine.js';
import { keys } from '../../engine/keys.js';
import { accessEntriesOf } from '../../engine/access-log.js';
import { parseOutboxEntry } from '../../engine/records.js';
import { Status } from '../../engine/status.js';
import { localInstant, yearOf } from '../../engine/dates.js';
import { defineSession, SessionInputError } from '../../engine/sessions.js';
import { accountWithBeneficiaries, demoCenterId, everyCenter, everySlot, publishSession, slotsOf } from '../support/booking.js';
import { nextMobileOf, otherTwoDoseVaccine, singleDoseVaccine, testCountries, twoDoseVaccine } from '../support/countries.js';
import { WORKING_DAY } from '../support/clock.js';
import { connectTestRedis, describe, expect, test, type TestClock } from '../support/fixtures.js';
import { createBeneficiaryPool } from '../../loadtest/bench-support.js';

const DAY = 86_400_000;

/** The local calendar day (epoch day) and time at `ms` in `timeZone`, read by Intl: the oracle the engine's arithmetic is checked against. */
function localTime(ms: number, timeZone: string): { day: number; hour: number; minute: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(ms)
      .map((p) => [p.type, p.value]),
  );
  return { day: Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day)) / DAY, hour: Number(parts.hour), minute: Number(parts.minute) };
}

/** Define (not publish) a session of `vaccine` at the first centre with `minAge`: throws what publishing would. */
function defineSessionBelow(engine: BookingEngine, vaccine: string, minAge: number) {
  return defineSession(engine.country, {
    center_id: demoCenterId(engine),
    date: engine.today() + 1,
    vaccine,
    min_age_limit: minAge,
    capacity_dose1: 1,
    capacity_dose2: 1,
  });
}

/** Mark one beneficiary vaccinated now, with the security code from their slip, by a vaccinator of every centre. */
async function vaccinate(engine: BookingEngine, appointmentId: string, beneficiaryId: string) {
  const appointment = (await engine.getAppointment(appointmentId))!;
  const securityCode = appointment.beneficiaries.find((b) => b.id === beneficiaryId)?.security_code ?? '';
  return engine.markVaccinated({ appointmentId, beneficiaryId, securityCode, vaccinatorId: 'vaccinator-1', centerIds: everyCenter(engine) });
}

/** Mark every beneficiary of an appointment vaccinated, on its session day (the clock is moved there, then back). */
async function vaccinateOnTheDay(engine: BookingEngine, clock: TestClock, appointmentId: string, beneficiaryIds: string[]): Promise<void> {
  const appointment = (await engine.getAppointment(appointmentId))!;
  const session = (await engine.getSession(appointment.session_id))!;
  const before = clock.ms;
  clock.ms = session.day_start + 10 * 3_600_000;
  for (const id of beneficiaryIds) expect(await vaccinate(engine, appointmentId, id)).toMatchObject({ ok: true });
  clock.ms = before;
}

interface OutboxEntry {
  id: string;
  kind: string;
  data: Record<string, unknown>;
}

async function readOutbox(redis: RedisClient): Promise<OutboxEntry[]> {
  const entries = await redis.xrange(keys.outbox(), '-', '+');
  return entries.map(([, fields]) => {
    const map: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!;
    return { id: map.id!, kind: map.kind!, data: JSON.parse(map.data!) as Record<string, unknown> };
  });
}

/**
 * The same bookings in two worlds (coalescing tests): sessions and accounts built alike on two key
 * prefixes, so one world can take the bookings coalesced and the other one by one, and the two
 * compared. Accounts come from the same mobiles, so their ids and beneficiary ids are the same.
 */
interface BookingWorld {
  engine: BookingEngine;
  redis: RedisClient;
  /** `few` has few seats (its slots fewer still), `other` plenty, at another centre */
  sessions: { few: string; other: string };
  families: { accountId: string; beneficiaryIds: string[] }[];
}

/** One planned booking: which family, which of its beneficiaries (an index may repeat), where. */
interface PlannedBooking {
  family: number;
  bens: number[];
  session: 'few' | 'other' | 'missing';
  slot: number | 'nope';
  dose?: number;
  idempotencyKey?: string;
}

async function bookingWorld(engine: BookingEngine, redis: RedisClient, mobiles: string[], familySize: (k: number) => number, birthYear: (k: number) => number): Promise<BookingWorld> {
  const few = await publishSession(engine, { capacity_dose1: 12, capacity_dose2: 0, slot_capacity: everySlot(engine, demoCenterId(engine), 4) });
  const other = await publishSession(engine, { center_id: demoCenterId(engine, 1), capacity_dose1: 100, capacity_dose2: 10 });
  const families = [];
  for (const [k, mobile] of mobiles.entries()) families.push(await accountWithBeneficiaries(engine, familySize(k), birthYear(k), mobile));
  return { engine, redis, sessions: { few, other }, families };
}

function plannedRequest(world: BookingWorld, plan: PlannedBooking): BookingRequest {
  const family = world.families[plan.family]!;
  const sessionId = plan.session === 'missing' ? 'no-such-session' : world.sessions[plan.session];
  const centerId = demoCenterId(world.engine, plan.session === 'other' ? 1 : 0);
  return {
    accountId: family.accountId,
    sessionId,
    slot: plan.slot === 'nope' ? 'nope' : slotsOf(world.engine, centerId)[plan.slot % slotsOf(world.engine, centerId).length]!,
    dose: plan.dose ?? 1,
    beneficiaryIds: plan.bens.map((i) => family.beneficiaryIds[i]!),
    idempotencyKey: plan.idempotencyKey,
  };
}

type BookingOutcome = Awaited<ReturnType<BookingEngine['book']>>;

/**
 * What a reader of the availability stream knows once it has read every entry: each session's
 * latest fields (a batch publishes a session once, after its bookings; one by one, after each).
 */
async function availabilityBySession(redis: RedisClient): Promise<Record<string, Record<string, string>>> {
  const known: Record<string, Record<string, string>> = {};
  for (const [, fields] of await redis.xrange(keys.availability(), '-', '+')) {
    const entry: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
    known[entry.s!] = { ...known[entry.s!], ...entry };
  }
  return known;
}

/**
 * Everything a world's bookings decided and wrote: the answers, the sessions, the beneficiaries,
 * the appointments, the outbox entries, and what the availability stream tells its readers. Appointment ids (random) become the
 * position of the booking that created them; security codes (random) are checked against the
 * appointment and then masked; photo IDs (fresh per world) are dropped.
 */
async function bookingResults(world: BookingWorld, outcomes: BookingOutcome[]): Promise<unknown> {
  const created = new Map<string, string>();
  outcomes.forEach((o, i) => {
    if (o.ok && o.status === Status.OK) created.set(o.appointmentId, `appointment#${i}`);
  });
  for (const o of outcomes) {
    if (!o.ok) continue;
    const appointment = (await world.engine.getAppointment(o.appointmentId))!;
    // the answer's codes are the slip's, for a first answer and a replay alike
    expect(o.securityCodes.map((c) => c.code)).toEqual(o.securityCodes.map((c) => appointment.beneficiaries.find((b) => b.id === c.beneficiaryId)?.security_code));
  }
  const state = {
    outcomes,
    sessions: [await world.engine.getSession(world.sessions.few), await world.engine.getSession(world.sessions.other)],
    beneficiaries: await Promise.all(world.families.map((f) => world.engine.listBeneficiaries(f.accountId))),
    appointments: await Promise.all([...created.keys()].map((id) => world.engine.getAppointment(id))),
    outbox: await readOutbox(world.redis),
    availability: await availabilityBySession(world.redis),
  };
  let text = JSON.stringify(state, (key, value: unknown) => (key === 'security_code' || key === 'code' ? '####' : key.startsWith('photo_id') ? undefined : value));
  for (const [id, alias] of created) text = text.replaceAll(id, alias);
  return JSON.parse(text);
}

/**
 * The booking rules for every country file in masterdata/ (the demo India and Guyana): the same
 * tests, with each country's vaccines, schedules, slots, mobiles, ID types and time zone.
 */
describe.each(testCountries())('$name', ({ country, morning }) => {
  test.override({ country });

  test("the engine runs on this country's file, from 10:00 on a working day in its time zone", ({ engine, clock }) => {
    expect(engine.country).toBe(country);
    expect(clock.ms).toBe(morning);
    expect(localTime(clock.ms, country.timeZone)).toEqual({ day: WORKING_DAY, hour: 10, minute: 0 });
  });

  describe('booking under real concurrency', () => {
    test('2,000 concurrent bookings for 100 dose-1 seats: exactly 100 succeed and every record agrees', async ({
      engine,
      redis,
      prefix,
      clock,
    }) => {
      const centerId = demoCenterId(engine);
      const sessionId = await publishSession(engine, { capacity_dose1: 100, capacity_dose2: 0 });
      const slots = slotsOf(engine, centerId);

      // 500 accounts × 4 beneficiaries = 2,000 citizens
      const accounts = await Promise.all(Array.from({ length: 500 }, () => accountWithBeneficiaries(engine, 4)));
      const requests = accounts.flatMap(({ accountId, beneficiaryIds }) =>
        beneficiaryIds.map((id, i) => ({ accountId, beneficiaryIds: [id], slot: slots[i % slots.length]! })),
      );
      expect(requests).toHaveLength(2000);

      // 40 independent connections, each an engine of its own, fire at once
      const connections = Array.from({ length: 40 }, () => connectTestRedis(prefix));
      try {
        const engines = connections.map(
          (c) => new BookingEngine(c, { country: engine.country, secret: 'test-secret', clock: clock.now }),
        );
        const outcomes = await Promise.all(
          requests.map((r, i) => engines[i % engines.length]!.book({ ...r, sessionId, dose: 1 })),
        );
        const booked = outcomes.filter((o) => o.ok);
        const full = outcomes.filter((o) => !o.ok && o.status === Status.FULL);
        expect(booked).toHaveLength(100);
        expect(full).toHaveLength(1900);

        const session = (await engine.getSession(sessionId))!;
        expect(session.booked1).toBe(100);
        expect(session.slot_booked.reduce((a, b) => a + b, 0)).toBe(100);
        session.slot_booked.forEach((n, i) => expect(n).toBeLessThanOrEqual(session.slot_caps[i]!));

        const appointmentIds = booked.map((o) => (o.ok ? o.appointmentId : ''));
        const appointments = await Promise.all(appointmentIds.map((id) => engine.getAppointment(id)));
        expect(appointments.every((a) => a && a.session_id === sessionId && a.beneficiaries[0]!.status === 'booked')).toBe(true);

        const outbox = (await readOutbox(redis)).filter((e) => e.kind === 'appointment');
        expect(outbox).toHaveLength(100);
        expect(new Set(outbox.map((e) => e.id)).size).toBe(100);
        expect(new Set(outbox.map((e) => e.data.appointment_id))).toEqual(new Set(appointmentIds));
      } finally {
        connections.forEach((c) => c.disconnect());
      }
    });

    test('one beneficiary racing for two different sessions gets exactly one', async ({ engine, prefix, clock }) => {
      const first = await publishSession(engine, { center_id: demoCenterId(engine, 0), capacity_dose1: 100 });
      const second = await publishSession(engine, { center_id: demoCenterId(engine, 1), capacity_dose1: 100 });
      const other = connectTestRedis(prefix);
      try {
        const secondEngine = new BookingEngine(other, { country: engine.country, secret: 'test-secret', clock: clock.now });
        for (let round = 0; round < 20; round++) {
          const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
          const outcomes = await Promise.all([
            engine.book({ accountId, sessionId: first, slot: slotsOf(engine, demoCenterId(engine, 0))[0]!, dose: 1, beneficiaryIds }),
            secondEngine.book({ accountId, sessionId: second, slot: slotsOf(engine, demoCenterId(engine, 1))[0]!, dose: 1, beneficiaryIds }),
          ]);
          expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
          expect(outcomes.find((o) => !o.ok)!.status).toBe(Status.ALREADY_BOOKED);
        }
        const a = (await engine.getSession(first))!;
        const b = (await engine.getSession(second))!;
        expect(a.booked1 + b.booked1).toBe(20);
      } finally {
        other.disconnect();
      }
    });

    test('three beneficiaries when two seats remain: nobody is booked', async ({ engine, redis }) => {
      const sessionId = await publishSession(engine, { capacity_dose1: 5, capacity_dose2: 0, slot_capacity: everySlot(engine, demoCenterId(engine), 5) });
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      const filler = await accountWithBeneficiaries(engine, 3);
      expect((await engine.book({ accountId: filler.accountId, sessionId, slot, dose: 1, beneficiaryIds: filler.beneficiaryIds })).ok).toBe(true);

      const family = await accountWithBeneficiaries(engine, 3);
      const outcome = await engine.book({ accountId: family.accountId, sessionId, slot, dose: 1, beneficiaryIds: family.beneficiaryIds });
      expect(outcome).toMatchObject({ ok: false, status: Status.FULL });

      const session = (await engine.getSession(sessionId))!;
      expect(session.booked1).toBe(3);
      expect(session.slot_booked[0]).toBe(3);
      const bens = await engine.listBeneficiaries(family.accountId);
      expect(bens.every((b) => b.appt1 === '')).toBe(true);
      expect((await readOutbox(redis)).filter((e) => e.kind === 'appointment')).toHaveLength(1);

      // two of them still fit
      const two = await engine.book({ accountId: family.accountId, sessionId, slot, dose: 1, beneficiaryIds: family.beneficiaryIds.slice(0, 2) });
      expect(two.ok).toBe(true);
    });

    test('the same booking retried with the same idempotency key: same answer, capacity taken once', async ({ engine, redis }) => {
      const sessionId = await publishSession(engine);
      const slot = slotsOf(engine, demoCenterId(engine))[1]!;
      const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 2);
      const request = { accountId, sessionId, slot, dose: 1, beneficiaryIds, idempotencyKey: 'retry-me-1' };

      // concurrent retries of the same request (a client timing out and resending)
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => engine.book(request)));
      const ids = new Set(outcomes.map((o) => (o.ok ? o.appointmentId : `failed ${o.status}`)));
      expect(ids.size).toBe(1);
      expect(outcomes.filter((o) => o.status === Status.OK)).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === Status.REPLAYED)).toHaveLength(9);
      expect((await engine.getSession(sessionId))!.booked1).toBe(2);
      expect((await readOutbox(redis)).filter((e) => e.kind === 'appointment')).toHaveLength(1);

      // the same key for another request is refused rather than silently answered
      const different = await engine.book({ ...request, beneficiaryIds: [beneficiaryIds[0]!] });
      expect(different).toMatchObject({ ok: false, status: Status.IDEMPOTENCY_MISMATCH });
      // without a key, a repeat is an ordinary second booking and is refused as already booked
      const again = await engine.book({ ...request, idempotencyKey: undefined });
      expect(again).toMatchObject({ ok: false, status: Status.ALREADY_BOOKED });
    });

    test('bookings coalesced into one call are decided and written exactly as the same bookings one by one', async ({ engine, redis, prefix, clock }) => {
      const year = yearOf(engine.today());
      const mobiles = Array.from({ length: 30 }, () => nextMobileOf(engine.country));
      // families of 1 to 3; every tenth family from the eighth is too young for the sessions
      const familySize = (k: number) => 1 + (k % 3);
      const birthYear = (k: number) => (k % 10 === 7 ? year - 10 : 1985);
      const aloneRedis = connectTestRedis(`${prefix}alone:`);
      try {
        const alone = new BookingEngine(aloneRedis, { country: engine.country, secret: 'test-secret', clock: clock.now, coalesce: false });
        const worlds = [await bookingWorld(engine, redis, mobiles, familySize, birthYear), await bookingWorld(alone, aloneRedis, mobiles, familySize, birthYear)];

        // every family tries the session with few seats, in turn; between them: replays and a
        // mismatch under an idempotency key, a beneficiary booked twice in the batch, a beneficiary
        // named twice, bookings that cannot be (no session, no such slot or dose, dose 2 first)
        const plans: PlannedBooking[] = [];
        for (let k = 0; k < mobiles.length; k++) {
          const all = Array.from({ length: familySize(k) }, (_, i) => i);
          plans.push({ family: k, bens: all, session: 'few', slot: k, idempotencyKey: k % 5 === 0 ? `key-${k}` : undefined });
          if (k === 0) plans.push({ family: 0, bens: [0], session: 'few', slot: 0, idempotencyKey: 'key-0' }, { family: 0, bens: [0], session: 'few', slot: 1, idempotencyKey: 'key-0' });
          if (k === 2) plans.push({ family: 1, bens: [1], session: 'other', slot: 0 }, { family: 2, bens: [0, 0], session: 'other', slot: 0 });
          if (k === 5) {
            plans.push(
              { family: 4, bens: [0], session: 'missing', slot: 0 },
              { family: 4, bens: [0], session: 'other', slot: 'nope' },
              { family: 4, bens: [0], session: 'other', slot: 0, dose: 4 },
              { family: 3, bens: [0], session: 'other', slot: 0, dose: 2 },
            );
          }
        }
        // the last family, refused for want of seats, books elsewhere; a late replay
        plans.push({ family: 29, bens: [0, 1, 2], session: 'other', slot: 1 }, { family: 5, bens: [0, 1, 2], session: 'few', slot: 5, idempotencyKey: 'key-5' });

        const before = engine.bookings.counts.batches;
        const coalesced = await Promise.all(plans.map((plan) => engine.book(plannedRequest(worlds[0]!, plan))));
        const oneByOne: BookingOutcome[] = [];
        for (const plan of plans) oneByOne.push(await alone.book(plannedRequest(worlds[1]!, plan)));
        // all of them in one script call; the other world's one at a time
        expect(engine.bookings.counts.batches - before).toBe(1);
        expect(alone.bookings.counts.bySize.get(1)).toBe(plans.length);

        expect(await bookingResults(worlds[0]!, coalesced)).toEqual(await bookingResults(worlds[1]!, oneByOne));
        // and the batch went through what it was meant to
        const statuses = new Set(coalesced.map((o) => o.status));
        for (const status of [
          Status.OK, Status.REPLAYED, Status.IDEMPOTENCY_MISMATCH, Status.FULL, Status.ALREADY_BOOKED, Status.DUPLICATE_BENEFICIARY, Status.AGE_NOT_ELIGIBLE,
          Status.SESSION_NOT_FOUND, Status.INVALID_SLOT, Status.INVALID_DOSE, Status.PREVIOUS_DOSE_MISSING,
        ]) {
          expect(statuses, Status[status]).toContain(status);
        }
        expect(coalesced.some((o, i) => o.status === Status.OK && plans[i]!.bens.length === 3)).toBe(true); // a family of three
        const few = (await engine.getSession(worlds[0]!.sessions.few))!;
        expect(few.booked1).toBeLessThanOrEqual(12);
        few.slot_booked.forEach((n) => expect(n).toBeLessThanOrEqual(4));
        // the stream's readers learn the seats left after the batch
        expect((await availabilityBySession(redis))[worlds[0]!.sessions.few]).toMatchObject({ a1: String(12 - few.booked1) });
      } finally {
        aloneRedis.disconnect();
      }
    });

    test('a turn of more bookings than one call carries goes as several calls, in arrival order', async ({ engine, redis }) => {
      const sessionId = await publishSession(engine, { capacity_dose1: 260, capacity_dose2: 0, slot_capacity: everySlot(engine, demoCenterId(engine), 260) });
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      const ids = await createBeneficiaryPool(redis, 'many', 300);
      const outcomes = await Promise.all(ids.map((id) => engine.book({ accountId: 'many', sessionId, slot, dose: 1, beneficiaryIds: [id] })));
      expect([...engine.bookings.counts.bySize]).toEqual([[256, 1], [44, 1]]);
      // the first 260 to arrive got the seats, though the last 4 of them went in the second call
      expect(outcomes.map((o) => o.status)).toEqual([...Array(260).fill(Status.OK), ...Array(40).fill(Status.FULL)]);
    });

    test('a coalesced batch whose changes the replicas do not confirm: exactly the bookings that changed something fail', async ({ engine: setup, makeEngine, redis }) => {
      // more replicas than any test Redis has: the WAIT after the batch falls short
      const engine = makeEngine({ durability: { replicas: 5, timeoutMs: 50 } });
      const sessionId = await publishSession(setup, { capacity_dose1: 2, capacity_dose2: 0, slot_capacity: everySlot(setup, demoCenterId(setup), 2) });
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      const { accountId, beneficiaryIds } = await accountWithBeneficiaries(setup, 3);
      const batch: [number[], string?][] = [[[0], 'retry-me'], [[0], 'retry-me'], [[0]], [[1]], [[2]], [[1, 2]]];
      const outcomes = await Promise.allSettled(
        batch.map(([bens, idempotencyKey]) => engine.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds: bens.map((i) => beneficiaryIds[i]!), idempotencyKey })),
      );
      const summary = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).name : Status[(o.value as BookingOutcome).status]));
      // two seats: the first two distinct bookings and the replay changed something (applied, not
      // acknowledged); the refused ones keep their answers
      expect(summary).toEqual(['ReplicationShortfallError', 'ReplicationShortfallError', 'ALREADY_BOOKED', 'ReplicationShortfallError', 'FULL', 'ALREADY_BOOKED']);
      expect(engine.bookings.counts.bySize.get(batch.length)).toBe(1);
      expect(engine.durability.counts).toEqual({ waits: 1, changes: 3 });
      expect((await engine.getSession(sessionId))!.booked1).toBe(2);
      expect((await readOutbox(redis)).filter((e) => e.kind === 'appointment')).toHaveLength(2);
    });

    test("an accepted booking's access log entry rides in its appointment entry, alone and in a batch; a refused or replayed one carries none", async ({ engine, makeEngine, redis }) => {
      const sessionId = await publishSession(engine, { capacity_dose1: 2, capacity_dose2: 0, slot_capacity: everySlot(engine, demoCenterId(engine), 2) });
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 4);
      const access = { route: 'POST /api/v2/appointment/schedule', address: '203.0.113.7' };
      const request = (i: number, idempotencyKey?: string): BookingRequest => ({ accountId, sessionId, slot, dose: 1, beneficiaryIds: [beneficiaryIds[i]!], idempotencyKey, access });

      // alone (the single-booking script), then a batch of four in one turn: accepted, replayed, refused twice
      const alone = makeEngine({ coalesce: false });
      const first = await alone.book(request(0, 'key-0'));
      const batch = await Promise.all([request(1), request(0, 'key-0'), request(2), request(0)].map((r) => engine.book(r)));
      expect(engine.bookings.counts.bySize.get(4)).toBe(1);
      expect([first, ...batch].map((o) => [Status[o.status], o.ok && o.accessLogged === true])).toEqual([
        ['OK', true], ['OK', true], ['REPLAYED', false], ['FULL', false], ['ALREADY_BOOKED', false],
      ]); // prettier-ignore

      // each accepted booking's appointment entry carries the call's route and address, and nothing else is appended
      const outbox = (await redis.xrange(keys.outbox(), '-', '+')).map(parseOutboxEntry);
      const accepted = [first, batch[0]!].map((o) => (o.ok ? o : expect.fail('accepted')));
      const appointments = outbox.filter((e) => e.kind === 'appointment');
      expect(appointments.map((e) => [e.eventId, e.change.access])).toEqual(accepted.map((o) => [`appointment:${o.appointmentId}:1`, access]));
      expect(outbox.filter((e) => e.kind === 'access')).toEqual([]);
      // read as entries: one per booking, named by its appointment, whoever replays it
      expect(accessEntriesOf(outbox)).toEqual(
        accepted.map((o, i) => ({
          eventId: `access:booking:${o.appointmentId}`,
          change: {
            at: engine.now(),
            actor_kind: 'citizen',
            actor: accountId,
            partner: '',
            address: '203.0.113.7',
            method: 'POST',
            route: '/api/v2/appointment/schedule',
            objects: [`account:${accountId}`, `beneficiary:${beneficiaryIds[i]}`, `appointment:${o.appointmentId}`],
            status: 200,
          },
        })),
      );
    });
  });

  describe('booking rules', () => {
    test('session window: not before opens_at, not at or after the cutoff hour, not when closed', async ({ engine, clock }) => {
      const opensAt = clock.ms + 60_000;
      const sessionId = await publishSession(engine, { date: engine.today(), opens_at: opensAt });
      const slot = slotsOf(engine, demoCenterId(engine))[2]!;
      const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 3);
      const book = (i: number) => engine.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds: [beneficiaryIds[i]!] });

      expect(await book(0)).toMatchObject({ ok: false, status: Status.SESSION_NOT_OPEN });
      clock.ms = opensAt;
      expect((await book(0)).ok).toBe(true);

      const session = (await engine.getSession(sessionId))!;
      clock.ms = session.cutoff_at - 1; // a millisecond before the cutoff hour, local time, on the session day
      expect((await book(1)).ok).toBe(true);
      clock.ms = session.cutoff_at; // the cutoff hour, local: closed
      expect(await book(2)).toMatchObject({ ok: false, status: Status.BOOKING_CLOSED });

      const closed = await publishSession(engine, { center_id: demoCenterId(engine, 2), status: 'closed' });
      clock.ms = opensAt;
      const outcome = await engine.book({ accountId, sessionId: closed, slot: slotsOf(engine, demoCenterId(engine, 2))[0]!, dose: 1, beneficiaryIds: [beneficiaryIds[2]!] });
      expect(outcome).toMatchObject({ ok: false, status: Status.SESSION_NOT_OPEN });
    });

    test('age limits come from the birth year and the session year', async ({ engine }) => {
      const year = yearOf(engine.today());
      const sessionId = await publishSession(engine, { min_age_limit: 45, max_age_limit: 60 });
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      const tryAge = async (age: number) => {
        const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1, year - age);
        return engine.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds });
      };
      expect(await tryAge(44)).toMatchObject({ ok: false, status: Status.AGE_NOT_ELIGIBLE });
      expect((await tryAge(45)).ok).toBe(true);
      expect((await tryAge(60)).ok).toBe(true);
      expect(await tryAge(61)).toMatchObject({ ok: false, status: Status.AGE_NOT_ELIGIBLE });

      const allAges = await publishSession(engine, { center_id: demoCenterId(engine, 1), min_age_limit: 18, max_age_limit: 44, allow_all_age: true });
      const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 2, year - 70);
      const slot1 = slotsOf(engine, demoCenterId(engine, 1))[0]!;
      expect((await engine.book({ accountId, sessionId: allAges, slot: slot1, dose: 1, beneficiaryIds: [beneficiaryIds[0]!] })).ok).toBe(true);
      const young = await accountWithBeneficiaries(engine, 1, year - 17);
      expect(await engine.book({ accountId: young.accountId, sessionId: allAges, slot: slot1, dose: 1, beneficiaryIds: young.beneficiaryIds })).toMatchObject({
        ok: false,
        status: Status.AGE_NOT_ELIGIBLE,
      });
    });

    test('dose 2 of the two-dose vaccine: a day before its interval refused, on the day allowed; another vaccine refused', async ({ engine, clock }) => {
      const vaccine = twoDoseVaccine(engine.country);
      const interval = vaccine.dose2_after_days!;
      const other = otherTwoDoseVaccine(engine.country, vaccine);
      const centerId = demoCenterId(engine);
      const slot = slotsOf(engine, centerId)[0]!;
      const dose1Day = engine.today();
      const first = await publishSession(engine, { date: dose1Day });
      const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
      const booked = await engine.book({ accountId, sessionId: first, slot, dose: 1, beneficiaryIds });
      if (!booked.ok) throw new Error(`dose 1 booking failed: ${booked.status}`);

      // dose 2 before dose 1 is recorded
      const onTime = await publishSession(engine, { date: dose1Day + interval });
      expect(await engine.book({ accountId, sessionId: onTime, slot, dose: 2, beneficiaryIds })).toMatchObject({
        ok: false,
        status: Status.PREVIOUS_DOSE_MISSING,
      });

      const vaccinated = await vaccinate(engine, booked.appointmentId, beneficiaryIds[0]!);
      expect(vaccinated).toMatchObject({ ok: true, dose: 1, vaccine: vaccine.name, date: dose1Day });
      expect(await engine.book({ accountId, sessionId: first, slot, dose: 1, beneficiaryIds })).toMatchObject({ ok: false });

      const dayEarly = await publishSession(engine, { date: dose1Day + interval - 1 });
      const otherVaccine = await publishSession(engine, { date: dose1Day + interval, vaccine: other.name });
      clock.advance((interval - 2) * DAY); // the sessions are still in the future when booked
      expect(await engine.book({ accountId, sessionId: dayEarly, slot, dose: 2, beneficiaryIds })).toMatchObject({
        ok: false,
        status: Status.DOSE_NOT_DUE,
        beneficiaryId: beneficiaryIds[0],
      });
      expect(await engine.book({ accountId, sessionId: otherVaccine, slot, dose: 2, beneficiaryIds })).toMatchObject({
        ok: false,
        status: Status.VACCINE_MISMATCH,
      });
      expect((await engine.book({ accountId, sessionId: onTime, slot, dose: 2, beneficiaryIds })).ok).toBe(true);
    });

    test('a missed appointment stops counting after its day; the dose can be booked again', async ({ engine, clock }) => {
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      const tomorrow = await publishSession(engine);
      const nextWeek = await publishSession(engine, { date: engine.today() + 7 });
      const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
      expect((await engine.book({ accountId, sessionId: tomorrow, slot, dose: 1, beneficiaryIds })).ok).toBe(true);
      expect(await engine.book({ accountId, sessionId: nextWeek, slot, dose: 1, beneficiaryIds })).toMatchObject({ status: Status.ALREADY_BOOKED });
      clock.advance(2 * 86_400_000);
      expect((await engine.book({ accountId, sessionId: nextWeek, slot, dose: 1, beneficiaryIds })).ok).toBe(true);
    });

    test('a beneficiary of another account cannot be booked, cancelled or rescheduled', async ({ engine }) => {
      const sessionId = await publishSession(engine);
      const other = await publishSession(engine, { center_id: demoCenterId(engine, 1) });
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      const alice = await accountWithBeneficiaries(engine, 1);
      const mallory = await accountWithBeneficiaries(engine, 1);
      expect(await engine.book({ accountId: mallory.accountId, sessionId, slot, dose: 1, beneficiaryIds: alice.beneficiaryIds })).toMatchObject({
        ok: false,
        status: Status.BENEFICIARY_NOT_FOUND,
      });
      const booked = await engine.book({ accountId: alice.accountId, sessionId, slot, dose: 1, beneficiaryIds: alice.beneficiaryIds });
      if (!booked.ok) throw new Error('booking failed');
      expect(await engine.cancel(mallory.accountId, booked.appointmentId)).toMatchObject({ status: Status.APPOINTMENT_NOT_FOUND });
      const otherSlot = slotsOf(engine, demoCenterId(engine, 1))[0]!;
      expect(await engine.reschedule(mallory.accountId, booked.appointmentId, other, otherSlot)).toMatchObject({
        status: Status.APPOINTMENT_NOT_FOUND,
      });
      expect(await engine.deleteBeneficiary(mallory.accountId, alice.beneficiaryIds[0]!)).toMatchObject({ status: Status.BENEFICIARY_NOT_FOUND });
      expect((await engine.getSession(sessionId))!.booked1).toBe(1);
    });
  });

  describe('cancel and reschedule', () => {
    test('cancelling returns dose and slot capacity exactly, for part or all of an appointment', async ({ engine }) => {
      const sessionId = await publishSession(engine, { capacity_dose1: 8, capacity_dose2: 0, slot_capacity: everySlot(engine, demoCenterId(engine), 2) });
      const slots = slotsOf(engine, demoCenterId(engine));
      const family = await accountWithBeneficiaries(engine, 2);
      const booked = await engine.book({ accountId: family.accountId, sessionId, slot: slots[0]!, dose: 1, beneficiaryIds: family.beneficiaryIds });
      if (!booked.ok) throw new Error('booking failed');
      // slot 1 is now full for anyone else
      const outsider = await accountWithBeneficiaries(engine, 1);
      expect(await engine.book({ accountId: outsider.accountId, sessionId, slot: slots[0]!, dose: 1, beneficiaryIds: outsider.beneficiaryIds })).toMatchObject({
        status: Status.FULL,
      });

      expect(await engine.cancel(family.accountId, booked.appointmentId, [family.beneficiaryIds[1]!])).toMatchObject({ ok: true, cancelled: 1 });
      let session = (await engine.getSession(sessionId))!;
      expect([session.booked1, session.slot_booked[0]]).toEqual([1, 1]);
      expect(await engine.cancel(family.accountId, booked.appointmentId, [family.beneficiaryIds[1]!])).toMatchObject({
        status: Status.APPOINTMENT_NOT_ACTIVE,
      });

      expect((await engine.book({ accountId: outsider.accountId, sessionId, slot: slots[0]!, dose: 1, beneficiaryIds: outsider.beneficiaryIds })).ok).toBe(true);
      expect(await engine.cancel(family.accountId, booked.appointmentId)).toMatchObject({ ok: true, cancelled: 1 });
      session = (await engine.getSession(sessionId))!;
      expect([session.booked1, session.slot_booked[0]]).toEqual([1, 1]);
      const appointment = await engine.getAppointment(booked.appointmentId);
      expect(appointment!.beneficiaries.map((b) => b.status)).toEqual(['cancelled', 'cancelled']);
      // the cancelled beneficiaries can book again
      const rebook = await engine.book({ accountId: family.accountId, sessionId, slot: slots[1]!, dose: 1, beneficiaryIds: family.beneficiaryIds });
      expect(rebook.ok).toBe(true);
    });

    test('rescheduling moves capacity atomically and refuses the same centre and slot', async ({ engine, clock }) => {
      const centerA = demoCenterId(engine, 0);
      const centerB = demoCenterId(engine, 1);
      const from = await publishSession(engine, { capacity_dose1: 4, capacity_dose2: 0, slot_capacity: everySlot(engine, centerA, 4) });
      const to = await publishSession(engine, { center_id: centerB, capacity_dose1: 4, capacity_dose2: 0, slot_capacity: everySlot(engine, centerB, 4) });
      const slotsA = slotsOf(engine, centerA);
      const slotsB = slotsOf(engine, centerB);
      const family = await accountWithBeneficiaries(engine, 2);
      const booked = await engine.book({ accountId: family.accountId, sessionId: from, slot: slotsA[0]!, dose: 1, beneficiaryIds: family.beneficiaryIds });
      if (!booked.ok) throw new Error('booking failed');

      expect(await engine.reschedule(family.accountId, booked.appointmentId, from, slotsA[0]!)).toMatchObject({
        status: Status.SAME_CENTER_AND_SLOT,
      });
      // another slot of the same session: only the slot counters move
      expect((await engine.reschedule(family.accountId, booked.appointmentId, from, slotsA[1]!)).ok).toBe(true);
      let a = (await engine.getSession(from))!;
      expect([a.booked1, a.slot_booked[0], a.slot_booked[1]]).toEqual([2, 0, 2]);

      expect(await engine.reschedule(family.accountId, booked.appointmentId, to, slotsB[0]!)).toMatchObject({ ok: true, availableAfter: 2 });
      a = (await engine.getSession(from))!;
      const b = (await engine.getSession(to))!;
      expect([a.booked1, ...a.slot_booked]).toEqual([0, ...slotsA.map(() => 0)]);
      expect([b.booked1, b.slot_booked[0]]).toEqual([2, 2]);
      const appointment = (await engine.getAppointment(booked.appointmentId))!;
      expect([appointment.session_id, appointment.slot, appointment.version]).toEqual([to, slotsB[0], 3]);

      // too full to move into
      const centerC = demoCenterId(engine, 2);
      const small = await publishSession(engine, { center_id: centerC, capacity_dose1: 1, capacity_dose2: 0, slot_capacity: everySlot(engine, centerC, 4) });
      expect(await engine.reschedule(family.accountId, booked.appointmentId, small, slotsOf(engine, demoCenterId(engine, 2))[0]!)).toMatchObject({
        status: Status.FULL,
      });
      // on the appointment day it is too late
      clock.ms = b.day_start;
      expect(await engine.reschedule(family.accountId, booked.appointmentId, from, slotsA[2]!)).toMatchObject({ status: Status.TOO_LATE_TO_CHANGE });
      const after = (await engine.getSession(to))!;
      expect(after.booked1).toBe(2);
    });

    test('concurrent cancel and reschedule of one appointment never lose or double a seat', async ({ engine, prefix, clock }) => {
      const centerB = demoCenterId(engine, 1);
      const from = await publishSession(engine, { capacity_dose1: 50, capacity_dose2: 0 });
      const to = await publishSession(engine, { center_id: centerB, capacity_dose1: 50, capacity_dose2: 0 });
      const slotA = slotsOf(engine, demoCenterId(engine))[0]!;
      const slotB = slotsOf(engine, centerB)[0]!;
      const other = connectTestRedis(prefix);
      try {
        const second = new BookingEngine(other, { country: engine.country, secret: 'test-secret', clock: clock.now });
        for (let i = 0; i < 10; i++) {
          const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
          const booked = await engine.book({ accountId, sessionId: from, slot: slotA, dose: 1, beneficiaryIds });
          if (!booked.ok) throw new Error('booking failed');
          await Promise.all([engine.reschedule(accountId, booked.appointmentId, to, slotB), second.cancel(accountId, booked.appointmentId)]);
          const appointment = (await engine.getAppointment(booked.appointmentId))!;
          expect(appointment.beneficiaries[0]!.status).toBe('cancelled');
        }
        const a = (await engine.getSession(from))!;
        const b = (await engine.getSession(to))!;
        expect(a.booked1 + b.booked1).toBe(0);
        expect([...a.slot_booked, ...b.slot_booked].every((n) => n === 0)).toBe(true);
      } finally {
        other.disconnect();
      }
    });
  });

  describe("the country's vaccines: schedules, boosters and age limits", () => {
    test('the precaution dose follows the last primary dose by the vaccine\'s interval, of the same vaccine', async ({ engine, clock }) => {
      const vaccine = twoDoseVaccine(engine.country);
      const interval = vaccine.dose2_after_days!;
      const booster = vaccine.precaution_after_days!;
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
      const day1 = engine.today();
      const first = await engine.book({ accountId, sessionId: await publishSession(engine, { date: day1 }), slot, dose: 1, beneficiaryIds });
      if (!first.ok) throw new Error(`dose 1: ${first.status}`);
      await vaccinateOnTheDay(engine, clock, first.appointmentId, beneficiaryIds);
      const dose2Day = day1 + interval;
      const early = await publishSession(engine, { date: dose2Day + booster - 1, capacity_dose2: 5 });
      // the precaution dose before dose 2 is recorded
      expect(await engine.book({ accountId, sessionId: early, slot, dose: 3, beneficiaryIds })).toMatchObject({ status: Status.PREVIOUS_DOSE_MISSING });
      const second = await engine.book({ accountId, sessionId: await publishSession(engine, { date: dose2Day }), slot, dose: 2, beneficiaryIds });
      if (!second.ok) throw new Error(`dose 2: ${second.status}`);
      await vaccinateOnTheDay(engine, clock, second.appointmentId, beneficiaryIds);

      expect(await engine.book({ accountId, sessionId: early, slot, dose: 3, beneficiaryIds })).toMatchObject({ status: Status.DOSE_NOT_DUE });
      const other = await publishSession(engine, { date: dose2Day + booster, vaccine: otherTwoDoseVaccine(engine.country, vaccine).name });
      expect(await engine.book({ accountId, sessionId: other, slot, dose: 3, beneficiaryIds })).toMatchObject({ status: Status.VACCINE_MISMATCH });
      const onTime = await publishSession(engine, { date: dose2Day + booster, capacity_dose2: 5 });
      expect(await engine.book({ accountId, sessionId: onTime, slot, dose: 3, beneficiaryIds })).toMatchObject({ ok: true, availableAfter: 4 });
    });

    test.runIf(singleDoseVaccine(country))('a single-dose vaccine: no dose 2 ever; its precaution dose follows dose 1', async ({ engine, clock }) => {
      const vaccine = singleDoseVaccine(engine.country)!;
      const booster = vaccine.precaution_after_days!;
      const centerId = demoCenterId(engine);
      const slot = slotsOf(engine, centerId)[0]!;
      const single = (date: number) => publishSession(engine, { date, vaccine: vaccine.name, min_age_limit: vaccine.min_age, capacity_dose2: 5 });
      const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
      const day1 = engine.today();
      const first = await engine.book({ accountId, sessionId: await single(day1), slot, dose: 1, beneficiaryIds });
      if (!first.ok) throw new Error(`dose 1: ${first.status}`);
      // dose 2 is refused before and after dose 1 is recorded, however long after
      const later = await single(day1 + 300);
      await vaccinateOnTheDay(engine, clock, first.appointmentId, beneficiaryIds);
      expect(await engine.book({ accountId, sessionId: later, slot, dose: 2, beneficiaryIds })).toMatchObject({
        ok: false,
        status: Status.DOSE_NOT_IN_SCHEDULE,
        beneficiaryId: beneficiaryIds[0],
      });
      expect((await engine.getSession(later))!.booked2).toBe(0);
      // the precaution dose: a day early refused, on the day allowed, from dose 2's seats
      expect(await engine.book({ accountId, sessionId: await single(day1 + booster - 1), slot, dose: 3, beneficiaryIds })).toMatchObject({
        status: Status.DOSE_NOT_DUE,
      });
      expect(await engine.book({ accountId, sessionId: await single(day1 + booster), slot, dose: 3, beneficiaryIds })).toMatchObject({ ok: true, availableAfter: 4 });
      const [ben] = await engine.listBeneficiaries(accountId);
      expect([ben!.vaccine, ben!.dose1, ben!.dose2]).toEqual([vaccine.name, day1, 0]);
    });

    test("a vaccine's minimum age: no session of it below that age, and a child of that age books it", async ({ engine }) => {
      // the vaccine given youngest (India: COVAXIN from 15, Guyana: PFIZER from 12)
      const youngest = [...engine.country.data.vaccines].sort((a, b) => a.min_age - b.min_age)[0]!;
      expect(youngest.min_age).toBeGreaterThan(0);
      expect(() => defineSessionBelow(engine, youngest.name, youngest.min_age - 1)).toThrow(SessionInputError);
      const sessionId = await publishSession(engine, { vaccine: youngest.name, min_age_limit: youngest.min_age });
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      const year = yearOf(engine.today());
      const child = await accountWithBeneficiaries(engine, 1, year - youngest.min_age);
      expect((await engine.book({ accountId: child.accountId, sessionId, slot, dose: 1, beneficiaryIds: child.beneficiaryIds })).ok).toBe(true);
      const younger = await accountWithBeneficiaries(engine, 1, year - youngest.min_age + 1);
      expect(await engine.book({ accountId: younger.accountId, sessionId, slot, dose: 1, beneficiaryIds: younger.beneficiaryIds })).toMatchObject({
        status: Status.AGE_NOT_ELIGIBLE,
      });
    });
  });

  describe("the country's time zone, on both sides of midnight UTC", () => {
    // the instants around 00:00 and 04:00 UTC after the working day, and the local midnight itself
    const localMidnight = localInstant(WORKING_DAY + 1, 0, country.timeZone);
    const instants = [
      Date.UTC(2026, 4, 1, 23, 59, 59, 999),
      Date.UTC(2026, 4, 2, 0, 0),
      Date.UTC(2026, 4, 2, 0, 30),
      Date.UTC(2026, 4, 2, 3, 59, 59, 999),
      Date.UTC(2026, 4, 2, 4, 0),
      localMidnight - 1,
      localMidnight,
    ];

    test('"today" is the local calendar day at every instant, whatever the UTC date says', ({ engine, clock }) => {
      for (const ms of instants) {
        clock.ms = ms;
        expect(engine.today(), new Date(ms).toISOString()).toBe(localTime(ms, country.timeZone).day);
      }
    });

    test('a session day, its booking cutoff and its vaccination day are local: the cutoff hour closes bookings, local midnight ends the day', async ({ engine, clock }) => {
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      const day = engine.today();
      const sessionId = await publishSession(engine, { date: day });
      const session = (await engine.getSession(sessionId))!;
      expect(localTime(session.cutoff_at, country.timeZone)).toEqual({ day, hour: country.rules.booking_cutoff_hour, minute: 0 });
      expect(localTime(session.day_start, country.timeZone)).toEqual({ day, hour: 0, minute: 0 });
      expect(session.day_end).toBe(localMidnight);

      const family = await accountWithBeneficiaries(engine, 3);
      clock.ms = session.cutoff_at - 1;
      const booked = await engine.book({ accountId: family.accountId, sessionId, slot, dose: 1, beneficiaryIds: family.beneficiaryIds.slice(0, 2) });
      if (!booked.ok) throw new Error(`booking before the cutoff: ${booked.status}`);
      clock.ms = session.cutoff_at;
      expect(await engine.book({ accountId: family.accountId, sessionId, slot, dose: 1, beneficiaryIds: [family.beneficiaryIds[2]!] })).toMatchObject({
        status: Status.BOOKING_CLOSED,
      });
      // the vaccination day runs to local midnight, past 00:00 UTC where the country is behind UTC
      clock.ms = localMidnight - 1;
      expect(await vaccinate(engine, booked.appointmentId, family.beneficiaryIds[0]!)).toMatchObject({ ok: true, date: day });
      clock.ms = localMidnight;
      expect(await vaccinate(engine, booked.appointmentId, family.beneficiaryIds[1]!)).toMatchObject({ status: Status.NOT_VACCINATION_DAY });
    });

    test.runIf(country.timeZone === 'America/Guyana')('Guyana (UTC−4): from 00:00 to 03:59 UTC it is still the evening before; tomorrow\'s session is booked then, and moving it is allowed until 04:00 UTC', async ({ engine, clock }) => {
      const may1 = WORKING_DAY;
      clock.ms = Date.UTC(2026, 4, 2, 0, 30); // 20:30 on 1 May in Georgetown
      expect(engine.today()).toBe(may1);
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      const may2 = await publishSession(engine, { date: may1 + 1 });
      const may3 = await publishSession(engine, { date: may1 + 2 });
      const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
      const booked = await engine.book({ accountId, sessionId: may2, slot, dose: 1, beneficiaryIds });
      if (!booked.ok) throw new Error(`booking on the evening before: ${booked.status}`);
      clock.ms = Date.UTC(2026, 4, 2, 3, 59, 59, 999); // 23:59:59.999 on 1 May
      expect((await engine.reschedule(accountId, booked.appointmentId, may3, slot)).ok).toBe(true);
      expect((await engine.reschedule(accountId, booked.appointmentId, may2, slot)).ok).toBe(true);
      clock.ms = Date.UTC(2026, 4, 2, 4, 0); // 00:00 on 2 May: the appointment day has begun
      expect(engine.today()).toBe(may1 + 1);
      expect(await engine.reschedule(accountId, booked.appointmentId, may3, slot)).toMatchObject({ status: Status.TOO_LATE_TO_CHANGE });
    });
  });
});
