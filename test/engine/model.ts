/**
 * A small in-memory model of teeka's booking rules, written from design.md, not from the Lua.
 * The differential test runs the same random operations against it and the real engine and
 * compares every answer. Where several rules fail at once, the model reports the first in the
 * documented order (the script headers list their checks in that order).
 */
import { localEpochDay } from '../../engine/dates.js';
import type { SessionDefinition } from '../../engine/sessions.js';
import { Status } from '../../engine/status.js';

interface ModelSession extends SessionDefinition {
  booked1: number;
  booked2: number;
  slotBooked: Map<string, number>;
}

interface ModelBeneficiary {
  id: string;
  birth_year: number;
  photo: string;
  vaccine: string;
  dose: [number, number, number];
  appt: [string, string, string];
  apptDay: [number, number, number];
}

interface ModelAppointment {
  account: string;
  session: string;
  slot: string;
  dose: number;
  bens: string[];
  status: Map<string, 'booked' | 'cancelled' | 'vaccinated'>;
  /** each beneficiary's security code, as the engine answered the booking (the engine draws them) */
  codes: Map<string, string>;
  /** wrong security codes given so far */
  wrongCodes: number;
}

export type ModelAnswer = { status: Status; value?: string | number | undefined };

export class BookingModel {
  readonly sessions = new Map<string, ModelSession>();
  readonly accounts = new Map<string, Map<string, ModelBeneficiary>>();
  readonly appointments = new Map<string, ModelAppointment>();
  private readonly photos = new Map<string, string>();
  private nextReference: number;

  constructor(
    private readonly timeZone: string,
    private readonly maxBeneficiaries: number,
    firstReference: number,
    private readonly maxWrongCodes = 5,
  ) {
    this.nextReference = firstReference;
  }

  private today(now: number): number {
    return localEpochDay(now, this.timeZone);
  }

  publish(id: string, d: SessionDefinition): ModelAnswer {
    const existing = this.sessions.get(id);
    if (existing) {
      if (d.cap1 < existing.booked1 || d.cap2 < existing.booked2) return { status: Status.CAPACITY_BELOW_BOOKED };
      for (let i = 0; i < d.slots.length; i++) {
        if (d.slot_caps[i]! < (existing.slotBooked.get(d.slots[i]!) ?? 0)) return { status: Status.CAPACITY_BELOW_BOOKED };
      }
      this.sessions.set(id, { ...d, booked1: existing.booked1, booked2: existing.booked2, slotBooked: existing.slotBooked });
    } else {
      this.sessions.set(id, { ...d, booked1: 0, booked2: 0, slotBooked: new Map(d.slots.map((s) => [s, 0])) });
    }
    return { status: Status.OK };
  }

  addBeneficiary(account: string, birthYear: number, photo: string): ModelAnswer {
    const bens = this.accounts.get(account) ?? new Map<string, ModelBeneficiary>();
    if (bens.size >= this.maxBeneficiaries) return { status: Status.BENEFICIARY_LIMIT };
    if (this.photos.has(photo)) return { status: Status.DUPLICATE_PHOTO_ID };
    this.nextReference += 1;
    const id = String(this.nextReference);
    bens.set(id, { id, birth_year: birthYear, photo, vaccine: '', dose: [0, 0, 0], appt: ['', '', ''], apptDay: [0, 0, 0] });
    this.accounts.set(account, bens);
    this.photos.set(photo, id);
    return { status: Status.OK, value: id };
  }

  deleteBeneficiary(account: string, id: string, now: number): ModelAnswer {
    const ben = this.accounts.get(account)?.get(id);
    if (!ben) return { status: Status.BENEFICIARY_NOT_FOUND };
    const today = this.today(now);
    for (let i = 0; i < 3; i++) {
      if (ben.dose[i]! > 0 || (ben.appt[i] !== '' && ben.apptDay[i]! >= today)) return { status: Status.BENEFICIARY_LOCKED };
    }
    this.accounts.get(account)!.delete(id);
    this.photos.delete(ben.photo);
    return { status: Status.OK };
  }

  private eligibility(ben: ModelBeneficiary, dose: number, s: ModelSession, today: number, own?: string): Status | null {
    const age = s.year - ben.birth_year;
    if (age < s.min_age) return Status.AGE_NOT_ELIGIBLE;
    if (s.max_age >= 0 && !s.allow_all_age && age > s.max_age) return Status.AGE_NOT_ELIGIBLE;
    const i = dose - 1;
    if (ben.dose[i]! > 0) return Status.ALREADY_VACCINATED;
    if (ben.appt[i] !== '' && ben.appt[i] !== own && ben.apptDay[i]! >= today) return Status.ALREADY_BOOKED;
    if (dose === 1) return null;
    if (ben.dose[0] === 0) return Status.PREVIOUS_DOSE_MISSING;
    if (ben.vaccine !== s.vaccine) return Status.VACCINE_MISMATCH;
    // -1 marks a dose the vaccine's schedule lacks; a single-dose vaccine's precaution dose follows dose 1
    const singleDose = s.dose2_after < 0;
    let previous = ben.dose[0]!;
    let interval = s.dose2_after;
    if (dose === 2 && singleDose) return Status.DOSE_NOT_IN_SCHEDULE;
    if (dose === 3) {
      if (s.precaution_after < 0) return Status.DOSE_NOT_IN_SCHEDULE;
      interval = s.precaution_after;
      if (!singleDose) previous = ben.dose[1]!;
      if (previous === 0) return Status.PREVIOUS_DOSE_MISSING;
    }
    if (s.date - previous < interval) return Status.DOSE_NOT_DUE;
    return null;
  }

  private windowProblem(s: ModelSession, now: number): Status | null {
    if (s.status !== 'open' || now < s.opens_at) return Status.SESSION_NOT_OPEN;
    if (now >= s.cutoff_at) return Status.BOOKING_CLOSED;
    return null;
  }

  book(account: string, sessionId: string, slot: string, dose: number, ids: string[], now: number, appointmentId: () => string): ModelAnswer {
    if (![1, 2, 3].includes(dose)) return { status: Status.INVALID_DOSE };
    const s = this.sessions.get(sessionId);
    if (!s) return { status: Status.SESSION_NOT_FOUND };
    const window = this.windowProblem(s, now);
    if (window) return { status: window };
    if (!s.slotBooked.has(slot)) return { status: Status.INVALID_SLOT };
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
    if (duplicate !== undefined) return { status: Status.DUPLICATE_BENEFICIARY, value: duplicate };
    const today = this.today(now);
    const bens: ModelBeneficiary[] = [];
    for (const id of ids) {
      const ben = this.accounts.get(account)?.get(id);
      if (!ben) return { status: Status.BENEFICIARY_NOT_FOUND, value: id };
      const problem = this.eligibility(ben, dose, s, today);
      if (problem) return { status: problem, value: id };
      bens.push(ben);
    }
    const bucket = dose === 1 ? 1 : 2;
    const available = bucket === 1 ? s.cap1 - s.booked1 : s.cap2 - s.booked2;
    const slotCap = s.slot_caps[s.slots.indexOf(slot)]!;
    if (ids.length > available || s.slotBooked.get(slot)! + ids.length > slotCap) return { status: Status.FULL };

    const id = appointmentId();
    if (bucket === 1) s.booked1 += ids.length;
    else s.booked2 += ids.length;
    s.slotBooked.set(slot, s.slotBooked.get(slot)! + ids.length);
    for (const ben of bens) {
      ben.appt[dose - 1] = id;
      ben.apptDay[dose - 1] = s.date;
    }
    this.appointments.set(id, {
      account,
      session: sessionId,
      slot,
      dose,
      bens: [...ids],
      status: new Map(ids.map((b) => [b, 'booked'])),
      codes: new Map(),
      wrongCodes: 0,
    });
    return { status: Status.OK, value: available - ids.length };
  }

  private release(s: ModelSession, dose: number, slot: string, count: number): void {
    if (dose === 1) s.booked1 -= count;
    else s.booked2 -= count;
    s.slotBooked.set(slot, s.slotBooked.get(slot)! - count);
  }

  cancel(account: string, appointmentId: string, ids: string[], now: number): ModelAnswer {
    const a = this.appointments.get(appointmentId);
    if (!a || a.account !== account) return { status: Status.APPOINTMENT_NOT_FOUND };
    let targets: string[];
    if (ids.length) {
      for (const id of ids) {
        if (!a.status.has(id)) return { status: Status.BENEFICIARY_NOT_FOUND, value: id };
        if (a.status.get(id) !== 'booked') return { status: Status.APPOINTMENT_NOT_ACTIVE };
      }
      targets = [...new Set(ids)];
    } else {
      targets = a.bens.filter((id) => a.status.get(id) === 'booked');
    }
    if (!targets.length) return { status: Status.APPOINTMENT_NOT_ACTIVE };
    const s = this.sessions.get(a.session)!;
    if (now >= s.day_end) return { status: Status.TOO_LATE_TO_CHANGE };
    this.release(s, a.dose, a.slot, targets.length);
    for (const id of targets) {
      a.status.set(id, 'cancelled');
      const ben = this.accounts.get(account)?.get(id);
      if (ben && ben.appt[a.dose - 1] === appointmentId) {
        ben.appt[a.dose - 1] = '';
        ben.apptDay[a.dose - 1] = 0;
      }
    }
    return { status: Status.OK, value: targets.length };
  }

  reschedule(account: string, appointmentId: string, sessionId: string, slot: string, now: number): ModelAnswer {
    const a = this.appointments.get(appointmentId);
    if (!a || a.account !== account) return { status: Status.APPOINTMENT_NOT_FOUND };
    const live = a.bens.filter((id) => a.status.get(id) === 'booked');
    if (!live.length) return { status: Status.APPOINTMENT_NOT_ACTIVE };
    const old = this.sessions.get(a.session)!;
    if (now >= old.day_start) return { status: Status.TOO_LATE_TO_CHANGE };
    const s = this.sessions.get(sessionId);
    if (!s) return { status: Status.SESSION_NOT_FOUND };
    const window = this.windowProblem(s, now);
    if (window) return { status: window };
    if (!s.slotBooked.has(slot)) return { status: Status.INVALID_SLOT };
    if (old.center_id === s.center_id && old.date === s.date && a.slot === slot) return { status: Status.SAME_CENTER_AND_SLOT };
    const today = this.today(now);
    const bens: ModelBeneficiary[] = [];
    for (const id of live) {
      const ben = this.accounts.get(account)?.get(id);
      if (!ben) return { status: Status.BENEFICIARY_NOT_FOUND, value: id };
      const problem = this.eligibility(ben, a.dose, s, today, appointmentId);
      if (problem) return { status: problem, value: id };
      bens.push(ben);
    }
    const same = sessionId === a.session;
    const bucket = a.dose === 1 ? 1 : 2;
    let available = bucket === 1 ? s.cap1 - s.booked1 : s.cap2 - s.booked2;
    if (!same && live.length > available) return { status: Status.FULL };
    if (s.slotBooked.get(slot)! + live.length > s.slot_caps[s.slots.indexOf(slot)]!) return { status: Status.FULL };

    this.release(old, a.dose, a.slot, live.length);
    if (bucket === 1) s.booked1 += live.length;
    else s.booked2 += live.length;
    s.slotBooked.set(slot, s.slotBooked.get(slot)! + live.length);
    if (!same) available -= live.length;
    for (const ben of bens) ben.apptDay[a.dose - 1] = s.date;
    a.session = sessionId;
    a.slot = slot;
    return { status: Status.OK, value: available };
  }

  /** The engine drew the codes of a booking: the model keeps them to judge the codes given later. */
  recordCodes(appointmentId: string, codes: { beneficiaryId: string; code: string }[]): void {
    for (const { beneficiaryId, code } of codes) this.appointments.get(appointmentId)!.codes.set(beneficiaryId, code);
  }

  vaccinate(appointmentId: string, beneficiaryId: string, code: string, now: number): ModelAnswer {
    const a = this.appointments.get(appointmentId);
    if (!a) return { status: Status.APPOINTMENT_NOT_FOUND };
    const status = a.status.get(beneficiaryId);
    if (!status) return { status: Status.BENEFICIARY_NOT_FOUND, value: beneficiaryId };
    if (status !== 'booked') return { status: Status.APPOINTMENT_NOT_ACTIVE };
    const s = this.sessions.get(a.session)!;
    if (now < s.day_start || now >= s.day_end) return { status: Status.NOT_VACCINATION_DAY };
    if (a.wrongCodes >= this.maxWrongCodes) return { status: Status.SECURITY_CODE_LOCKED };
    const ben = this.accounts.get(a.account)?.get(beneficiaryId);
    if (!ben) return { status: Status.BENEFICIARY_NOT_FOUND, value: beneficiaryId };
    if (a.codes.get(beneficiaryId) !== code) {
      a.wrongCodes += 1;
      return { status: Status.WRONG_SECURITY_CODE, value: this.maxWrongCodes - a.wrongCodes };
    }
    ben.dose[a.dose - 1] = s.date;
    ben.vaccine = s.vaccine;
    ben.appt[a.dose - 1] = '';
    ben.apptDay[a.dose - 1] = 0;
    a.status.set(beneficiaryId, 'vaccinated');
    return { status: Status.OK, value: a.dose };
  }
}

/** mulberry32: a small seeded PRNG, so a failing sequence can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
