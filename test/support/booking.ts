/** Small builders for engine tests: accounts with beneficiaries, sessions on chosen days. */
import { expect } from 'vitest';
import type { BookingEngine } from '../../engine/engine.js';
import { sha256Hex } from '../../engine/ids.js';
import type { TestClock } from './clock.js';
import type { SessionInput } from '../../engine/sessions.js';
import { nextMobileOf, nextPhotoIdOf, nextPhotoSerial, twoDoseVaccine } from './countries.js';

/** Log in with `mobile` (its OTP as the engine issued it, or a test number's): the account and its login session. */
export async function login(engine: BookingEngine, mobile: string): Promise<{ accountId: string; sid: string }> {
  const issued = await engine.issueOtp(mobile, '198.51.100.1');
  if (!issued.ok) throw new Error(`issueOtp: status ${issued.status}`);
  const verified = await engine.verifyOtp(issued.txnId, sha256Hex(issued.otp ?? '123456'));
  if (!verified.ok) throw new Error(`verifyOtp: status ${verified.status}`);
  return verified;
}

/**
 * Use up a citizen's searches of the day, a short window's worth at a time (the window outlives a
 * logout, so the clock moves past each one): the next search blocks the account.
 */
export async function useUpDailySearches(engine: BookingEngine, clock: TestClock, citizen: { accountId: string; sid: string }): Promise<void> {
  const q = engine.country.rules.search_quota;
  for (let done = 0; done < q.max_per_day; done += q.max_per_window) {
    const answers = await Promise.all(Array.from({ length: q.max_per_window }, () => engine.consumeSearchQuota(citizen.accountId, citizen.sid)));
    expect(answers.every((answer) => answer.ok)).toBe(true);
    clock.advance(q.window_seconds * 1000);
  }
}

let mobileCounter = 0;
/** A fresh mobile number (not a test number) for each call. */
export function nextMobile(): string {
  mobileCounter += 1;
  return `8${String(process.pid % 1000).padStart(3, '0')}${String(mobileCounter).padStart(6, '0')}`;
}

/** A fresh Aadhaar-shaped photo ID number (12 digits, type 1 of the demo country) per call; never one nextPhotoIdOf gave. */
export function nextPhotoId(): string {
  return `${String(process.pid % 1_000_000).padStart(6, '0')}${String(nextPhotoSerial() % 1_000_000).padStart(6, '0')}`;
}

/** A new account (by mobile) with `count` beneficiaries born in `birthYear`, with the engine's country's mobiles and photo IDs. */
export async function accountWithBeneficiaries(
  engine: BookingEngine,
  count: number,
  birthYear = 1990,
  mobile = nextMobileOf(engine.country),
): Promise<{ accountId: string; beneficiaryIds: string[] }> {
  const accountId = engine.accountIdOf(mobile);
  const beneficiaryIds: string[] = [];
  const genders = engine.country.data.genders;
  for (let i = 0; i < count; i++) {
    const photoId = nextPhotoIdOf(engine.country);
    const outcome = await engine.addBeneficiary(accountId, {
      name: `Beneficiary ${i + 1}`,
      birth_year: birthYear,
      gender_id: genders[i % genders.length]!.id,
      photo_id_type: photoId.type,
      photo_id_number: photoId.number,
      comorbidity_ind: 'N',
      consent_version: 'V1',
    });
    if (!outcome.ok) throw new Error(`addBeneficiary failed with status ${outcome.status}`);
    beneficiaryIds.push(outcome.beneficiaryId);
  }
  return { accountId, beneficiaryIds };
}

/** The country's first centre, or the n-th. */
export function demoCenterId(engine: BookingEngine, n = 0): number {
  return engine.country.data.centers[n]!.center_id;
}

/**
 * Publish a session (defaults: the country's first centre, tomorrow, its first two-dose vaccine
 * for adults (India's COVISHIELD) 18+, 10 + 10 seats).
 */
export async function publishSession(engine: BookingEngine, overrides: Partial<SessionInput> = {}): Promise<string> {
  const outcome = await engine.publishSession({
    center_id: demoCenterId(engine),
    date: engine.today() + 1,
    vaccine: twoDoseVaccine(engine.country).name,
    min_age_limit: 18,
    capacity_dose1: 10,
    capacity_dose2: 10,
    ...overrides,
  });
  expect(outcome.ok, `publishSession status ${outcome.status}`).toBe(true);
  if (!outcome.ok) throw new Error('unreachable');
  return outcome.sessionId;
}

/** The same capacity for every slot of a centre (the slot count differs between centres). */
export function everySlot(engine: BookingEngine, centerId: number, capacity: number): number[] {
  return slotsOf(engine, centerId).map(() => capacity);
}

export function slotsOf(engine: BookingEngine, centerId: number): string[] {
  return engine.country.slotsOf(engine.country.centersById.get(centerId)!);
}

/** The security code on the slip of one beneficiary of an appointment (what the citizen tells the vaccinator). */
export async function securityCodeOf(engine: BookingEngine, appointmentId: string, beneficiaryId: string): Promise<string> {
  const appointment = await engine.getAppointment(appointmentId);
  const code = appointment?.beneficiaries.find((b) => b.id === beneficiaryId)?.security_code;
  if (!code) throw new Error(`no security code for beneficiary ${beneficiaryId} of appointment ${appointmentId}`);
  return code;
}

/** Every demo centre's id: a vaccinator of them all (engine tests that are not about centres). */
export function everyCenter(engine: BookingEngine): number[] {
  return engine.country.data.centers.map((c) => c.center_id);
}
