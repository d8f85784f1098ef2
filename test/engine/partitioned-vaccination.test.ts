/**
 * The vaccinator's action in the partitioned layout (engine/partitioned-booking.md, "The
 * vaccinator's action"): a dose is recorded, and its certificate issued, by one script in the
 * account's partition, with the single-slot path's rules; the certificate lives there and is
 * revoked there; a key's revocation list is every partition's. A booking still between its steps is
 * not vaccinated until it is resolved.
 */
import { Certificates } from '../../engine/certificates.js';
import type { BookingEngine } from '../../engine/engine.js';
import { verifyHealthCard, type RevocationList } from '../../engine/health-card.js';
import { keys } from '../../engine/keys.js';
import { PartitionedBooking, StoppedAfterStep } from '../../engine/partitioned-booking.js';
import { beneficiaryField, decodeBeneficiary } from '../../engine/records.js';
import { Status } from '../../engine/status.js';
import { demoCenterId, everyCenter, slotsOf } from '../support/booking.js';
import { describe, expect, test } from '../support/fixtures.js';
import { bookedInPartition, publishPartitioned, registeredAccount } from '../support/partitioned.js';

const HOLD_MS = 30_000;

const wrong = (code: string) => String((Number(code) + 1) % 10_000).padStart(4, '0');

const vaccinate = (booking: PartitionedBooking, appointmentId: string, beneficiaryId: string, securityCode: string, centerIds = [demoCenterId(booking.engine)]) =>
  booking.markVaccinated({ appointmentId, beneficiaryId, securityCode, vaccinatorId: 'vax-1', centerIds });

/** The certificates of the partitioned layout, and a verifier trusting what they publish. */
function partitionedCertificates(engine: BookingEngine, now: () => number) {
  const certificates = new Certificates(engine.redis, engine.scripts, now, engine.certificates.ring, engine.certificates.issuer, engine.partitions);
  const verify = async (jws: string) => {
    const lists = new Map<string, RevocationList>();
    const { keys: published } = await certificates.jwks();
    for (const key of published) lists.set(key.kid, await certificates.revocationList(key.kid));
    return verifyHealthCard(jws, { issuer: certificates.issuer, keys: published, revocations: (kid) => lists.get(kid), now: now() });
  };
  return { certificates, verify };
}

describe('the vaccinator’s action in the account’s partition', () => {
  test('the dose is recorded with the single-slot rules, its certificate issued and revoked in the account’s partition', async ({ engine, redis, clock }) => {
    const booking = new PartitionedBooking(engine);
    const { accountId, beneficiaryIds, appointmentId, codes } = await bookedInPartition(booking, 2);
    const [first, second] = beneficiaryIds as [string, string];

    // refusals: a wrong code (counted), another centre (answered as a missing appointment), the second's code for the first
    expect(await vaccinate(booking, appointmentId, first, wrong(codes[0]!))).toEqual({ ok: false, status: Status.WRONG_SECURITY_CODE, triesLeft: 4 });
    const elsewhere = everyCenter(engine).find((id) => id !== demoCenterId(engine))!;
    expect(await vaccinate(booking, appointmentId, first, codes[0]!, [elsewhere])).toMatchObject({ ok: false, status: Status.APPOINTMENT_NOT_FOUND });
    expect(await vaccinate(booking, 'no-such-appointment', first, codes[0]!)).toMatchObject({ ok: false, status: Status.APPOINTMENT_NOT_FOUND });

    const done = await vaccinate(booking, appointmentId, first, codes[0]!);
    if (!done.ok) throw new Error(`vaccination refused: ${done.status}`);
    expect(done).toMatchObject({ dose: 1, date: engine.today() });
    // the certificate's id was drawn in the account's partition; nothing went to {bk}
    expect(engine.partitions.of(done.certificateId)).toBe(engine.partitions.of(accountId));
    expect(await redis.exists(keys.certificate(done.certificateId), keys.beneficiaryCertificates(first))).toBe(0);
    // once only; the second beneficiary is still to come
    expect(await vaccinate(booking, appointmentId, first, codes[0]!)).toMatchObject({ ok: false, status: Status.APPOINTMENT_NOT_ACTIVE });
    expect((await booking.getAppointment(appointmentId))!.appointment.beneficiaries.map((b) => b.status)).toEqual(['vaccinated', 'booked']);
    // the beneficiary in its partition: the dose's date and vaccine, no live appointment for dose 1
    const account = keys.forAccount(engine.partitions, accountId);
    const ben = decodeBeneficiary(first, (await redis.hget(account.bookingAccount(), beneficiaryField(first)))!);
    expect(ben).toMatchObject({ dose1: engine.today(), vaccine: done.vaccine, appt1: '' });

    // the certificate: found by the account's beneficiary, signed, verifiable
    const { certificates, verify } = partitionedCertificates(engine, clock.now);
    const certificate = (await certificates.latestOf(accountId, first))!;
    expect(certificate).toMatchObject({ certificateId: done.certificateId, beneficiaryId: first, dose: 1, status: 'issued', version: 1 });
    expect(await certificates.latestOf(accountId, second)).toBeNull();
    expect((await verify(certificate.jws)).status).toBe('valid');

    // revoked in its partition: the key's list (the union of the partitions') names it, the card is revoked
    clock.advance(1000);
    expect(await certificates.revoke(done.certificateId, 'admin', 'issued in error')).toEqual({ ok: true, version: 2 });
    expect(await certificates.revoke(done.certificateId, 'admin', 'again')).toEqual({ ok: true, version: 2 });
    expect(await certificates.revoke('no-such-certificate', 'admin', 'x')).toEqual({ ok: false, status: Status.CERTIFICATE_NOT_FOUND });
    const partition = engine.partitions.of(done.certificateId);
    expect(await redis.zrange(keys.partitionCertificateRevocations(engine.partitions, partition, certificate.kid), 0, -1)).toEqual([certificate.rid]);
    expect(await certificates.revocationList(certificate.kid)).toEqual({ kid: certificate.kid, method: 'rid', ctr: 2, rids: [certificate.rid] });
    expect((await certificates.jwks()).keys.find((k) => k.kid === certificate.kid)).toMatchObject({ crlVersion: 2 });
    expect((await verify(certificate.jws)).status).toBe('revoked');

    // the partition's outbox carries the vaccination, the beneficiary, the certificate issued and revoked
    const entries = await redis.xrange(account.outbox(), '-', '+');
    const ids = entries.map(([, fields]) => fields[fields.indexOf('id') + 1]!);
    expect(ids).toEqual(
      expect.arrayContaining([`appointment:${appointmentId}:2`, `beneficiary:${first}:${ben.version}`, `certificate:${done.certificateId}:1`, `certificate:${done.certificateId}:2`]),
    );
    // the single-slot layout's certificates know nothing of it
    const single = new Certificates(engine.redis, engine.scripts, clock.now, engine.certificates.ring, engine.certificates.issuer);
    expect(await single.get(done.certificateId)).toBeNull();
  });

  test('only on the appointment’s day; a wrong code locks the appointment after the limit', async ({ engine }) => {
    const booking = new PartitionedBooking(engine);
    const tomorrow = await bookedInPartition(booking, 1, 1);
    expect(await vaccinate(booking, tomorrow.appointmentId, tomorrow.beneficiaryIds[0]!, tomorrow.codes[0]!)).toMatchObject({ ok: false, status: Status.NOT_VACCINATION_DAY });

    const today = await bookedInPartition(booking, 1);
    for (let left = 4; left >= 0; left--) {
      expect(await vaccinate(booking, today.appointmentId, today.beneficiaryIds[0]!, wrong(today.codes[0]!))).toEqual({ ok: false, status: Status.WRONG_SECURITY_CODE, triesLeft: left });
    }
    expect(await vaccinate(booking, today.appointmentId, today.beneficiaryIds[0]!, today.codes[0]!)).toMatchObject({ ok: false, status: Status.SECURITY_CODE_LOCKED });
  });

  test('a booking stopped between its steps is not vaccinated while it may still finish; past its deadline the vaccinator’s request resolves it', async ({ engine, clock }) => {
    const booking = new PartitionedBooking(engine, { holdMs: HOLD_MS });
    const sessionId = await publishPartitioned(booking, { date: engine.today() });
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    /** A booking stopped after `step`, and its appointment (found by its intent, as the sweeper finds it). */
    const stoppedAfter = async (step: number) => {
      const { accountId, beneficiaryIds } = await registeredAccount(engine, 1);
      booking.stopAfter = { operation: 'book', step };
      await expect(booking.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds })).rejects.toThrow(StoppedAfterStep);
      // the partition may hold the other stopped booking's intent too (both accounts in one partition): take this account's
      const intents = await engine.redis.zrange(keys.intents(engine.partitions, engine.partitions.of(accountId)), 0, -1);
      const ids = intents.filter((intent) => intent.startsWith('book:')).map((intent) => intent.slice('book:'.length));
      const helds = await Promise.all(ids.map((id) => booking.getAppointment(id)));
      const held = helds.find((h) => h?.appointment.account_id === accountId)!;
      const appointmentId = held.appointment.appointment_id;
      return { appointmentId, beneficiaryId: beneficiaryIds[0]!, code: held.appointment.beneficiaries[0]!.security_code! };
    };
    const seatsTaken = await stoppedAfter(2); // seats taken, appointment still pending
    const heldOnly = await stoppedAfter(1); // held, no seats

    expect(await vaccinate(booking, seatsTaken.appointmentId, seatsTaken.beneficiaryId, seatsTaken.code)).toMatchObject({ ok: false, status: Status.STALE_APPOINTMENT });
    expect((await booking.getAppointment(seatsTaken.appointmentId))!.pending).toBe('book');

    clock.advance(HOLD_MS + 1);
    // the seats were taken: confirmed, then vaccinated
    expect(await vaccinate(booking, seatsTaken.appointmentId, seatsTaken.beneficiaryId, seatsTaken.code)).toMatchObject({ ok: true, dose: 1 });
    // no seats: the hold was released, and the appointment is gone
    expect(await vaccinate(booking, heldOnly.appointmentId, heldOnly.beneficiaryId, heldOnly.code)).toMatchObject({ ok: false, status: Status.APPOINTMENT_NOT_FOUND });
  });
});
