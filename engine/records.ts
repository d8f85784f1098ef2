/**
 * The layout of every Redis record outside Lua: each hash and stream entry teeka keeps, encoded and
 * decoded here and nowhere else (as engine/keys.ts owns the key names). The Lua scripts in lua/ write
 * the same layouts; when a script changes a field, this file changes with it, and
 * test/engine/records.test.ts decodes what the real scripts write to prove the two agree.
 *
 * Who writes what in Lua:
 * - session hash (`keys.session`): publishSession-4.lua (definition, capacities, `slotcap:<slot>`,
 *   `slotbooked:<slot>`, version); the seat counters `booked1`, `booked2`, `slotbooked:<slot>` by
 *   a booking (includes/booking.lua: bookAppointment-6, bookAppointments-n), cancelAppointment-5 and
 *   rescheduleAppointment-6. Read in Lua by
 *   includes/readSession.lua.
 * - account hash (`keys.account`): addBeneficiary-4.lua (`created_at`, `ben_count`, `ben:<id>` JSON),
 *   deleteBeneficiary-3.lua; the `appt<dose>` / `appt<dose>_day` pointers of `ben:<id>` by booking,
 *   cancel and reschedule; `dose<n>`, `vaccine`, `version` by includes/vaccination.lua
 *   (markVaccinated-6, and recordVaccination-5 in the partitioned layout). Checked in Lua by
 *   includes/eligibility.lua.
 * - appointment hash (`keys.appointment`): includes/booking.lua (`bens`, `status:<id>`, `code:<id>`,
 *   version 1); cancelAppointment-5, rescheduleAppointment-6, markVaccinated-6 (`code_tries` too).
 *   Read in Lua by includes/appointmentState.lua.
 * - operator hash (`keys.operator`): issueOperator-3.lua, revokeOperator-3.lua; an operator's login
 *   session (`keys.operatorSession`): openOperatorSession-2.lua.
 * - certificate hash (`keys.certificate`, `keys.partitionCertificate`) and a beneficiary's
 *   certificates by dose (`keys.beneficiaryCertificates`, `AccountKeys.beneficiaryCertificates`):
 *   includes/vaccination.lua (markVaccinated-6, recordVaccination-5); revokeCertificate-3.lua.
 * - outbox entry (`keys.outbox`): includes/appendOutbox.lua (`id`, `kind`, `data` JSON), from every
 *   booking-domain script; the shape of each kind's `data` is checked by `parseOutboxEntry`. The
 *   `access` kind is written by engine/access-log.ts's scripts, in the same layout; a citizen's
 *   accepted booking carries its access log entry inside its `appointment` entry instead
 *   (`accessEntriesOf` reads both).
 * - dead letter (`keys.outboxDeadLetters`): setAsideOutboxEntries-2.lua.
 * - availability entry (`keys.availability`): includes/publishAvailability.lua.
 * - login revocation entry (`keys.loginRevocations`): includes/revokeLogin.lua.
 * - the partitioned booking (engine/partitioned-booking.md): the session's facts passed to the
 *   account's partition (includes/sessionFacts.lua), the appointment's extra fields
 *   (includes/heldAppointment.lua: pending, claim, move, `release:<n>`), claims (`keys.claim`:
 *   takeSeats-4, decide-1, releaseSeats-3).
 * Written only from TypeScript: the worker's queue depth (`keys.workerQueueDepth`), here too.
 *
 * Decoding is strict: a field a script always writes that is missing or not of its type throws
 * MalformedRecord naming the record and the field, instead of reading as 0 or ''. A field a script
 * writes only sometimes (`code:<id>` before security codes existed, `code_tries` before a wrong code,
 * `revoked_at`) is optional and typed so.
 *
 * Numbers: Lua hands numbers to Redis formatted with "%.14g"; every number stored is a whole number
 * below 10^14, which that prints exactly as String() does, so encoders here use String().
 */
import { z } from 'zod';
import { ACCESS_ACTOR_KINDS } from './access-log.js';

/** A record that no script (and no encoder here) could have written. */
export class MalformedRecord extends Error {
  constructor(
    /** which record, e.g. `session hash 123-…` */
    readonly record: string,
    reason: string,
  ) {
    super(`${record}: ${reason}`);
    this.name = 'MalformedRecord';
  }
}

// ---------------------------------------------------------------- field readers

const WHOLE = /^-?\d{1,16}$/;

/** Reads the fields of one hash (or stream entry), naming the record in every complaint. */
export class Fields {
  constructor(
    private readonly what: string,
    private readonly values: Record<string, string | undefined>,
  ) {}

  text(field: string): string {
    const value = this.values[field];
    if (value === undefined) throw new MalformedRecord(this.what, `field "${field}" is missing`);
    return value;
  }

  optionalText(field: string): string | undefined {
    return this.values[field];
  }

  int(field: string): number {
    return this.wholeNumber(field, this.text(field));
  }

  optionalInt(field: string): number | undefined {
    const value = this.values[field];
    return value === undefined ? undefined : this.wholeNumber(field, value);
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    const value = this.text(field);
    if (!(allowed as readonly string[]).includes(value)) {
      throw new MalformedRecord(this.what, `field "${field}" is "${value}", expected one of ${allowed.join(', ')}`);
    }
    return value as T;
  }

  private wholeNumber(field: string, value: string): number {
    if (!WHOLE.test(value)) throw new MalformedRecord(this.what, `field "${field}" is "${value}", expected a whole number`);
    return Number(value);
  }
}

/** A stream entry's fields (name, value, name, value, …) as an object. */
export function streamFields(fields: readonly string[]): Record<string, string> {
  const entry: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
  return entry;
}

/** A JSON text checked against a schema; the first problem is named with its path. */
function parseJson<T>(what: string, text: string, schema: z.ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MalformedRecord(what, 'not JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new MalformedRecord(what, `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

const int = z.number().int();
const ms = int.nonnegative();
const epochDay = int.nonnegative();
const beneficiaryId = z.string().regex(/^\d{1,18}$/);

// ---------------------------------------------------------------- session hash

/** The stored definition, field for field as publishSession-4.lua expects it (order is fixed). */
export interface SessionDefinition {
  center_id: number;
  district_id: number;
  date: number;
  year: number;
  vaccine: string;
  min_age: number;
  max_age: number;
  allow_all_age: 0 | 1;
  cap1: number;
  cap2: number;
  slots: string[];
  slot_caps: number[];
  opens_at: number;
  cutoff_at: number;
  day_start: number;
  day_end: number;
  /** minimum days from dose 1 to dose 2; -1 for a single-dose vaccine (it has no dose 2) */
  dose2_after: number;
  /** minimum days from the last primary dose to the precaution dose; -1 when the vaccine has none */
  precaution_after: number;
  status: 'open' | 'closed';
  /**
   * present only for a session under fair admission (engine/fair-admission.ts), so the definition of
   * every other session stays byte for byte what it was
   */
  fair?: FairAdmissionSettings;
}

/** A session's fair admission settings, as its definition stores them. */
export interface FairAdmissionSettings {
  /** the pre-queue opens this long before `opens_at` */
  prequeue_ms: number;
  /** places admitted per second */
  rate: number;
  /** how long an admission stays usable */
  admission_ms: number;
  /** a waiting place not seen for this long after the opening is skipped at its turn; 0 never */
  grace_ms: number;
}

/** A session as stored in Redis: its definition plus what is booked. */
export interface SessionState extends SessionDefinition {
  session_id: string;
  booked1: number;
  booked2: number;
  /** seats booked per slot, in the definition's slot order */
  slot_booked: number[];
  version: number;
}

const sessionDefinitionSchema = z
  .object({
    center_id: int,
    district_id: int,
    date: epochDay,
    year: int,
    vaccine: z.string().min(1),
    min_age: int,
    max_age: int,
    allow_all_age: z.union([z.literal(0), z.literal(1)]),
    cap1: int.nonnegative(),
    cap2: int.nonnegative(),
    slots: z.array(z.string().min(1)).min(1),
    slot_caps: z.array(int.nonnegative()),
    opens_at: ms,
    cutoff_at: ms,
    day_start: ms,
    day_end: ms,
    dose2_after: int,
    precaution_after: int,
    status: z.enum(['open', 'closed']),
    fair: z.object({ prequeue_ms: ms, rate: z.number().positive(), admission_ms: ms, grace_ms: ms }).optional(),
  })
  .refine((d) => d.slot_caps.length === d.slots.length, { message: 'one slot capacity per slot', path: ['slot_caps'] });

/** A session definition as stored (the hash's `definition` field, PostgreSQL's `sessions.definition`). */
export function decodeSessionDefinition(what: string, json: string): SessionDefinition {
  return parseJson(what, json, sessionDefinitionSchema) as SessionDefinition;
}

/** cjson.encode escapes "/" (JSON.stringify does not); the session's `slots` field is written by cjson. */
const cjsonArray = (items: string[]) => JSON.stringify(items).replace(/\//g, '\\/');

/**
 * The session hash's fields and values as publishSession-4.lua writes them, with the seat counters
 * given (counted from appointments by a rebuild). `definitionJson` is kept byte for byte: publishing
 * the same definition again is recognised as unchanged by comparing the text.
 */
export function encodeSessionHash(
  definitionJson: string,
  seats: { booked1: number; booked2: number; slotBooked: (slot: string) => number },
  version: number,
): string[] {
  const d = decodeSessionDefinition('session definition', definitionJson);
  const fields: string[] = [
    'definition', definitionJson,
    'center_id', String(d.center_id), 'district_id', String(d.district_id), 'date', String(d.date),
    'year', String(d.year), 'vaccine', d.vaccine, 'min_age', String(d.min_age),
    'max_age', String(d.max_age), 'allow_all_age', String(d.allow_all_age),
    'cap1', String(d.cap1), 'cap2', String(d.cap2),
    'booked1', String(seats.booked1), 'booked2', String(seats.booked2),
    'slots', cjsonArray(d.slots), 'opens_at', String(d.opens_at), 'cutoff_at', String(d.cutoff_at),
    'day_start', String(d.day_start), 'day_end', String(d.day_end), 'dose2_after', String(d.dose2_after),
    'precaution_after', String(d.precaution_after), 'status', d.status,
  ]; // prettier-ignore
  d.slots.forEach((slot, i) => fields.push(`slotcap:${slot}`, String(d.slot_caps[i]!), `slotbooked:${slot}`, String(seats.slotBooked(slot))));
  fields.push('version', String(version));
  return fields;
}

/** A session hash (HGETALL) as its state; null when the hash is empty (no such session). */
export function decodeSessionHash(sessionId: string, hash: Record<string, string>): SessionState | null {
  return decodeStoredSession(sessionId, hash)?.state ?? null;
}

/** A session hash as its state and its definition's text as stored (what PostgreSQL must hold byte for byte). */
export function decodeStoredSession(sessionId: string, hash: Record<string, string>): { state: SessionState; definitionJson: string } | null {
  if (Object.keys(hash).length === 0) return null;
  const what = `session hash ${sessionId}`;
  const fields = new Fields(what, hash);
  const definitionJson = fields.text('definition');
  const definition = decodeSessionDefinition(`${what}, field "definition"`, definitionJson);
  const state: SessionState = {
    ...definition,
    session_id: sessionId,
    booked1: fields.int('booked1'),
    booked2: fields.int('booked2'),
    slot_booked: definition.slots.map((label) => fields.int(`slotbooked:${label}`)),
    version: fields.int('version'),
  };
  return { state, definitionJson };
}

// ---------------------------------------------------------------- account hash and its beneficiaries

/** A beneficiary as stored in the account hash (`ben:<id>`, JSON written by cjson in the scripts). */
export interface StoredBeneficiary {
  id: string;
  name: string;
  birth_year: number;
  gender_id: number;
  photo_id_type: number;
  photo_id_last4: string;
  photo_id_hash: string;
  comorbidity: 'Y' | 'N';
  consent_version: string;
  registered_at: number;
  version: number;
  vaccine: string;
  /** the epoch day each dose was given, 0 when not */
  dose1: number;
  dose2: number;
  dose3: number;
  /** the live appointment of each dose ('' when none) and its day (0 when none) */
  appt1: string;
  appt2: string;
  appt3: string;
  appt1_day: number;
  appt2_day: number;
  appt3_day: number;
}

/** What a beneficiary's record and its outbox change share. */
const beneficiaryBase = z.object({
  id: beneficiaryId,
  name: z.string(),
  birth_year: int,
  gender_id: int,
  photo_id_type: int,
  photo_id_last4: z.string(),
  photo_id_hash: z.string(),
  comorbidity: z.enum(['Y', 'N']),
  consent_version: z.string(),
  registered_at: ms,
  version: int.positive(),
  vaccine: z.string(),
  dose1: epochDay,
  dose2: epochDay,
  dose3: epochDay,
});

const storedBeneficiarySchema = beneficiaryBase.extend({
  photo_id_hash: z.string().min(1),
  appt1: z.string(),
  appt2: z.string(),
  appt3: z.string(),
  appt1_day: epochDay,
  appt2_day: epochDay,
  appt3_day: epochDay,
});

/** The account hash's field holding one beneficiary. */
export const beneficiaryField = (id: string) => `ben:${id}`;
const BENEFICIARY_FIELD = 'ben:';

/** A beneficiary's JSON as stored (`where` names the record in a complaint). */
export function decodeBeneficiary(where: string, json: string): StoredBeneficiary {
  return parseJson(where, json, storedBeneficiarySchema);
}

export function encodeBeneficiary(ben: StoredBeneficiary): string {
  return JSON.stringify(ben);
}

/** An account as stored: when it was made, how many beneficiaries it counts, and them (by id). */
export interface AccountRecord {
  created_at: number;
  ben_count: number;
  beneficiaries: StoredBeneficiary[];
}

/** The account's own fields (its beneficiaries are `beneficiaryField` each). */
export function encodeAccountFields(account: Pick<AccountRecord, 'created_at' | 'ben_count'>): string[] {
  return ['created_at', String(account.created_at), 'ben_count', String(account.ben_count)];
}

/** An account hash (HGETALL); null when empty. Beneficiaries come in registration (id) order. */
export function decodeAccountHash(accountId: string, hash: Record<string, string>): AccountRecord | null {
  if (Object.keys(hash).length === 0) return null;
  const fields = new Fields(`account hash ${accountId}`, hash);
  return { created_at: fields.int('created_at'), ben_count: fields.int('ben_count'), beneficiaries: decodeAccountBeneficiaries(accountId, hash) };
}

/**
 * The beneficiaries of an account hash (its `ben:<id>` fields), by id; the other fields are not read
 * (a partitioned account hash may hold only a registration's tombstone, lua/registerBeneficiary-3.lua).
 */
export function decodeAccountBeneficiaries(accountId: string, hash: Record<string, string>): StoredBeneficiary[] {
  const what = `account hash ${accountId}`;
  return Object.entries(hash)
    .filter(([field]) => field.startsWith(BENEFICIARY_FIELD))
    .map(([field, json]) => {
      const ben = decodeBeneficiary(`${what}, field "${field}"`, json);
      if (field !== beneficiaryField(ben.id)) throw new MalformedRecord(what, `field "${field}" holds beneficiary ${ben.id}`);
      return ben;
    })
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

// ---------------------------------------------------------------- appointment hash

export type BeneficiaryStatus = 'booked' | 'cancelled' | 'vaccinated';
const BENEFICIARY_STATUSES = ['booked', 'cancelled', 'vaccinated'] as const;

export interface Appointment {
  appointment_id: string;
  account_id: string;
  session_id: string;
  slot: string;
  dose: number;
  version: number;
  created_at: number;
  /** `security_code`: the code on the citizen's slip; never shown to a vaccinator */
  beneficiaries: { id: string; status: BeneficiaryStatus; security_code?: string }[];
  /** wrong security codes given so far (locked at the engine's limit) */
  wrong_codes: number;
}

/** The per-beneficiary fields of an appointment hash. */
export const appointmentField = {
  status: (beneficiaryId: string) => `status:${beneficiaryId}`,
  securityCode: (beneficiaryId: string) => `code:${beneficiaryId}`,
} as const;

/** The appointment hash's fields as the booking script writes them (and the later scripts change them). */
export function encodeAppointmentHash(appointment: Appointment): string[] {
  const fields = [
    'account_id', appointment.account_id, 'session_id', appointment.session_id, 'slot', appointment.slot,
    'dose', String(appointment.dose), 'version', String(appointment.version), 'created_at', String(appointment.created_at),
  ]; // prettier-ignore
  for (const ben of appointment.beneficiaries) {
    fields.push(appointmentField.status(ben.id), ben.status);
    if (ben.security_code !== undefined) fields.push(appointmentField.securityCode(ben.id), ben.security_code);
  }
  fields.push('bens', appointment.beneficiaries.map((b) => b.id).join(','));
  if (appointment.wrong_codes > 0) fields.push('code_tries', String(appointment.wrong_codes));
  return fields;
}

/** An appointment hash (HGETALL); null when empty. */
export function decodeAppointmentHash(appointmentId: string, hash: Record<string, string>): Appointment | null {
  if (Object.keys(hash).length === 0) return null;
  const fields = new Fields(`appointment hash ${appointmentId}`, hash);
  const bens = fields.text('bens').split(',');
  if (bens.some((id) => !/^\d{1,18}$/.test(id))) throw new MalformedRecord(`appointment hash ${appointmentId}`, `field "bens" is "${hash.bens}"`);
  return {
    appointment_id: appointmentId,
    account_id: fields.text('account_id'),
    session_id: fields.text('session_id'),
    slot: fields.text('slot'),
    dose: fields.int('dose'),
    version: fields.int('version'),
    created_at: fields.int('created_at'),
    beneficiaries: bens.map((id) => {
      const status = fields.oneOf(appointmentField.status(id), BENEFICIARY_STATUSES);
      const securityCode = fields.optionalText(appointmentField.securityCode(id));
      return securityCode === undefined ? { id, status } : { id, status, security_code: securityCode };
    }),
    wrong_codes: fields.optionalInt('code_tries') ?? 0,
  };
}

// ---------------------------------------------------------------- the partitioned booking (engine/partitioned-booking.md)

/**
 * The session facts a script in the account's partition checks a booking or reschedule against
 * (lua/includes/sessionFacts.lua reads them as includes/readSession.lua's table): the session lives
 * in another partition, so the engine reads it there and passes them. `slot_cap` is -1 for a slot
 * the session does not have. The seats step refuses (SESSION_CHANGED) if `version` is not current.
 */
export function encodeSessionFacts(session: SessionState, slot: string): string {
  const slotIndex = session.slots.indexOf(slot);
  return JSON.stringify({
    center_id: session.center_id,
    date: session.date,
    year: session.year,
    vaccine: session.vaccine,
    min_age: session.min_age,
    max_age: session.max_age,
    allow_all_age: session.allow_all_age,
    opens_at: session.opens_at,
    cutoff_at: session.cutoff_at,
    day_start: session.day_start,
    day_end: session.day_end,
    dose2_after: session.dose2_after,
    precaution_after: session.precaution_after,
    status: session.status,
    version: session.version,
    slot_cap: slotIndex === -1 ? -1 : session.slot_caps[slotIndex]!,
  });
}

const pendingMoveSchema = z.object({
  n: int.positive(),
  session_id: z.string().min(1),
  slot: z.string().min(1),
  claim: z.string().min(1),
  count: int.positive(),
  center_id: int,
  date: epochDay,
  day_start: ms,
  day_end: ms,
  version: int.positive(),
});
const owedSeatsSchema = z.object({ session_id: z.string().min(1), claim: z.string().min(1), count: int.positive() });

/** A reschedule waiting for its seats in the new session (the appointment's `move` field, beginMove-3.lua). */
export type PendingMove = z.infer<typeof pendingMoveSchema>;
/** Seats a cancel or reschedule owes back to a session (the appointment's `release:<n>` field). */
export type OwedSeats = z.infer<typeof owedSeatsSchema>;

/**
 * What the partitioned booking keeps on an appointment beside the single-slot layout
 * (lua/includes/heldAppointment.lua): whether a booking or a reschedule of it is pending, the claim
 * holding its seats, the client's idempotency key, the session's version the hold checked against,
 * a pending move, and the seats owed back per change number.
 */
export interface HeldAppointment {
  appointment: Appointment;
  pending: 'book' | 'move' | null;
  claim: string;
  idempotencyKey: string;
  sessionVersion: number;
  /** the session's date (epoch day): a booked appointment of a past day no longer counts as live */
  date: number;
  move: PendingMove | null;
  owed: Map<number, OwedSeats>;
}

/** An appointment hash of the partitioned layout (HGETALL); null when empty. */
export function decodeHeldAppointment(appointmentId: string, hash: Record<string, string>): HeldAppointment | null {
  const appointment = decodeAppointmentHash(appointmentId, hash);
  if (!appointment) return null;
  const what = `appointment hash ${appointmentId}`;
  const fields = new Fields(what, hash);
  const pending = hash.pending === undefined ? null : fields.oneOf('pending', ['book', 'move'] as const);
  const owed = new Map<number, OwedSeats>();
  for (const [field, value] of Object.entries(hash)) {
    const match = /^release:(\d+)$/.exec(field);
    if (match) owed.set(Number(match[1]), parseJson(`${what}, field "${field}"`, value, owedSeatsSchema));
  }
  return {
    appointment,
    pending,
    claim: fields.text('claim'),
    idempotencyKey: fields.text('idem'),
    sessionVersion: fields.int('session_version'),
    date: fields.int('date'),
    move: hash.move === undefined ? null : parseJson(`${what}, field "move"`, hash.move, pendingMoveSchema),
    owed,
  };
}

/**
 * The fields a decided appointment of the partitioned layout keeps beside encodeAppointmentHash's
 * (lua/includes/heldAppointment.lua), as a rebuild lays it out: no step pending, no idempotency key,
 * its seats held under the claim named by its own id, and the session's facts cancel, reschedule and
 * the vaccinator's action check (holdAppointment-4.lua copies them when booking).
 */
export function encodeDecidedAppointmentFields(appointmentId: string, session: SessionDefinition, sessionVersion: number): string[] {
  return [
    'claim', appointmentId, 'idem', '', 'center_id', String(session.center_id), 'date', String(session.date),
    'day_start', String(session.day_start), 'day_end', String(session.day_end), 'session_version', String(sessionVersion),
  ]; // prettier-ignore
}

/** A taken claim's fields as takeSeats-4.lua writes them (`available_after`: what a replay answers). */
export function encodeTakenClaim(claim: { bookingId: string; sessionId: string; slot: string; dose: number; seats: number; availableAfter: number; at: number }): string[] {
  return [
    'state', 'taken', 'booking_id', claim.bookingId, 'session_id', claim.sessionId, 'slot', claim.slot, 'dose', String(claim.dose),
    'seats', String(claim.seats), 'available_after', String(claim.availableAfter), 'at', String(claim.at),
  ]; // prettier-ignore
}

export type ClaimState = 'taken' | 'refused' | 'aborted';

/** A claim (`keys.claim`): the seats one booking step holds in a session, or why it holds none. */
export interface Claim {
  state: ClaimState;
  /** taken: where and how many seats it still holds */
  session_id?: string;
  slot?: string;
  dose?: number;
  seats?: number;
  /** refused: the status takeSeats refused with */
  status?: number;
}

/** A claim hash (HGETALL); null when empty (no step ran for the booking). */
export function decodeClaim(bookingId: string, hash: Record<string, string>): Claim | null {
  if (Object.keys(hash).length === 0) return null;
  const fields = new Fields(`claim ${bookingId}`, hash);
  const state = fields.oneOf('state', ['taken', 'refused', 'aborted'] as const);
  if (state === 'taken') {
    return { state, session_id: fields.text('session_id'), slot: fields.text('slot'), dose: fields.int('dose'), seats: fields.int('seats') };
  }
  return state === 'refused' ? { state, status: fields.int('status') } : { state };
}

// ---------------------------------------------------------------- operator hash

/** An operator hash, field for field as issueOperator-3.lua and revokeOperator-3.lua write it. */
export interface OperatorHash {
  role: 'vaccinator' | 'admin';
  /** comma-separated centre ids, '' for an admin */
  centers: string;
  secret_hash: string;
  status: 'active' | 'revoked';
  issued_at: number;
  issued_by: string;
  version: number;
  revoked_at?: number;
  revoked_by?: string;
}

export function encodeOperatorHash(operator: OperatorHash): string[] {
  const fields = [
    'role', operator.role, 'centers', operator.centers, 'secret_hash', operator.secret_hash, 'status', operator.status,
    'issued_at', String(operator.issued_at), 'issued_by', operator.issued_by, 'version', String(operator.version),
  ]; // prettier-ignore
  if (operator.revoked_at !== undefined) fields.push('revoked_at', String(operator.revoked_at), 'revoked_by', operator.revoked_by ?? '');
  return fields;
}

export function decodeOperatorHash(operatorId: string, hash: Record<string, string>): OperatorHash | null {
  if (Object.keys(hash).length === 0) return null;
  const fields = new Fields(`operator hash ${operatorId}`, hash);
  const operator: OperatorHash = {
    role: fields.oneOf('role', ['vaccinator', 'admin'] as const),
    centers: fields.text('centers'),
    secret_hash: fields.text('secret_hash'),
    status: fields.oneOf('status', ['active', 'revoked'] as const),
    issued_at: fields.int('issued_at'),
    issued_by: fields.text('issued_by'),
    version: fields.int('version'),
  };
  const revokedAt = fields.optionalInt('revoked_at');
  if (revokedAt !== undefined) {
    operator.revoked_at = revokedAt;
    operator.revoked_by = fields.text('revoked_by');
  }
  return operator;
}

/** An operator's live login session (openOperatorSession-2.lua); deleting it revokes the token. */
export interface OperatorSessionHash {
  sid: string;
  role: 'vaccinator' | 'admin';
  /** comma-separated centre ids, '' for an admin */
  centers: string;
  /** when it opened, ms */
  since: number;
}

export function decodeOperatorSessionHash(operatorId: string, hash: Record<string, string>): OperatorSessionHash | null {
  if (Object.keys(hash).length === 0) return null;
  const fields = new Fields(`operator login session ${operatorId}`, hash);
  return { sid: fields.text('sid'), role: fields.oneOf('role', ['vaccinator', 'admin'] as const), centers: fields.text('centers'), since: fields.int('since') };
}

// ---------------------------------------------------------------- certificate hash

export interface CertificateRecord {
  certificateId: string;
  beneficiaryId: string;
  accountId: string;
  appointmentId: string;
  dose: number;
  vaccine: string;
  /** vaccination day, epoch day */
  date: number;
  centerId: number;
  kid: string;
  rid: string;
  jws: string;
  issuedAt: number;
  issuedBy: string;
  status: 'issued' | 'revoked';
  revokedAt?: number;
  revokedBy?: string;
  revocationReason?: string;
  version: number;
}

/** The certificate hash, field for field as includes/vaccination.lua and revokeCertificate-3.lua write it. */
export function encodeCertificateHash(c: CertificateRecord): string[] {
  const fields = [
    'certificate_id', c.certificateId, 'beneficiary_id', c.beneficiaryId, 'account_id', c.accountId,
    'appointment_id', c.appointmentId, 'dose', String(c.dose), 'vaccine', c.vaccine, 'date', String(c.date),
    'center_id', String(c.centerId), 'kid', c.kid, 'rid', c.rid, 'jws', c.jws, 'issued_at', String(c.issuedAt),
    'issued_by', c.issuedBy, 'status', c.status, 'version', String(c.version),
  ]; // prettier-ignore
  if (c.revokedAt !== undefined) fields.push('revoked_at', String(c.revokedAt), 'revoked_by', c.revokedBy ?? '', 'revocation_reason', c.revocationReason ?? '');
  return fields;
}

export function decodeCertificateHash(certificateId: string, hash: Record<string, string>): CertificateRecord | null {
  if (Object.keys(hash).length === 0) return null;
  const fields = new Fields(`certificate hash ${certificateId}`, hash);
  const record: CertificateRecord = {
    certificateId: fields.text('certificate_id'),
    beneficiaryId: fields.text('beneficiary_id'),
    accountId: fields.text('account_id'),
    appointmentId: fields.text('appointment_id'),
    dose: fields.int('dose'),
    vaccine: fields.text('vaccine'),
    date: fields.int('date'),
    centerId: fields.int('center_id'),
    kid: fields.text('kid'),
    rid: fields.text('rid'),
    jws: fields.text('jws'),
    issuedAt: fields.int('issued_at'),
    issuedBy: fields.text('issued_by'),
    status: fields.oneOf('status', ['issued', 'revoked'] as const),
    version: fields.int('version'),
  };
  if (record.certificateId !== certificateId) throw new MalformedRecord(`certificate hash ${certificateId}`, `holds certificate ${record.certificateId}`);
  const revokedAt = fields.optionalInt('revoked_at');
  if (revokedAt !== undefined) {
    record.revokedAt = revokedAt;
    record.revokedBy = fields.text('revoked_by');
    record.revocationReason = fields.text('revocation_reason');
  }
  return record;
}

/** A beneficiary's certificates hash: dose → certificate id. */
export function encodeBeneficiaryCertificate(dose: number, certificateId: string): [string, string] {
  return [String(dose), certificateId];
}

export function decodeBeneficiaryCertificates(beneficiaryId: string, hash: Record<string, string>): Map<number, string> {
  const byDose = new Map<number, string>();
  const fields = new Fields(`certificates of beneficiary ${beneficiaryId}`, hash);
  for (const dose of Object.keys(hash)) {
    if (!/^[1-9]$/.test(dose)) throw new MalformedRecord(`certificates of beneficiary ${beneficiaryId}`, `field "${dose}" is not a dose`);
    byDose.set(Number(dose), fields.text(dose));
  }
  return byDose;
}

// ---------------------------------------------------------------- availability stream entry

/** One change of a session's seats (includes/publishAvailability.lua). */
export interface AvailabilityEntry {
  sessionId: string;
  districtId: number;
  /** seats left in dose bucket 1 and bucket 2 */
  available1: number;
  available2: number;
  /** the session's definition version: a reader holding another one reads the session again */
  version: number;
  /** seats left in each slot whose counter changed (none when the definition did) */
  slotsLeft: Map<string, number>;
}

const SLOT_FIELD = 'slot:';

export function decodeAvailabilityEntry(entryId: string, fields: readonly string[]): AvailabilityEntry {
  const entry = streamFields(fields);
  const read = new Fields(`availability entry ${entryId}`, entry);
  const slotsLeft = new Map<string, number>();
  for (const field in entry) if (field.startsWith(SLOT_FIELD)) slotsLeft.set(field.slice(SLOT_FIELD.length), read.int(field));
  return {
    sessionId: read.text('s'),
    districtId: read.int('d'),
    available1: read.int('a1'),
    available2: read.int('a2'),
    version: read.int('v'),
    slotsLeft,
  };
}

// ---------------------------------------------------------------- login revocation stream entry

/** A login session that ended before its tokens expire, and for a block the account and its end (includes/revokeLogin.lua). */
export interface LoginRevocationEntry {
  sid: string;
  /** when, ms (the engine's clock) */
  at: number;
  block?: { accountId: string; until: number };
}

export function decodeLoginRevocationEntry(entryId: string, fields: readonly string[]): LoginRevocationEntry {
  const read = new Fields(`login revocation entry ${entryId}`, streamFields(fields));
  const revocation: LoginRevocationEntry = { sid: read.text('s'), at: read.int('t') };
  const accountId = read.optionalText('a');
  if (accountId !== undefined) revocation.block = { accountId, until: read.int('b') };
  return revocation;
}

// ---------------------------------------------------------------- outbox entry

const accountChange = z.object({ account_id: z.string().min(1), created_at: ms });

const beneficiaryChange = beneficiaryBase.extend({ account_id: z.string().min(1), deleted_at: ms.optional() });

const sessionChange = z.object({
  session_id: z.string().min(1),
  version: int.positive(),
  at: ms,
  // the exact text the session hash holds; every other column is read from it
  definition_json: z.string().min(2),
});

const appointmentChange = z.object({
  appointment_id: z.string().min(1),
  account_id: z.string().min(1),
  session_id: z.string().min(1),
  slot: z.string().min(1),
  dose: int.min(1).max(3),
  version: int.positive(),
  action: z.enum(['booked', 'cancelled', 'rescheduled', 'vaccinated']),
  at: ms,
  created_at: ms,
  beneficiaries: z
    .array(
      z.object({
        id: beneficiaryId,
        status: z.enum(BENEFICIARY_STATUSES),
        // absent in entries written before security codes existed
        security_code: z.string().regex(/^\d{4}$/).optional(),
      }),
    )
    .min(1),
  expired: z.array(z.object({ appointment_id: z.string().min(1), beneficiary_id: beneficiaryId })).optional(),
  // a citizen's accepted booking: the call's route and address, for its access log entry
  // (includes/booking.lua; engine/access-log.ts bookingAccessEntry)
  access: z.strictObject({ route: z.string().regex(/^[A-Z]+ \/\S*$/).max(200), address: z.string().max(100) }).optional(),
});

const operatorChange = z.object({
  operator_id: z.string().min(1),
  role: z.enum(['vaccinator', 'admin']),
  // comma-separated centre ids, '' for an admin (as the operator hash keeps them)
  centers: z.string().regex(/^(\d+(,\d+)*)?$/),
  secret_hash: z.string().min(1),
  status: z.enum(['active', 'revoked']),
  issued_at: ms,
  issued_by: z.string(),
  revoked_at: ms.optional(),
  revoked_by: z.string().optional(),
  version: int.positive(),
  at: ms,
});

const certificateChange = z.object({
  certificate_id: z.string().min(1),
  beneficiary_id: beneficiaryId,
  account_id: z.string().min(1),
  appointment_id: z.string().min(1),
  dose: int.min(1).max(3),
  vaccine: z.string().min(1),
  date: epochDay,
  center_id: int.positive(),
  kid: z.string().min(1),
  rid: z.string().regex(/^[A-Za-z0-9_-]{1,24}$/),
  jws: z.string().min(1),
  issued_at: ms,
  issued_by: z.string(),
  status: z.enum(['issued', 'revoked']),
  revoked_at: ms.optional(),
  revoked_by: z.string().optional(),
  revocation_reason: z.string().optional(),
  version: int.positive(),
});

/** An access log entry (engine/access-log.ts), appended by the gateway, not by a script. */
const accessChange = z.strictObject({
  at: ms,
  actor_kind: z.enum(ACCESS_ACTOR_KINDS),
  actor: z.string().max(200),
  partner: z.string().max(100),
  address: z.string().max(100),
  method: z.string().max(10),
  route: z.string().max(200),
  objects: z.array(z.string().max(200)).max(1000),
  status: int.min(100).max(599),
});

export type AccountChange = z.infer<typeof accountChange>;
export type BeneficiaryChange = z.infer<typeof beneficiaryChange>;
export type SessionChange = z.infer<typeof sessionChange>;
export type AppointmentChange = z.infer<typeof appointmentChange>;
export type OperatorChange = z.infer<typeof operatorChange>;
export type CertificateChange = z.infer<typeof certificateChange>;
export type AccessChange = z.infer<typeof accessChange>;

interface EventBase {
  /** the stream entry id, e.g. `1764230400000-0` */
  streamId: string;
  /** the change's own id, `<kind>:<entity id>:<version>`: the same however often the entry is read */
  eventId: string;
  /** the JSON text the script wrote, kept as is for the audit log */
  raw: string;
}

export type OutboxEvent =
  | (EventBase & { kind: 'account'; change: AccountChange })
  | (EventBase & { kind: 'beneficiary'; change: BeneficiaryChange })
  | (EventBase & { kind: 'session'; change: SessionChange })
  | (EventBase & { kind: 'appointment'; change: AppointmentChange })
  | (EventBase & { kind: 'operator'; change: OperatorChange })
  | (EventBase & { kind: 'certificate'; change: CertificateChange })
  | (EventBase & { kind: 'access'; change: AccessChange });

/** An entry no booking script could have written: retrying cannot help, so it is set aside (worker/dead-letter.ts). */
export class MalformedOutboxEntry extends MalformedRecord {
  constructor(
    readonly streamId: string,
    reason: string,
  ) {
    super(`outbox entry ${streamId}`, reason);
    this.name = 'MalformedOutboxEntry';
  }
}

const OUTBOX_SCHEMAS = {
  account: accountChange,
  beneficiary: beneficiaryChange,
  session: sessionChange,
  appointment: appointmentChange,
  operator: operatorChange,
  certificate: certificateChange,
  access: accessChange,
};

export type StreamEntry = [id: string, fields: string[]];

/** The outbox entry's own id and kind, whatever its data holds (what a dead letter keeps of it). */
export function outboxEntryHeader(fields: readonly string[]): { eventId: string; kind: string } {
  const entry = streamFields(fields);
  return { eventId: entry.id ?? '', kind: entry.kind ?? '' };
}

export function parseOutboxEntry([streamId, fields]: StreamEntry): OutboxEvent {
  const { id: eventId, kind, data: raw } = streamFields(fields);
  if (!eventId || !kind || raw === undefined) throw new MalformedOutboxEntry(streamId, 'missing id, kind or data');
  if (!(kind in OUTBOX_SCHEMAS)) throw new MalformedOutboxEntry(streamId, `unknown kind "${kind}"`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new MalformedOutboxEntry(streamId, 'data is not JSON');
  }
  const parsed = OUTBOX_SCHEMAS[kind as keyof typeof OUTBOX_SCHEMAS].safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new MalformedOutboxEntry(streamId, `${kind} ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { streamId, eventId, raw, kind, change: parsed.data } as OutboxEvent;
}

// ---------------------------------------------------------------- dead letter

/** An entry in the dead-letter stream (setAsideOutboxEntries-2.lua). */
export interface DeadLetter {
  /** its id in the dead-letter stream: when it was set aside, by the Redis clock */
  id: string;
  outboxId: string;
  /** `<kind>:<entity id>:<version>`, as the booking script wrote it */
  eventId: string;
  kind: string;
  code: string;
  error: string;
  detail: string;
  /** the outbox entry's fields as read: name, value, name, value, … */
  entry: string[];
}

/** The set-aside entry's fields as JSON: escaped, a NUL or a lone surrogate in them survives the trip intact. */
export function encodeDeadLetterEntry(fields: readonly string[]): string {
  return JSON.stringify(fields);
}

/**
 * A dead letter. Not strict, by design: dead letters are for operators, who may edit one by hand
 * (the README says how); what is missing reads as '' and the rest still says what it was.
 */
export function decodeDeadLetter([id, fields]: StreamEntry): DeadLetter {
  const value = streamFields(fields);
  let entry: string[] = [];
  try {
    entry = JSON.parse(value.entry ?? '') as string[];
  } catch {
    // edited by hand: the other fields still say what it was
  }
  return {
    id,
    outboxId: value.outbox_id ?? '',
    eventId: value.event_id ?? '',
    kind: value.kind ?? '',
    code: value.code ?? '',
    error: value.error ?? '',
    detail: value.detail ?? '',
    entry,
  };
}

// ---------------------------------------------------------------- the worker's queue depth

/** What operators' views show of a dead letter: which change, and why (the entry itself stays in Redis). */
export type DeadLetterSummary = Pick<DeadLetter, 'id' | 'outboxId' | 'eventId' | 'kind' | 'code' | 'error'>;

/** One outbox stream's backlog (one per partition once the outbox is partitioned). */
export interface OutboxStreamDepth {
  /** entries in the stream: every change not yet written to PostgreSQL (written ones are deleted) */
  length: number;
  /** entries no worker has read yet: the consumer group's lag */
  undelivered: number;
  /** entries read by a worker and not yet written */
  pending: number;
  /** age of the oldest change not yet in PostgreSQL, by the Redis clock; 0 when drained */
  oldestUndrainedAgeMs: number;
}

/**
 * Queue depth for operators: how much booking-domain change Redis holds that PostgreSQL may not have
 * yet, and where it sits. The totals are over `streams`. worker/README.md says which values mean trouble.
 */
export interface QueueDepth {
  /** when it was read, ms by the Redis clock */
  readAt: number;
  /** per outbox stream, by its key (without the deployment prefix) */
  streams: Record<string, OutboxStreamDepth>;
  /** totals over the streams */
  outboxLength: number;
  undelivered: number;
  pending: number;
  /** the oldest over the streams */
  oldestUndrainedAgeMs: number;
  /** Bull jobs (one per batch) by state; all zero when no queue was read */
  bull: { waiting: number; active: number; delayed: number; failed: number; completed: number };
  /**
   * changes PostgreSQL refused for good, set aside in the dead-letter stream (worker/dead-letter.ts):
   * not in the outbox any more, not in PostgreSQL either, until an operator deals with them
   */
  deadLetters: number;
  /** the newest few dead letters: which change, and the database's error */
  latestDeadLetters: DeadLetterSummary[];
}

const count = int.nonnegative();
const queueDepthSchema = z.object({
  readAt: ms,
  streams: z.record(z.string(), z.object({ length: count, undelivered: count, pending: count, oldestUndrainedAgeMs: count })),
  outboxLength: count,
  undelivered: count,
  pending: count,
  oldestUndrainedAgeMs: count,
  bull: z.object({ waiting: count, active: count, delayed: count, failed: count, completed: count }),
  deadLetters: count,
  latestDeadLetters: z.array(
    z.object({ id: z.string(), outboxId: z.string(), eventId: z.string(), kind: z.string(), code: z.string(), error: z.string() }),
  ),
});

/** The queue depth record the worker publishes (a string with a TTL, `keys.workerQueueDepth`). */
export function encodeQueueDepth(depth: QueueDepth): string {
  return JSON.stringify(depth);
}

export function decodeQueueDepth(json: string): QueueDepth {
  return parseJson('queue depth record', json, queueDepthSchema);
}
