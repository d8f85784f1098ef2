/**
 * Request validation: JSON bodies and query strings become typed values or one clear 400 that
 * names the field. Unknown fields are refused rather than ignored, so a client's typo is caught.
 * Where CoWIN clients send a number as a string (dose "1", birth_year "1980") both are accepted.
 *
 * Before any schema, every string a client sends (body values and field names, query parameters,
 * path parameters) passes one check, `textProblem`: no control characters (C0 including NUL, DEL,
 * C1), no unpaired UTF-16 surrogates (`JSON.parse` turns "\ud800" into one), and a bounded length.
 * Nothing downstream can store them faithfully: PostgreSQL refuses NUL in text, Lua's JSON decoder
 * refuses lone surrogates, and no name, id or code of this API has a use for either.
 */
import { z } from 'zod';
import type { Clock } from '../engine/clock.js';
import { localEpochDay, parseCowinDate, yearOf } from '../engine/dates.js';
import type { Country } from '../engine/masterdata.js';
import { ADMISSION_PATTERN } from '../engine/fair-admission.js';
import { OPERATOR_ID } from '../engine/operators.js';
import { PARTNER_ID, PARTNER_SCOPES } from '../engine/partners.js';
import { REQUEST_ERRORS, type ApiError } from '../engine/status.js';
import type { HttpRequest } from './http.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/** The longest string any body field may hold (the schemas bound most fields far tighter). */
export const MAX_BODY_STRING = 4096;
/** The longest query or path parameter, name or value (ids, dates, pincodes are all far shorter). */
export const MAX_URL_PARAMETER = 200;

// C0 controls (NUL, TAB, CR, LF, ...), DEL, C1 controls, and a surrogate not paired with its other half
// (with the `u` flag a well-formed pair is one code point, so only a lone half matches \p{Cs})
const FORBIDDEN_CHARACTER = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;

/**
 * Every code unit FORBIDDEN_CHARACTER could match, and paired surrogates too: a string without any
 * is accepted without the Unicode-aware search (most strings; the check runs on every field of every
 * body, on the booking rush's hot path).
 */
const SUSPECT_UNIT = /[\u0000-\u001f\u007f-\u009f\ud800-\udfff]/;

/** Why a client's string cannot be accepted, or null when it can. */
function stringProblem(text: string, maxLength: number): string | null {
  if (text.length <= maxLength && !SUSPECT_UNIT.test(text)) return null;
  const bad = FORBIDDEN_CHARACTER.exec(text);
  if (bad) {
    const unit = bad[0].charCodeAt(0);
    return unit >= 0xd800 && unit <= 0xdfff
      ? 'contains an unpaired surrogate (not valid Unicode text)'
      : `contains a control character (U+${unit.toString(16).toUpperCase().padStart(4, '0')})`;
  }
  if (text.length > maxLength) return `longer than ${maxLength} characters`;
  return null;
}

/**
 * A person's name as people write it, in any script: letters and combining marks (\p{L}, \p{M}),
 * with the zero-width joiner and non-joiner that Bengali, Malayalam and other scripts need inside
 * words, spaces, hyphens, apostrophes (' and ’), dots and the Devanagari abbreviation sign (॰, as
 * in डॉ॰). It must start with a letter. Markup characters (< > & "), digits, symbols and emoji
 * are refused; control characters already were (`textProblem`). Stored NFC-normalised, so the same
 * name typed on two keyboards is the same string.
 */
const NAME = /^\p{L}[\p{L}\p{M} \u200c\u200d'\u2019.\-\u2010\u0970]*$/u;
export const personName = z
  .string()
  .transform((name) => name.normalize('NFC').trim().replace(/ {2,}/g, ' '))
  .pipe(z.string().min(1, 'expected a name').max(100).regex(NAME, "expected a name: letters of any script, with spaces, hyphens, apostrophes and dots"));

/** A field path as the errors name it: `beneficiaries.0`, `name`. */
const pathText = (path: (string | number)[]) => path.map(String).join('.');

/**
 * The first string in a parsed JSON value (values and field names, at any depth) that a client may
 * not send, as a 400 naming its field; null when every string is acceptable.
 */
export function textProblem(value: unknown, path: (string | number)[] = []): ApiError | null {
  // the walk allocates nothing while every string is acceptable; the path is built for an error only
  return hasTextProblem(value) ? describeTextProblem(value, path) : null;
}

/** Whether some string in `value` (a value or a field name, at any depth) is not acceptable. */
function hasTextProblem(value: unknown): boolean {
  if (typeof value === 'string') return stringProblem(value, MAX_BODY_STRING) !== null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasTextProblem(value[i])) return true;
    return false;
  }
  if (typeof value === 'object' && value !== null) {
    for (const name in value) {
      if (!Object.hasOwn(value, name)) continue;
      if (stringProblem(name, MAX_URL_PARAMETER) !== null || hasTextProblem((value as Record<string, unknown>)[name])) return true;
    }
  }
  return false;
}

/** The first unacceptable string in `value` as a 400 naming its field, or null. */
function describeTextProblem(value: unknown, path: (string | number)[]): ApiError | null {
  if (typeof value === 'string') {
    const problem = stringProblem(value, MAX_BODY_STRING);
    return problem ? REQUEST_ERRORS.badRequest(`${pathText(path) || '(body)'}: ${problem}`) : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = describeTextProblem(value[i], [...path, i]);
      if (found) return found;
    }
    return null;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [name, item] of Object.entries(value)) {
      // a field name is echoed in errors ("unknown field: …"): it gets the same check, named by its place
      const nameProblem = stringProblem(name, MAX_URL_PARAMETER);
      if (nameProblem) return REQUEST_ERRORS.badRequest(`a field name${path.length ? ` in ${pathText(path)}` : ''}: ${nameProblem}`);
      const found = describeTextProblem(item, [...path, name]);
      if (found) return found;
    }
  }
  return null;
}

/**
 * The query and path parameters of a request, checked like body strings (see `textProblem`).
 * The gateway runs it on every routed request before the route, so no route can forget it.
 */
export function urlTextProblem(request: Pick<HttpRequest, 'query' | 'params'>): ApiError | null {
  for (const [name, value] of Object.entries(request.params)) {
    const problem = stringProblem(value, MAX_URL_PARAMETER);
    if (problem) return REQUEST_ERRORS.badRequest(`${name}: ${problem}`);
  }
  for (const [name, value] of request.query) {
    const nameProblem = stringProblem(name, MAX_URL_PARAMETER);
    if (nameProblem) return REQUEST_ERRORS.badRequest(`a query parameter name: ${nameProblem}`);
    const problem = stringProblem(value, MAX_URL_PARAMETER);
    if (problem) return REQUEST_ERRORS.badRequest(`${name}: ${problem}`);
  }
  return null;
}

const UUID_LIKE = /^[0-9a-fA-F-]{8,64}$/;
const REFERENCE_ID_TEXT = /^\d{1,20}$/;
const DIGITS = /^\d+$/;
const referenceId = z.union([z.string().regex(REFERENCE_ID_TEXT, 'expected a beneficiary reference id'), z.number().int().nonnegative()]).transform(String);
const uuidLike = z.string().regex(UUID_LIKE, 'expected an id');
/** an admission as the queue hands it out (engine/fair-admission.ts ADMISSION_PATTERN) */
export const admissionToken = z.string().regex(ADMISSION_PATTERN, 'expected an admission from the queue');
const slotLabel = z.string().min(1).max(40);
const operatorId = z.string().regex(OPERATOR_ID, 'expected 2 to 64 letters, digits, . _ or -, starting with a letter or digit');
const partnerId = z.string().regex(PARTNER_ID, "expected 2 to 40 of a-z, 0-9 and '-', starting with a letter or digit");
const wholeNumber = (min: number, max: number) =>
  z
    .union([z.number(), z.string().regex(DIGITS, 'expected a whole number')])
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/**
 * A hand-written check of a schema's common, valid shape, for the hot routes: the value the schema
 * would give, or undefined for anything else (unusual or invalid), which the schema then decides
 * with its own errors. It may only accept what the schema accepts, and must give what it gives
 * (test/gateway/validation-fast-path.test.ts holds it to that); in a booking rush zod's parse was
 * the largest cost of a refused attempt in the gateway's profile.
 */
type FastPath = (raw: Record<string, unknown>) => unknown;
const fastPaths = new WeakMap<z.ZodType, FastPath>();

function withFastPath<S extends z.ZodType>(schema: S, fast: FastPath): S {
  fastPaths.set(schema, fast);
  return schema;
}

/** Whether parseBody has a fast path for `schema` (for tests). */
export function hasFastPath(schema: z.ZodType): boolean {
  return fastPaths.has(schema);
}

const SCHEDULE_FIELDS = new Set(['dose', 'session_id', 'slot', 'beneficiaries', 'center_id', 'captcha']);

/**
 * `schedule` as apps send it: dose 1–3 (a number or digits), the ids as strings, no center_id (rare:
 * the schema checks it). Anything else goes to the schema.
 */
function scheduleFastPath(maxBeneficiaries: number): FastPath {
  return (raw) => {
    for (const name in raw) if (!Object.hasOwn(raw, name) || !SCHEDULE_FIELDS.has(name)) return undefined;
    const { dose, session_id, slot, beneficiaries, center_id, captcha } = raw;
    if (center_id !== undefined) return undefined;
    if (captcha !== undefined && (typeof captcha !== 'string' || captcha.length > 20)) return undefined;
    const doseNumber = typeof dose === 'number' ? dose : typeof dose === 'string' && DIGITS.test(dose) ? Number(dose) : NaN;
    if (doseNumber !== 1 && doseNumber !== 2 && doseNumber !== 3) return undefined;
    if (typeof session_id !== 'string' || !UUID_LIKE.test(session_id)) return undefined;
    if (typeof slot !== 'string' || slot.length < 1 || slot.length > 40) return undefined;
    if (!Array.isArray(beneficiaries) || beneficiaries.length < 1 || beneficiaries.length > maxBeneficiaries) return undefined;
    const ids: string[] = [];
    for (const id of beneficiaries) {
      if (typeof id !== 'string' || !REFERENCE_ID_TEXT.test(id)) return undefined;
      ids.push(id);
    }
    return captcha === undefined
      ? { dose: doseNumber, session_id, slot, beneficiaries: ids }
      : { dose: doseNumber, session_id, slot, beneficiaries: ids, captcha };
  };
}

export function bodySchemas(country: Country, clock: Clock) {
  // read per request: a gateway running over New Year's Eve must accept babies born in the new year
  const thisYear = () => yearOf(localEpochDay(clock(), country.timeZone));
  // the national number, as CoWIN took it: no country code, no spaces
  const mobile = z.string().max(20).refine((m) => country.mobile.accepts(m), `expected a mobile number of ${country.mobile.format}, without the country code`);
  const genderIds = new Set(country.data.genders.map((g) => g.id));
  const photoIdTypes = new Set(country.data.photo_id_types.map((t) => t.id));
  /** A beneficiary as registered: by the citizen (newBeneficiary), or by a vaccinator for a walk-in. */
  const beneficiaryFields = {
    name: personName,
    birth_year: wholeNumber(0, 9999).refine((year) => year >= thisYear() - 120 && year <= thisYear(), 'expected a year of birth within the last 120 years'),
    gender_id: wholeNumber(1, 1000).refine((id) => genderIds.has(id), 'not a gender id from /registration/beneficiary/genders'),
    photo_id_type: wholeNumber(1, 1000).refine((id) => photoIdTypes.has(id), 'not an id type from /registration/beneficiary/idTypes'),
    // its format depends on photo_id_type: checked by photoIdRule, by the country file's rule for that type
    photo_id_number: z.string().max(40),
    comorbidity_ind: z.enum(['Y', 'N']),
    consent_version: z.string().min(1).max(20),
  };
  const photoIdRule = (ben: { photo_id_type: number; photo_id_number: string }, ctx: z.RefinementCtx) => {
    // a refinement also runs when a field failed: only a known type's rule can say what is expected
    if (typeof ben.photo_id_number !== 'string' || !photoIdTypes.has(ben.photo_id_type)) return;
    const number = country.photoIdNumber(ben.photo_id_type, ben.photo_id_number);
    if (!number.ok) ctx.addIssue({ code: 'custom', path: ['photo_id_number'], message: `expected ${number.expected}` });
  };
  /** Where and which dose a booking is for (a citizen's schedule, a vaccinator's walk-in). */
  const bookingFields = { dose: wholeNumber(1, 3), session_id: uuidLike, slot: slotLabel };
  return {
    generateOtp: z.strictObject({ mobile, secret: z.string().max(4096).optional() }),
    confirmOtp: z.strictObject({
      otp: z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected the sha256 hex of the OTP'),
      txnId: z.string().min(1).max(200),
    }),
    newBeneficiary: z.strictObject(beneficiaryFields).superRefine(photoIdRule),
    deleteBeneficiary: z.strictObject({ beneficiary_reference_id: referenceId }),
    schedule: withFastPath(
      z.strictObject({
        ...bookingFields,
        beneficiaries: z.array(referenceId).min(1).max(country.rules.beneficiaries_per_account),
        center_id: wholeNumber(1, 1e12).optional(),
        captcha: z.string().max(20).optional(),
        /** the admission a session under fair admission needs (or the X-Admission header) */
        admission: admissionToken.optional(),
      }),
      scheduleFastPath(country.rules.beneficiaries_per_account),
    ),
    reschedule: z.strictObject({ appointment_id: uuidLike, session_id: uuidLike, slot: slotLabel }),
    cancel: z.strictObject({
      appointment_id: uuidLike,
      beneficiariesToCancel: z.array(referenceId).max(country.rules.beneficiaries_per_account).optional(),
    }),
    // {operator_id, secret} or {role: "admin", key}: the route tells which (see routes/operators.ts)
    operatorLogin: z.strictObject({
      role: z.enum(['admin', 'vaccinator']).optional(),
      key: z.string().min(1).max(200).optional(),
      operator_id: operatorId.optional(),
      secret: z.string().min(1).max(200).optional(),
    }),
    issueOperator: z.strictObject({
      operator_id: operatorId,
      role: z.enum(['admin', 'vaccinator']),
      center_ids: z.array(wholeNumber(1, 1e12)).max(50).optional(),
    }),
    revokeOperator: z.strictObject({ operator_id: operatorId }),
    // partners (routes/partners.ts): the registry checks names, contacts and limits with clear messages
    registerPartner: z.strictObject({
      partner_id: partnerId,
      name: z.string().max(100),
      contact: z.string().max(200),
      scopes: z.array(z.enum(PARTNER_SCOPES)).min(1).max(PARTNER_SCOPES.length),
      per_minute: z.number().int(),
      per_day: z.number().int(),
      status: z.enum(['active', 'suspended']).optional(),
    }),
    issuePartnerKey: z.strictObject({ partner_id: partnerId }),
    revokePartnerKey: z.strictObject({ partner_id: partnerId, key_id: z.string().regex(/^[0-9a-f]{8}$/, 'expected 8 hex digits') }),
    revokeCertificate: z.strictObject({ certificate_id: uuidLike, reason: z.string().trim().min(1).max(200) }),
    // a vaccinator books a person who came without a booking: their mobile (the account, as CoWIN's
    // on-site registration did), the beneficiary as the citizen would register them, and the seat
    walkIn: z.strictObject({ mobile, ...beneficiaryFields, ...bookingFields }).superRefine(photoIdRule),
    vaccinate: z.strictObject({
      appointment_id: uuidLike,
      beneficiary_reference_id: referenceId,
      security_code: z.string().regex(/^\d{4}$/, 'expected the 4 digits on the appointment slip'),
    }),
    publishSession: z.strictObject({
      center_id: wholeNumber(1, 1e12),
      date: z.string().max(20),
      vaccine: z.string().min(1).max(40),
      min_age_limit: wholeNumber(0, 120),
      max_age_limit: wholeNumber(0, 120).optional(),
      allow_all_age: z.boolean().optional(),
      capacity_dose1: wholeNumber(0, 1_000_000),
      capacity_dose2: wholeNumber(0, 1_000_000),
      slot_capacity: z.array(wholeNumber(0, 1_000_000)).max(12).optional(),
      opens_at: z.string().datetime({ offset: true }).optional(),
      status: z.enum(['open', 'closed']).optional(),
      // fair admission (engine/fair-admission.ts); engine/sessions.ts checks how they go together
      fair_admission: z.boolean().optional(),
      prequeue_minutes: wholeNumber(0, 1440).optional(),
      admission_rate: z.number().positive().max(100_000).optional(),
    }),
    queueJoin: z.strictObject({
      session_id: uuidLike,
      beneficiaries: z.array(referenceId).min(1).max(country.rules.beneficiaries_per_account),
    }),
  };
}

export type BodySchemas = ReturnType<typeof bodySchemas>;

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}`;
  const path = issue.path.map(String).join('.');
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${path}: required`;
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Parse a request's JSON body against a schema. */
export function parseBody<S extends z.ZodType>(request: HttpRequest, schema: S): Parsed<z.output<S>> {
  if (!request.body || request.body.length === 0) return { ok: false, error: REQUEST_ERRORS.badRequest('A JSON body is required') };
  let raw: unknown;
  try {
    raw = JSON.parse(request.body.toString('utf8'));
  } catch {
    return { ok: false, error: REQUEST_ERRORS.badRequest('Malformed JSON body') };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, error: REQUEST_ERRORS.badRequest('The JSON body must be an object') };
  }
  const text = textProblem(raw);
  if (text) return { ok: false, error: text };
  request.bodyValue = raw;
  const quick = fastPaths.get(schema)?.(raw as Record<string, unknown>);
  if (quick !== undefined) return { ok: true, value: quick as z.output<S> };
  const result = schema.safeParse(raw);
  if (!result.success) return { ok: false, error: REQUEST_ERRORS.badRequest(describeIssue(result.error.issues[0]!)) };
  return { ok: true, value: result.data };
}

/** A required `DD-MM-YYYY` query parameter as an epoch day. */
export function queryDate(query: URLSearchParams, name = 'date'): Parsed<number> {
  const text = query.get(name);
  const day = text === null ? null : parseCowinDate(text);
  if (day === null) return { ok: false, error: REQUEST_ERRORS.invalidDate() };
  return { ok: true, value: day };
}

const digitPatterns = new Map<string, RegExp>();

/** A required whole-number query parameter (ids, pincodes) of `digits[0]` to `digits[1]` digits. */
export function queryId(query: URLSearchParams, name: string, error: () => ApiError, digits: [number, number] = [1, 12]): Parsed<number> {
  const text = query.get(name);
  const key = `${digits[0]},${digits[1]}`;
  let pattern = digitPatterns.get(key);
  if (!pattern) digitPatterns.set(key, (pattern = new RegExp(`^\\d{${key}}$`)));
  if (text === null || !pattern.test(text)) return { ok: false, error: error() };
  return { ok: true, value: Number(text) };
}
