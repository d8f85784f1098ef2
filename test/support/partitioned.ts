/** Builders for tests of the partitioned booking (engine/partitioned-booking.ts). */
import type { BookingEngine, NewBeneficiary } from '../../engine/engine.js';
import { keys } from '../../engine/keys.js';
import { referenceOrigin } from '../../engine/ids.js';
import { MAX_PARTITION_COUNT } from '../../engine/partitions.js';
import { beneficiaryField, decodeBeneficiary } from '../../engine/records.js';
import { PartitionedBeneficiaries } from '../../engine/partitioned-beneficiaries.js';
import type { PartitionedBooking } from '../../engine/partitioned-booking.js';
import type { SessionInput } from '../../engine/sessions.js';
import { accountWithBeneficiaries, demoCenterId, slotsOf } from './booking.js';
import { nextMobileOf, nextPhotoIdOf, twoDoseVaccine } from './countries.js';

/**
 * Put beneficiaries the engine registered (in `{bk}`, where addBeneficiary still writes them) into
 * their account's partition, where the partitioned booking reads them: the same `ben:<id>` JSON,
 * copied once before any booking of them (registering in the partition is not built yet).
 */
export async function beneficiariesIntoPartition(engine: BookingEngine, accountId: string, beneficiaryIds: string[]): Promise<void> {
  if (!beneficiaryIds.length) return;
  const fields = beneficiaryIds.map(beneficiaryField);
  const values = await engine.redis.hmget(keys.account(accountId), ...fields);
  const pairs = fields.flatMap((field, i) => {
    if (values[i] === null) throw new Error(`beneficiary ${beneficiaryIds[i]} of ${accountId} is not registered`);
    return [field, values[i]!];
  });
  await engine.redis.hset(keys.forAccount(engine.partitions, accountId).bookingAccount(), ...pairs);
}

/** A person to register (engine.addBeneficiary's input), with a fresh photo ID of the engine's country unless given. */
export function newPerson(engine: BookingEngine, photoId = nextPhotoIdOf(engine.country), name = 'Partitioned Person'): NewBeneficiary {
  return {
    name,
    birth_year: 1985,
    gender_id: engine.country.data.genders[0]!.id,
    photo_id_type: photoId.type,
    photo_id_number: photoId.number,
    comorbidity_ind: 'N',
    consent_version: 'V1',
  };
}

/** A new account with `count` beneficiaries registered in its partition (engine/partitioned-beneficiaries.ts), nothing in `{bk}`. */
export async function registeredAccount(engine: BookingEngine, count: number): Promise<{ accountId: string; beneficiaryIds: string[] }> {
  const registrations = new PartitionedBeneficiaries(engine);
  const accountId = engine.accountIdOf(nextMobileOf(engine.country));
  const beneficiaryIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const outcome = await registrations.register(accountId, newPerson(engine));
    if (!outcome.ok) throw new Error(`register: ${outcome.status}`);
    beneficiaryIds.push(outcome.beneficiaryId);
  }
  return { accountId, beneficiaryIds };
}

/** A new account with `count` beneficiaries, in its partition (accountWithBeneficiaries, then copied). */
export async function partitionedAccount(engine: BookingEngine, count: number, birthYear = 1990): Promise<{ accountId: string; beneficiaryIds: string[] }> {
  const account = await accountWithBeneficiaries(engine, count, birthYear);
  await beneficiariesIntoPartition(engine, account.accountId, account.beneficiaryIds);
  return account;
}

/** Publish a session in its partition (defaults as test/support/booking.ts publishSession: first centre, tomorrow, 10 + 10 seats). */
export async function publishPartitioned(booking: PartitionedBooking, overrides: Partial<SessionInput> = {}): Promise<string> {
  const engine = booking.engine;
  const outcome = await booking.publishSession({
    center_id: demoCenterId(engine),
    date: engine.today() + 1,
    vaccine: twoDoseVaccine(engine.country).name,
    min_age_limit: 18,
    capacity_dose1: 10,
    capacity_dose2: 10,
    ...overrides,
  });
  if (!outcome.ok) throw new Error(`publish: ${outcome.status}`);
  return outcome.sessionId;
}

/** Sessions in `count` different partitions (the first centre on successive days from tomorrow). */
export async function partitionedSessions(booking: PartitionedBooking, count: number, overrides: Partial<SessionInput> = {}): Promise<string[]> {
  const engine = booking.engine;
  const byPartition = new Map<number, string>();
  for (let day = 1; byPartition.size < count; day++) {
    if (day > 365) throw new Error(`no ${count} sessions in different partitions within a year`);
    const id = await publishPartitioned(booking, { date: engine.today() + day, ...overrides });
    if (!byPartition.has(engine.partitions.of(id))) byPartition.set(engine.partitions.of(id), id);
  }
  return [...byPartition.values()];
}

/**
 * The invariants of engine/partitioned-booking.md once nothing is in flight (after recovery), over
 * the given sessions and appointments, as a list of violations (empty when they hold):
 * - no intent left in any partition, and no appointment still pending;
 * - every session's seat counters (per dose bucket and per slot) are exactly the seats of the live
 *   (booked) beneficiaries of appointments in it: no seat taken without a live appointment, none
 *   given twice, never more than capacity;
 * - every beneficiary's dose pointer names a live appointment of that dose or nothing, and no
 *   beneficiary has two live appointments for one dose (live: booked, of today or later; a past
 *   unvaccinated one is superseded by the next booking, as in the single-slot scripts).
 */
export async function partitionedViolations(booking: PartitionedBooking, sessionIds: Iterable<string>, appointmentIds: Iterable<string>, accountIds: Iterable<string>): Promise<string[]> {
  const engine = booking.engine;
  const problems: string[] = [];
  for (const partition of engine.partitions.all()) {
    const intents = await engine.redis.zrange(keys.intents(engine.partitions, partition), 0, -1);
    if (intents.length) problems.push(`partition ${partition} has open intents ${intents.join(' ')}`);
  }
  const expected = new Map<string, { bucket: [number, number]; slots: Map<string, number> }>();
  const liveByDose = new Map<string, string[]>();
  for (const id of new Set(appointmentIds)) {
    const held = await booking.getAppointment(id);
    if (!held) continue;
    if (held.pending) problems.push(`appointment ${id} is still pending (${held.pending})`);
    const { session_id: sessionId, slot, dose, beneficiaries } = held.appointment;
    const live = beneficiaries.filter((b) => b.status === 'booked');
    const seats = expected.get(sessionId) ?? { bucket: [0, 0], slots: new Map() };
    seats.bucket[dose === 1 ? 0 : 1] += live.length;
    seats.slots.set(slot, (seats.slots.get(slot) ?? 0) + live.length);
    expected.set(sessionId, seats);
    // live for "one live appointment per dose": booked and not of a past day (includes/eligibility.lua)
    if (held.date < engine.today()) continue;
    for (const b of live) liveByDose.set(`${b.id}/${dose}`, [...(liveByDose.get(`${b.id}/${dose}`) ?? []), id]);
  }
  for (const sessionId of new Set(sessionIds)) {
    const session = (await booking.getSession(sessionId))!;
    const seats = expected.get(sessionId) ?? { bucket: [0, 0], slots: new Map() };
    const actual = { bucket: [session.booked1, session.booked2], slots: session.slots.map((s, i) => [s, session.slot_booked[i]]) };
    const want = { bucket: seats.bucket, slots: session.slots.map((s) => [s, seats.slots.get(s) ?? 0]) };
    if (JSON.stringify(actual) !== JSON.stringify(want)) problems.push(`session ${sessionId} counts ${JSON.stringify(actual)}, its live appointments ${JSON.stringify(want)}`);
    if (session.booked1 > session.cap1 || session.booked2 > session.cap2) problems.push(`session ${sessionId} is over capacity`);
    session.slots.forEach((s, i) => {
      if (session.slot_booked[i]! > session.slot_caps[i]!) problems.push(`session ${sessionId} slot ${s} is over capacity`);
    });
  }
  for (const [benDose, ids] of liveByDose) if (ids.length > 1) problems.push(`beneficiary/dose ${benDose} has ${ids.length} live appointments`);
  for (const accountId of new Set(accountIds)) {
    const hash = await engine.redis.hgetall(keys.forAccount(engine.partitions, accountId).bookingAccount());
    for (const [field, json] of Object.entries(hash)) {
      if (!field.startsWith('ben:')) continue;
      const ben = decodeBeneficiary(field, json);
      for (const dose of [1, 2, 3] as const) {
        const pointer = ben[`appt${dose}`];
        if (pointer && !(liveByDose.get(`${ben.id}/${dose}`) ?? []).includes(pointer)) {
          const held = await booking.getAppointment(pointer);
          // a past unvaccinated appointment stays pointed at until the next booking supersedes it
          const past = held !== null && held.date < engine.today();
          if (!held || held.pending || (!past && held.appointment.beneficiaries.find((b) => b.id === ben.id)?.status !== 'booked')) {
            problems.push(`beneficiary ${ben.id} dose ${dose} points at ${pointer}, which is not live for it`);
          }
        }
      }
    }
  }
  return problems;
}

/** An account of `count` registered in its partition, booked into a new partitioned session `daysAhead` from today (first centre, first slot). */
export async function bookedInPartition(booking: PartitionedBooking, count: number, daysAhead = 0) {
  const engine = booking.engine;
  const sessionId = await publishPartitioned(booking, { date: engine.today() + daysAhead });
  const { accountId, beneficiaryIds } = await registeredAccount(engine, count);
  const slot = slotsOf(engine, demoCenterId(engine))[0]!;
  const booked = await booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds });
  if (!booked.ok) throw new Error(`booking refused: ${booked.status}`);
  return { sessionId, accountId, beneficiaryIds, appointmentId: booked.appointmentId, codes: booked.securityCodes.map((c) => c.code) };
}

/** One citizen booked today (bookedInPartition) and vaccinated at the centre: the certificate's id too. */
export async function vaccinatedInPartition(booking: PartitionedBooking) {
  const booked = await bookedInPartition(booking, 1);
  const dose = await booking.markVaccinated({
    appointmentId: booked.appointmentId,
    beneficiaryId: booked.beneficiaryIds[0]!,
    securityCode: booked.codes[0]!,
    vaccinatorId: 'vaccinator-1',
    centerIds: [demoCenterId(booking.engine)],
  });
  if (!dose.ok) throw new Error(`vaccination refused: ${dose.status}`);
  return { ...booked, certificateId: dose.certificateId };
}


/**
 * Whether a new reference id continues from the ids PostgreSQL held (`held`): never one of them, and
 * above every one its counter handed out, which is every id in the single layout and the ids of its
 * partition in the partitioned one (engine/ids.ts referenceOrigin). Null when it does, else why not.
 */
export function referenceIdReused(partitioned: boolean, id: string, held: readonly bigint[]): string | null {
  const value = BigInt(id);
  if (held.includes(value)) return `reference id ${id} was held already`;
  const partitionOf = (of: bigint) => referenceOrigin(of, MAX_PARTITION_COUNT)?.partition;
  const sameCounter = partitioned ? held.filter((other) => partitionOf(other) === partitionOf(value)) : held;
  const above = sameCounter.find((other) => other >= value);
  return above === undefined ? null : `reference id ${id} is not above ${above}, which its counter handed out before`;
}
