/**
 * engine/records.ts against what the Lua scripts really write: every hash and stream entry the
 * booking, cancel, reschedule, vaccination, publish, operator, certificate and login scripts leave
 * in Redis decodes with it, and its encoders (what rebuild writes) give back exactly the fields the
 * scripts wrote. Then round trips, and malformed records named as such instead of read as 0 or ''.
 */
import type { RedisClient } from '../../engine/redis.js';
import { Certificates } from '../../engine/certificates.js';
import { sha256Hex } from '../../engine/ids.js';
import { keys } from '../../engine/keys.js';
import { Operators } from '../../engine/operators.js';
import { PartitionedBooking, StoppedAfterStep } from '../../engine/partitioned-booking.js';
import { Status } from '../../engine/status.js';
import {
  decodeAccountHash,
  decodeAppointmentHash,
  decodeAvailabilityEntry,
  decodeBeneficiary,
  decodeBeneficiaryCertificates,
  decodeCertificateHash,
  decodeClaim,
  decodeHeldAppointment,
  decodeLoginRevocationEntry,
  decodeOperatorHash,
  decodeOperatorSessionHash,
  decodeQueueDepth,
  decodeSessionHash,
  decodeStoredSession,
  encodeAccountFields,
  encodeAppointmentHash,
  encodeBeneficiary,
  encodeBeneficiaryCertificate,
  encodeCertificateHash,
  encodeOperatorHash,
  encodeQueueDepth,
  encodeSessionHash,
  MalformedOutboxEntry,
  MalformedRecord,
  parseOutboxEntry,
  type QueueDepth,
  type StreamEntry,
} from '../../engine/records.js';
import { accountWithBeneficiaries, demoCenterId, everyCenter, publishSession, slotsOf } from '../support/booking.js';
import { testMobileOf } from '../support/countries.js';
import { partitionedAccount, partitionedSessions, publishPartitioned } from '../support/partitioned.js';
import { describe, expect, test } from '../support/fixtures.js';

const asObject = (fields: string[]) => {
  const object: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) object[fields[i]!] = fields[i + 1]!;
  return object;
};

/** The account hash with its beneficiaries' JSON parsed: cjson orders keys its own way. */
const withParsedBeneficiaries = (hash: Record<string, string>) =>
  Object.fromEntries(Object.entries(hash).map(([field, value]) => [field, field.startsWith('ben:') ? JSON.parse(value) : value]));

async function allEntries(redis: RedisClient, key: string): Promise<StreamEntry[]> {
  return (await redis.xrange(key, '-', '+')) as StreamEntry[];
}

describe('what the scripts write decodes, and encodes back to the same fields', () => {
  test('book, cancel, reschedule, vaccinate, publish, operators and certificates', async ({ engine, redis, clock }) => {
    const slots = slotsOf(engine, demoCenterId(engine));
    const otherSlots = slotsOf(engine, demoCenterId(engine, 1));
    const today = await publishSession(engine, { date: engine.today() });
    const tomorrow = await publishSession(engine);
    const elsewhere = await publishSession(engine, { center_id: demoCenterId(engine, 1) });
    const family = await accountWithBeneficiaries(engine, 3);
    const [first, second, third] = family.beneficiaryIds as [string, string, string];

    // booked, one of two cancelled, then moved to another centre
    const booked = await engine.book({ accountId: family.accountId, sessionId: tomorrow, slot: slots[0]!, dose: 1, beneficiaryIds: [first, second] });
    if (!booked.ok) throw new Error(`booking refused: ${booked.status}`);
    expect(await engine.cancel(family.accountId, booked.appointmentId, [second])).toMatchObject({ ok: true });
    expect(await engine.reschedule(family.accountId, booked.appointmentId, elsewhere, otherSlots[1]!)).toMatchObject({ ok: true });
    // booked today and vaccinated, its certificate then revoked
    const todays = await engine.book({ accountId: family.accountId, sessionId: today, slot: slots[0]!, dose: 1, beneficiaryIds: [third] });
    if (!todays.ok) throw new Error(`booking refused: ${todays.status}`);
    const vaccinated = await engine.markVaccinated({
      appointmentId: todays.appointmentId,
      beneficiaryId: third,
      securityCode: todays.securityCodes[0]!.code,
      vaccinatorId: 'vax-1',
      centerIds: everyCenter(engine),
    });
    if (!vaccinated.ok) throw new Error(`vaccination refused: ${vaccinated.status}`);
    const certificates = new Certificates(redis, engine.scripts, clock.now, engine.certificates.ring, engine.certificates.issuer);
    const operators = new Operators(redis, engine.scripts, clock.now);
    const issued = await operators.issue('vax-2', 'vaccinator', [demoCenterId(engine), demoCenterId(engine, 1)], 'admin');
    if (!issued.ok) throw new Error(`issue refused: ${issued.status}`);
    const login = await operators.login('vax-2', issued.secret);
    if (!login.ok) throw new Error(`operator login refused: ${login.status}`);
    expect(await operators.issue('vax-3', 'vaccinator', [demoCenterId(engine)], 'admin')).toMatchObject({ ok: true });
    expect(await operators.revoke('vax-3', 'admin')).toMatchObject({ ok: true });

    // sessions: seat counters as the scripts left them, and the encoder gives the very same hash
    for (const [sessionId, dose1Booked, slotBooked] of [
      [today, 1, [1, 0, 0, 0]],
      [tomorrow, 0, [0, 0, 0, 0]],
      [elsewhere, 1, [0, 1, 0, 0]],
    ] as const) {
      const hash = await redis.hgetall(keys.session(sessionId));
      const stored = decodeStoredSession(sessionId, hash)!;
      expect(stored.state).toMatchObject({ session_id: sessionId, booked1: dose1Booked, booked2: 0, version: 1 });
      expect(stored.state.slot_booked).toEqual(slotBooked.slice(0, stored.state.slots.length));
      const { booked1, booked2, slots: labels, slot_booked: perSlot, version } = stored.state;
      const encoded = encodeSessionHash(stored.definitionJson, { booked1, booked2, slotBooked: (slot) => perSlot[labels.indexOf(slot)]! }, version);
      expect(asObject(encoded)).toEqual(hash);
    }
    expect(decodeSessionHash('nothing', await redis.hgetall(keys.session('nothing')))).toBeNull();

    // the moved appointment: one booked, one cancelled, at its new session, with both codes
    const movedHash = await redis.hgetall(keys.appointment(booked.appointmentId));
    const moved = decodeAppointmentHash(booked.appointmentId, movedHash)!;
    expect(moved).toEqual({
      appointment_id: booked.appointmentId,
      account_id: family.accountId,
      session_id: elsewhere,
      slot: otherSlots[1],
      dose: 1,
      version: 3,
      created_at: expect.any(Number),
      beneficiaries: [
        { id: first, status: 'booked', security_code: booked.securityCodes[0]!.code },
        { id: second, status: 'cancelled', security_code: booked.securityCodes[1]!.code },
      ],
      wrong_codes: 0,
    });
    expect(asObject(encodeAppointmentHash(moved))).toEqual(movedHash);
    const vaccinatedHash = await redis.hgetall(keys.appointment(todays.appointmentId));
    expect(decodeAppointmentHash(todays.appointmentId, vaccinatedHash)!.beneficiaries).toEqual([
      { id: third, status: 'vaccinated', security_code: todays.securityCodes[0]!.code },
    ]);
    expect(asObject(encodeAppointmentHash(decodeAppointmentHash(todays.appointmentId, vaccinatedHash)!))).toEqual(vaccinatedHash);

    // the account: live appointment pointers and days, the dose given, versions
    const accountHash = await redis.hgetall(keys.account(family.accountId));
    const account = decodeAccountHash(family.accountId, accountHash)!;
    expect(account.ben_count).toBe(3);
    const [a, b, c] = account.beneficiaries;
    const elsewhereDay = (await engine.getSession(elsewhere))!.date;
    expect(a).toMatchObject({ id: first, appt1: booked.appointmentId, appt1_day: elsewhereDay, dose1: 0, version: 1 });
    expect(b).toMatchObject({ id: second, appt1: '', appt1_day: 0, dose1: 0, version: 1 });
    expect(c).toMatchObject({ id: third, appt1: '', appt1_day: 0, dose1: engine.today(), vaccine: vaccinated.vaccine, version: 2 });
    const encodedAccount = [...encodeAccountFields(account), ...account.beneficiaries.flatMap((ben) => [`ben:${ben.id}`, encodeBeneficiary(ben)])];
    expect(withParsedBeneficiaries(asObject(encodedAccount))).toEqual(withParsedBeneficiaries(accountHash));

    // operators, one revoked
    for (const operatorId of ['vax-2', 'vax-3']) {
      const hash = await redis.hgetall(keys.operator(operatorId));
      const operator = decodeOperatorHash(operatorId, hash)!;
      expect(asObject(encodeOperatorHash(operator))).toEqual(hash);
    }
    expect(decodeOperatorHash('vax-3', await redis.hgetall(keys.operator('vax-3')))).toMatchObject({ status: 'revoked', revoked_by: 'admin', version: 2 });
    expect(decodeOperatorHash('vax-2', await redis.hgetall(keys.operator('vax-2')))).toMatchObject({
      status: 'active',
      centers: `${demoCenterId(engine)},${demoCenterId(engine, 1)}`,
    });

    expect(decodeOperatorSessionHash('vax-2', await redis.hgetall(keys.operatorSession('vax-2')))).toEqual({
      sid: login.sid,
      role: 'vaccinator',
      centers: `${demoCenterId(engine)},${demoCenterId(engine, 1)}`,
      since: clock.now(),
    });

    // the certificate as issued, then as revoked; the beneficiary's index points at it
    const issuedHash = await redis.hgetall(keys.certificate(vaccinated.certificateId));
    expect(decodeCertificateHash(vaccinated.certificateId, issuedHash)).toMatchObject({ beneficiaryId: third, dose: 1, status: 'issued', version: 1 });
    expect(asObject(encodeCertificateHash(decodeCertificateHash(vaccinated.certificateId, issuedHash)!))).toEqual(issuedHash);
    expect(await certificates.revoke(vaccinated.certificateId, 'admin', 'wrong person')).toEqual({ ok: true, version: 2 });
    const revokedHash = await redis.hgetall(keys.certificate(vaccinated.certificateId));
    const revoked = decodeCertificateHash(vaccinated.certificateId, revokedHash)!;
    expect(revoked).toMatchObject({ status: 'revoked', revokedBy: 'admin', revocationReason: 'wrong person', version: 2 });
    expect(asObject(encodeCertificateHash(revoked))).toEqual(revokedHash);
    const index = await redis.hgetall(keys.beneficiaryCertificates(third));
    expect(decodeBeneficiaryCertificates(third, index)).toEqual(new Map([[1, vaccinated.certificateId]]));
    expect(asObject(encodeBeneficiaryCertificate(1, vaccinated.certificateId))).toEqual(index);

    // every outbox entry parses, of every kind these scripts write
    const kinds = (await allEntries(redis, keys.outbox())).map((entry) => parseOutboxEntry(entry).kind);
    expect(new Set(kinds)).toEqual(new Set(['session', 'account', 'beneficiary', 'appointment', 'certificate', 'operator']));

    // every availability entry decodes; the reschedule's last says what the new session has left
    const availability = (await allEntries(redis, keys.availability())).map(([id, fields]) => decodeAvailabilityEntry(id, fields));
    const lastElsewhere = availability.filter((entry) => entry.sessionId === elsewhere).at(-1)!;
    const elsewhereState = (await engine.getSession(elsewhere))!;
    expect(lastElsewhere).toEqual({
      sessionId: elsewhere,
      districtId: elsewhereState.district_id,
      available1: elsewhereState.cap1 - 1,
      available2: elsewhereState.cap2,
      version: 1,
      slotsLeft: new Map([[otherSlots[1]!, elsewhereState.slot_caps[1]! - 1]]),
    });
    // a publish says only its version: readers fetch the session whole
    expect(availability.find((entry) => entry.sessionId === today)).toMatchObject({ version: 1, slotsLeft: new Map() });
  });

  test('a login that replaces another leaves a revocation entry that decodes', async ({ engine, redis, country }) => {
    const mobile = testMobileOf(country, 1);
    const sids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const issued = await engine.issueOtp(mobile, '198.51.100.7');
      if (!issued.ok) throw new Error(`issueOtp refused: ${issued.status}`);
      const verified = await engine.verifyOtp(issued.txnId, sha256Hex('123456'));
      if (!verified.ok) throw new Error(`verifyOtp refused: ${verified.status}`);
      sids.push(verified.sid);
    }
    const entries = await allEntries(redis, keys.forAccount(engine.partitions, engine.accountIdOf(mobile)).loginRevocations());
    expect(entries.map(([id, fields]) => decodeLoginRevocationEntry(id, fields))).toEqual([{ sid: sids[0], at: engine.now() }]);
  });
});

describe('the partitioned booking\'s records, as its scripts write them', () => {
  test('a pending booking, a pending move, claims taken, refused and aborted, seats owed back; malformed ones named', async ({ engine, redis, clock }) => {
    const booking = new PartitionedBooking(engine, { holdMs: 1000 });
    const [first, second] = await partitionedSessions(booking, 2);
    const { accountId, beneficiaryIds } = await partitionedAccount(engine, 2);
    const slots = slotsOf(engine, demoCenterId(engine));
    booking.stopAfter = { operation: 'book', step: 1 };
    await expect(booking.book({ accountId, sessionId: first!, slot: slots[0]!, dose: 1, beneficiaryIds, idempotencyKey: 'k-1' })).rejects.toThrow(StoppedAfterStep);
    const [intent] = await redis.zrange(keys.forAccount(engine.partitions, accountId).intents(), 0, -1);
    const appointmentId = intent!.slice('book:'.length);
    const pending = (await booking.getAppointment(appointmentId))!;
    const session = (await booking.getSession(first!))!;
    expect(pending).toMatchObject({ pending: 'book', claim: appointmentId, idempotencyKey: 'k-1', sessionVersion: session.version, date: session.date, move: null });
    expect(pending.appointment.beneficiaries.map((b) => b.status)).toEqual(['booked', 'booked']);
    // the retry under the same key finishes the stopped booking
    expect(await booking.book({ accountId, sessionId: first!, slot: slots[0]!, dose: 1, beneficiaryIds, idempotencyKey: 'k-1' })).toMatchObject({ ok: true, status: Status.REPLAYED, appointmentId });
    expect(await booking.getClaim(first!, appointmentId)).toEqual({ state: 'taken', session_id: first, slot: slots[0], dose: 1, seats: 2 });

    booking.stopAfter = { operation: 'reschedule', step: 1 };
    await expect(booking.reschedule(accountId, appointmentId, second!, slots[1]!)).rejects.toThrow(StoppedAfterStep);
    const moving = (await booking.getAppointment(appointmentId))!;
    const target = (await booking.getSession(second!))!;
    expect(moving.move).toEqual({
      n: 1, session_id: second, slot: slots[1], claim: `${appointmentId}:1`, count: 2,
      center_id: target.center_id, date: target.date, day_start: target.day_start, day_end: target.day_end, version: target.version,
    }); // prettier-ignore
    clock.advance(1001);
    await booking.resolveExpiredIntents(engine.partitions.of(accountId));
    expect(await booking.getClaim(second!, `${appointmentId}:1`)).toEqual({ state: 'aborted' });

    booking.stopAfter = { operation: 'cancel', step: 1 };
    await expect(booking.cancel(accountId, appointmentId, [beneficiaryIds[0]!])).rejects.toThrow(StoppedAfterStep);
    expect((await booking.getAppointment(appointmentId))!.owed).toEqual(new Map([[2, { session_id: first, claim: appointmentId, count: 1 }]]));
    const full = await publishPartitioned(booking, { date: engine.today() + 3, capacity_dose1: 0 });
    const other = await partitionedAccount(engine, 1);
    booking.stopAfter = { operation: 'book', step: 2 };
    await expect(booking.book({ accountId: other.accountId, sessionId: full, slot: slots[0]!, dose: 1, beneficiaryIds: other.beneficiaryIds })).rejects.toThrow(StoppedAfterStep);
    const [refused] = await redis.zrange(keys.forAccount(engine.partitions, other.accountId).intents(), 0, -1);
    expect(await booking.getClaim(full, refused!.slice('book:'.length))).toEqual({ state: 'refused', status: Status.FULL });

    const malformed = (decode: () => unknown) => {
      try {
        decode();
      } catch (err) {
        expect(err).toBeInstanceOf(MalformedRecord);
        return (err as Error).message;
      }
      throw new Error('decoded a malformed record');
    };
    expect(malformed(() => decodeClaim('b', { state: 'lost' }))).toBe('claim b: field "state" is "lost", expected one of taken, refused, aborted');
    expect(malformed(() => decodeClaim('b', { state: 'taken', session_id: 's', slot: 'A', dose: '1' }))).toBe('claim b: field "seats" is missing');
    const hash = await redis.hgetall(keys.partitionAppointment(engine.partitions, appointmentId));
    expect(malformed(() => decodeHeldAppointment('ap', { ...hash, move: '{"n":1}' }))).toMatch(/^appointment hash ap, field "move": session_id: /);
  });
});

describe('round trips and malformed records', () => {
  test('encoders and decoders agree on every record', () => {
    const ben = {
      id: '10000000000001', name: 'A / B "quoted"', birth_year: 1980, gender_id: 1, photo_id_type: 1, photo_id_last4: '1234',
      photo_id_hash: 'h', comorbidity: 'N' as const, consent_version: 'V1', registered_at: 1_764_230_400_000, version: 3, vaccine: 'COVISHIELD',
      dose1: 20_400, dose2: 0, dose3: 0, appt1: '', appt2: 'a-2', appt3: '', appt1_day: 0, appt2_day: 20_500, appt3_day: 0,
    }; // prettier-ignore
    expect(decodeBeneficiary('test', encodeBeneficiary(ben))).toEqual(ben);
    expect(decodeAccountHash('acc', asObject([...encodeAccountFields({ created_at: 5, ben_count: 1 }), `ben:${ben.id}`, encodeBeneficiary(ben)]))).toEqual({
      created_at: 5,
      ben_count: 1,
      beneficiaries: [ben],
    });

    const appointment = {
      appointment_id: 'ap', account_id: 'acc', session_id: 's', slot: '09:00AM-11:00AM', dose: 2, version: 4, created_at: 7,
      beneficiaries: [{ id: '1', status: 'booked' as const, security_code: '0042' }, { id: '2', status: 'cancelled' as const }], wrong_codes: 2,
    }; // prettier-ignore
    expect(decodeAppointmentHash('ap', asObject(encodeAppointmentHash(appointment)))).toEqual(appointment);

    const operator = { role: 'admin' as const, centers: '', secret_hash: 'scrypt$x', status: 'revoked' as const, issued_at: 1, issued_by: 'admin', version: 2, revoked_at: 3, revoked_by: 'root' }; // prettier-ignore
    expect(decodeOperatorHash('op', asObject(encodeOperatorHash(operator)))).toEqual(operator);

    const certificate = {
      certificateId: 'c1', beneficiaryId: '1', accountId: 'acc', appointmentId: 'ap', dose: 1, vaccine: 'COVAXIN', date: 20_400, centerId: 9,
      kid: 'k', rid: 'r', jws: 'a.b.c', issuedAt: 1, issuedBy: 'vax', status: 'issued' as const, version: 1,
    }; // prettier-ignore
    expect(decodeCertificateHash('c1', asObject(encodeCertificateHash(certificate)))).toEqual(certificate);

    const depth: QueueDepth = {
      readAt: 1_764_230_400_000,
      streams: { '{bk}:outbox': { length: 3, undelivered: 1, pending: 2, oldestUndrainedAgeMs: 40 } },
      outboxLength: 3,
      undelivered: 1,
      pending: 2,
      oldestUndrainedAgeMs: 40,
      bull: { waiting: 1, active: 1, delayed: 0, failed: 0, completed: 9 },
      deadLetters: 1,
      latestDeadLetters: [{ id: '1-0', outboxId: '0-1', eventId: 'appointment:x:1', kind: 'appointment', code: '22021', error: 'bad byte' }],
    };
    expect(decodeQueueDepth(encodeQueueDepth(depth))).toEqual(depth);
  });

  test('a malformed record is named with its field, never read as 0 or empty', () => {
    const malformed = (decode: () => unknown) => {
      try {
        decode();
      } catch (err) {
        expect(err).toBeInstanceOf(MalformedRecord);
        return (err as Error).message;
      }
      throw new Error('decoded a malformed record');
    };
    const definition = JSON.stringify({
      center_id: 1, district_id: 2, date: 20_400, year: 2025, vaccine: 'COVAXIN', min_age: 18, max_age: -1, allow_all_age: 0,
      cap1: 10, cap2: 10, slots: ['A'], slot_caps: [20], opens_at: 0, cutoff_at: 1, day_start: 0, day_end: 2,
      dose2_after: 28, precaution_after: -1, status: 'open',
    }); // prettier-ignore
    const session = { definition, booked1: '0', booked2: '0', 'slotbooked:A': '0', version: '1' };
    expect(decodeSessionHash('s', session)).toMatchObject({ slot_booked: [0], version: 1 });
    expect(malformed(() => decodeSessionHash('s', { ...session, booked1: undefined } as never))).toBe('session hash s: field "booked1" is missing');
    expect(malformed(() => decodeSessionHash('s', { ...session, 'slotbooked:A': 'x' }))).toBe('session hash s: field "slotbooked:A" is "x", expected a whole number');
    expect(malformed(() => decodeSessionHash('s', { ...session, definition: definition.replace('"slot_caps":[20]', '"slot_caps":[]') }))).toMatch(
      /^session hash s, field "definition": slot_caps: one slot capacity per slot$/,
    );
    expect(malformed(() => decodeAppointmentHash('ap', { account_id: 'a', session_id: 's', slot: 'A', dose: '1', version: '1', created_at: '1', bens: '7', 'status:7': 'lost' }))).toBe(
      'appointment hash ap: field "status:7" is "lost", expected one of booked, cancelled, vaccinated',
    );
    expect(malformed(() => decodeAccountHash('acc', { created_at: '1', ben_count: '1', 'ben:7': '{"id":"7"}' }))).toMatch(/^account hash acc, field "ben:7": name: /);
    expect(malformed(() => decodeAvailabilityEntry('1-0', ['s', 'x', 'd', '1', 'a1', 'NaN', 'a2', '0', 'v', '1']))).toBe(
      'availability entry 1-0: field "a1" is "NaN", expected a whole number',
    );
    expect(malformed(() => decodeQueueDepth('{"readAt":1}'))).toMatch(/^queue depth record: /);
    expect(malformed(() => parseOutboxEntry(['1-0', ['id', 'x:1:1', 'kind', 'appointment', 'data', '{}']]))).toMatch(/^outbox entry 1-0: appointment appointment_id: /);
    expect(() => parseOutboxEntry(['1-0', ['id', 'x']])).toThrow(MalformedOutboxEntry);
  });
});
