/**
 * Sessions: turning what an operator (or the country file's session plan) says about a session into
 * the exact definition the publish script stores, and reading stored sessions back.
 */
import { formatCowinDate, localInstant, yearOf } from './dates.js';
import { sessionIdFor } from './ids.js';
import type { Center, Country } from './masterdata.js';
import type { FairAdmissionSettings, SessionDefinition } from './records.js';

/** What an operator says about a session. */
export interface SessionInput {
  center_id: number;
  /** epoch day */
  date: number;
  vaccine: string;
  min_age_limit: number;
  max_age_limit?: number | undefined;
  allow_all_age?: boolean | undefined;
  capacity_dose1: number;
  capacity_dose2: number;
  /** per-slot capacity (dose 1 and 2 together), in slot order; default: the total spread evenly */
  slot_capacity?: number[] | undefined;
  /** booking opens at this instant (ms); default: at once */
  opens_at?: number | undefined;
  /** a closed session takes no bookings but keeps its appointments */
  status?: 'open' | 'closed' | undefined;
  /** open through the queue (engine/fair-admission.ts); default: the country's `rules.fair_admission.enabled` */
  fair_admission?: boolean | undefined;
  /** with fair admission: the pre-queue opens this many minutes before opens_at; default the country's */
  prequeue_minutes?: number | undefined;
  /** with fair admission: places admitted per second; default the country's */
  admission_rate?: number | undefined;
}

// the stored layout of a session (its definition and the hash around it) is engine/records.ts's
export type { FairAdmissionSettings, SessionDefinition, SessionState } from './records.js';

export class SessionInputError extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'SessionInputError';
  }
}

function evenSplit(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  const extra = total - base * parts;
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0));
}

/** Validate a session against the master data and compute its id and stored definition. */
export function defineSession(country: Country, input: SessionInput): { sessionId: string; definition: SessionDefinition } {
  const center = country.centersById.get(input.center_id);
  if (!center) throw new SessionInputError('center_id', `${input.center_id} is not a centre`);
  const vaccine = country.vaccinesByName.get(input.vaccine);
  if (!vaccine) throw new SessionInputError('vaccine', `${input.vaccine} is not a vaccine`);
  if (!Number.isInteger(input.date)) throw new SessionInputError('date', 'expected a date');
  for (const field of ['capacity_dose1', 'capacity_dose2', 'min_age_limit'] as const) {
    if (!Number.isInteger(input[field]) || input[field] < 0 || input[field] > 1_000_000) {
      throw new SessionInputError(field, 'expected a whole number from 0 to 1000000');
    }
  }
  if (input.min_age_limit < vaccine.min_age) {
    throw new SessionInputError('min_age_limit', `${vaccine.name} is given from age ${vaccine.min_age}, so the limit cannot be below it`);
  }
  const maxAge = input.max_age_limit ?? -1;
  if (!Number.isInteger(maxAge) || (maxAge >= 0 && maxAge < input.min_age_limit)) {
    throw new SessionInputError('max_age_limit', 'must be a whole number not below min_age_limit');
  }
  const slots = country.slotsOf(center);
  const total = input.capacity_dose1 + input.capacity_dose2;
  const slotCaps = input.slot_capacity ?? evenSplit(total, slots.length);
  if (slotCaps.length !== slots.length || slotCaps.some((c) => !Number.isInteger(c) || c < 0)) {
    throw new SessionInputError('slot_capacity', `expected ${slots.length} whole numbers, one per slot`);
  }
  const fair = fairAdmissionOf(country, input);
  const tz = country.timeZone;
  const definition: SessionDefinition = {
    center_id: center.center_id,
    district_id: center.district_id,
    date: input.date,
    year: yearOf(input.date),
    vaccine: vaccine.name,
    min_age: input.min_age_limit,
    max_age: maxAge,
    allow_all_age: input.allow_all_age ? 1 : 0,
    cap1: input.capacity_dose1,
    cap2: input.capacity_dose2,
    slots,
    slot_caps: slotCaps,
    opens_at: input.opens_at ?? 0,
    cutoff_at: localInstant(input.date, country.rules.booking_cutoff_hour * 60, tz),
    day_start: localInstant(input.date, 0, tz),
    day_end: localInstant(input.date + 1, 0, tz),
    // -1, like max_age's "none": lua/includes/eligibility.lua refuses the dose a schedule lacks
    dose2_after: vaccine.doses === 1 ? -1 : vaccine.dose2_after_days ?? -1,
    precaution_after: vaccine.precaution_after_days ?? -1,
    status: input.status ?? 'open',
    // only when on: every other session's definition keeps its exact text (a republish is unchanged)
    ...(fair ? { fair } : {}),
  };
  return { sessionId: sessionIdFor(center.center_id, input.date, vaccine.name, input.min_age_limit), definition };
}

/** A session's fair admission settings: what its publication says, the country's defaults for the rest. */
function fairAdmissionOf(country: Country, input: SessionInput): FairAdmissionSettings | undefined {
  const defaults = country.rules.fair_admission;
  const on = input.fair_admission ?? defaults.enabled;
  if (!on) {
    for (const field of ['prequeue_minutes', 'admission_rate'] as const) {
      if (input[field] !== undefined) throw new SessionInputError(field, 'only with fair_admission: true');
    }
    return undefined;
  }
  const prequeueMinutes = input.prequeue_minutes ?? defaults.prequeue_minutes;
  if (!Number.isInteger(prequeueMinutes) || prequeueMinutes < 0 || prequeueMinutes > 1440) {
    throw new SessionInputError('prequeue_minutes', 'expected a whole number of minutes from 0 to 1440');
  }
  const rate = input.admission_rate ?? defaults.admission_rate;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0 || rate > 100_000) {
    throw new SessionInputError('admission_rate', 'expected places per second, above 0 and at most 100000');
  }
  return {
    prequeue_ms: prequeueMinutes * 60_000,
    rate,
    admission_ms: defaults.admission_seconds * 1000,
    grace_ms: defaults.grace_seconds * 1000,
  };
}

/** The sessions the country file's plans give for `days` days from `fromDay`. */
export function plannedSessions(country: Country, fromDay: number, days: number): SessionInput[] {
  const inputs: SessionInput[] = [];
  for (let day = fromDay; day < fromDay + days; day++) {
    // epoch day 0 (1970-01-01) was a Thursday
    const weekday = (day + 4) % 7;
    for (const center of country.data.centers) {
      for (const plan of center.sessions) {
        if (plan.weekdays && !plan.weekdays.includes(weekday)) continue;
        inputs.push({
          center_id: center.center_id,
          date: day,
          vaccine: plan.vaccine,
          min_age_limit: plan.min_age_limit,
          max_age_limit: plan.max_age_limit,
          allow_all_age: plan.allow_all_age,
          capacity_dose1: plan.capacity_dose1,
          capacity_dose2: plan.capacity_dose2,
        });
      }
    }
  }
  return inputs;
}

/**
 * The capacity bucket a dose draws from: dose 1 its own, dose 2 and the precaution dose share the
 * second (as lua/includes/capacityBucket.lua).
 */
export function capacityBucket(dose: number): 1 | 2 {
  return dose === 1 ? 1 : 2;
}

/** Label for logs and errors: `centre 123 on 27-11-2026 (COVISHIELD 18+)` */
export function describeSession(center: Center, s: Pick<SessionDefinition, 'date' | 'vaccine' | 'min_age'>): string {
  return `${center.name} on ${formatCowinDate(s.date)} (${s.vaccine} ${s.min_age}+)`;
}
