/**
 * At the centre: the security code each booking gets per beneficiary, and what marking a dose
 * given requires of it (the right code, a limited number of wrong ones per appointment).
 */
import { Status } from '../../engine/status.js';
import { accountWithBeneficiaries, demoCenterId, everyCenter, everySlot, publishSession, slotsOf } from '../support/booking.js';
import { describe, expect, test } from '../support/fixtures.js';

/** A session today (the vaccination day) and an account of `count` booked into it. */
async function bookedToday(engine: Parameters<typeof publishSession>[0], count: number) {
  const sessionId = await publishSession(engine, { date: engine.today() });
  const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, count);
  const slot = slotsOf(engine, demoCenterId(engine))[0]!;
  const booked = await engine.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds });
  if (!booked.ok) throw new Error(`booking refused: ${booked.status}`);
  return { sessionId, accountId, beneficiaryIds, booked };
}

const wrong = (code: string) => String((Number(code) + 1) % 10_000).padStart(4, '0');

describe('security codes', () => {
  test('each beneficiary of a booking gets a 4-digit code, kept with the appointment and carried to the outbox', async ({ engine, redis }) => {
    const { booked, beneficiaryIds, accountId } = await bookedToday(engine, 3);
    expect(booked.securityCodes.map((c) => c.beneficiaryId)).toEqual(beneficiaryIds);
    for (const { code } of booked.securityCodes) expect(code).toMatch(/^\d{4}$/);

    const appointment = (await engine.getAppointment(booked.appointmentId))!;
    expect(appointment.beneficiaries.map((b) => b.security_code)).toEqual(booked.securityCodes.map((c) => c.code));

    const entries = await redis.xrange(engine.records.accountOutbox(accountId), '-', '+');
    const booking = entries.map(([, f]) => JSON.parse(f[f.indexOf('data') + 1]!)).find((d) => d.appointment_id === booked.appointmentId && d.action === 'booked');
    expect(booking.beneficiaries).toEqual(beneficiaryIds.map((id, i) => ({ id, status: 'booked', security_code: booked.securityCodes[i]!.code })));
  });

  test('codes come from the engine, not from Lua: many bookings give many different codes', async ({ engine }) => {
    const sessionId = await publishSession(engine, { capacity_dose1: 100, slot_capacity: everySlot(engine, demoCenterId(engine), 100) });
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    const codes = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 4);
      const booked = await engine.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds });
      if (!booked.ok) throw new Error(`booking refused: ${booked.status}`);
      for (const { code } of booked.securityCodes) codes.add(code);
    }
    // Redis seeds Lua's math.random alike for every script: codes drawn in Lua would repeat
    expect(codes.size).toBeGreaterThan(30);
  });

  test('the right code records the dose; a wrong one is refused and counted, per appointment, until it locks', async ({ engine }) => {
    const { booked, beneficiaryIds } = await bookedToday(engine, 2);
    const [first, second] = booked.securityCodes;
    const vaccinate = (beneficiaryId: string, securityCode: string) =>
      engine.markVaccinated({ appointmentId: booked.appointmentId, beneficiaryId, securityCode, vaccinatorId: 'vax-1', centerIds: everyCenter(engine) });

    // the first beneficiary's code does not vaccinate the second
    expect(await vaccinate(second!.beneficiaryId, first!.code === second!.code ? wrong(first!.code) : first!.code)).toEqual({
      ok: false,
      status: Status.WRONG_SECURITY_CODE,
      triesLeft: 4,
    });
    expect(await vaccinate(first!.beneficiaryId, first!.code)).toMatchObject({ ok: true, dose: 1 });
    // wrong codes count for the whole appointment: 4 more, then it is locked even for the right code
    for (const left of [3, 2, 1, 0]) {
      expect(await vaccinate(second!.beneficiaryId, wrong(second!.code))).toEqual({ ok: false, status: Status.WRONG_SECURITY_CODE, triesLeft: left });
    }
    expect(await vaccinate(second!.beneficiaryId, second!.code)).toEqual({ ok: false, status: Status.SECURITY_CODE_LOCKED });
    const appointment = (await engine.getAppointment(booked.appointmentId))!;
    expect(appointment.wrong_codes).toBe(5);
    expect(appointment.beneficiaries.map((b) => b.status)).toEqual(['vaccinated', 'booked']);
    expect((await engine.listBeneficiaries((await engine.getAppointment(booked.appointmentId))!.account_id)).find((b) => b.id === beneficiaryIds[1])!.dose1).toBe(0);
  });

  test('a refusal for another reason counts no wrong code: not the vaccination day, already vaccinated', async ({ engine, clock }) => {
    const sessionId = await publishSession(engine); // tomorrow
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
    const booked = await engine.book({ accountId, sessionId, slot: slotsOf(engine, demoCenterId(engine))[0]!, dose: 1, beneficiaryIds });
    if (!booked.ok) throw new Error('booking refused');
    const code = booked.securityCodes[0]!.code;
    const vaccinate = (securityCode: string) =>
      engine.markVaccinated({ appointmentId: booked.appointmentId, beneficiaryId: beneficiaryIds[0]!, securityCode, vaccinatorId: 'vax-1', centerIds: everyCenter(engine) });
    expect(await vaccinate(wrong(code))).toEqual({ ok: false, status: Status.NOT_VACCINATION_DAY });
    clock.advance(86_400_000);
    expect(await vaccinate(code)).toMatchObject({ ok: true });
    expect(await vaccinate(wrong(code))).toEqual({ ok: false, status: Status.APPOINTMENT_NOT_ACTIVE });
    expect((await engine.getAppointment(booked.appointmentId))!.wrong_codes).toBe(0);
  });

  test('the limit is the engine option', async ({ makeEngine }) => {
    const engine = makeEngine({ securityCodeMaxWrong: 2 });
    const { booked, beneficiaryIds } = await bookedToday(engine, 1);
    const code = booked.securityCodes[0]!.code;
    const vaccinate = (securityCode: string) =>
      engine.markVaccinated({ appointmentId: booked.appointmentId, beneficiaryId: beneficiaryIds[0]!, securityCode, vaccinatorId: 'vax-1', centerIds: everyCenter(engine) });
    expect(await vaccinate(wrong(code))).toMatchObject({ status: Status.WRONG_SECURITY_CODE, triesLeft: 1 });
    expect(await vaccinate(wrong(code))).toMatchObject({ status: Status.WRONG_SECURITY_CODE, triesLeft: 0 });
    expect(await vaccinate(code)).toMatchObject({ status: Status.SECURITY_CODE_LOCKED });
  });

  test("a test number's bookings get the deployment's fixed code (demo); other accounts a drawn one", async ({ makeEngine, redis }) => {
    const engine = makeEngine({ testMobiles: { prefix: '9999', otp: '123456', securityCode: '2468' } });
    const sessionId = await publishSession(engine, { capacity_dose1: 50, slot_capacity: everySlot(engine, demoCenterId(engine), 50) });
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    const mobile = `9999${String(Date.now()).slice(-6)}`;
    expect((await engine.issueOtp(mobile, '127.0.0.1')).ok).toBe(true);
    const tester = await accountWithBeneficiaries(engine, 2, 1990, mobile);
    const booked = await engine.book({ accountId: tester.accountId, sessionId, slot, dose: 1, beneficiaryIds: tester.beneficiaryIds });
    if (!booked.ok) throw new Error('booking refused');
    expect(booked.securityCodes.map((c) => c.code)).toEqual(['2468', '2468']);

    const citizen = await accountWithBeneficiaries(engine, 1);
    expect(await redis.exists(engine.accountKeys(citizen.accountId).testNumberAccount())).toBe(0);
    const other = await engine.book({ accountId: citizen.accountId, sessionId, slot, dose: 1, beneficiaryIds: citizen.beneficiaryIds });
    expect(other.ok).toBe(true);
  });

  test("a vaccinator of other centres gets the missing appointment's answer, even with the right code, and changes nothing", async ({ engine }) => {
    const { booked, beneficiaryIds } = await bookedToday(engine, 1);
    const code = booked.securityCodes[0]!.code;
    const attempt = (centerIds: number[]) =>
      engine.markVaccinated({ appointmentId: booked.appointmentId, beneficiaryId: beneficiaryIds[0]!, securityCode: code, vaccinatorId: 'vax-b', centerIds });
    const elsewhere = everyCenter(engine).filter((id) => id !== demoCenterId(engine));
    expect(await attempt(elsewhere)).toEqual({ ok: false, status: Status.APPOINTMENT_NOT_FOUND });
    expect(await attempt([])).toEqual({ ok: false, status: Status.APPOINTMENT_NOT_FOUND });
    // a centre id that only starts like ours is not ours
    expect(await attempt([Number(`${demoCenterId(engine)}1`)])).toEqual({ ok: false, status: Status.APPOINTMENT_NOT_FOUND });
    expect((await engine.getAppointment(booked.appointmentId))!.beneficiaries[0]!.status).toBe('booked');
    expect(await attempt([...elsewhere.slice(0, 2), demoCenterId(engine)])).toMatchObject({ ok: true });
  });

  test('an idempotent replay answers the codes of the first booking', async ({ engine }) => {
    const sessionId = await publishSession(engine);
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 2);
    const request = { accountId, sessionId, slot: slotsOf(engine, demoCenterId(engine))[0]!, dose: 1, beneficiaryIds, idempotencyKey: 'retry-1' };
    const first = await engine.book(request);
    const again = await engine.book(request);
    expect(again).toMatchObject({ ok: true, status: Status.REPLAYED });
    if (!first.ok || !again.ok) throw new Error('booking refused');
    expect(again.securityCodes).toEqual(first.securityCodes);
  });
});
