/**
 * The one list of outcomes every Lua script can return, and the one mapping from an outcome to the
 * CoWIN-style API error a client sees.
 *
 * The Lua side gets these numbers from a prelude the script loader generates from this enum
 * (`local Status = { FULL = -1, ... }`), so a code is written down exactly once.
 * Positive codes are successes; negative codes are answers such as "full" or "quota exceeded",
 * which are outcomes, not exceptions. Only infrastructure failures (Redis down) throw.
 */
export enum Status {
  OK = 1,
  /** The same idempotency key and request were seen before: the first answer is returned again. */
  REPLAYED = 2,

  // booking
  FULL = -1,
  SESSION_NOT_FOUND = -2,
  SESSION_NOT_OPEN = -3,
  BOOKING_CLOSED = -4,
  INVALID_SLOT = -5,
  INVALID_DOSE = -6,
  BENEFICIARY_NOT_FOUND = -7,
  DUPLICATE_BENEFICIARY = -8,
  AGE_NOT_ELIGIBLE = -9,
  DOSE_NOT_DUE = -10,
  PREVIOUS_DOSE_MISSING = -11,
  VACCINE_MISMATCH = -12,
  ALREADY_BOOKED = -13,
  ALREADY_VACCINATED = -14,
  IDEMPOTENCY_MISMATCH = -15,
  APPOINTMENT_NOT_FOUND = -16,
  APPOINTMENT_NOT_ACTIVE = -17,
  TOO_LATE_TO_CHANGE = -18,
  SAME_CENTER_AND_SLOT = -19,
  /** The appointment moved between the caller's read and the script; the engine retries. */
  STALE_APPOINTMENT = -20,
  NOT_VACCINATION_DAY = -21,
  /** The vaccine's schedule has no such dose: dose 2 of a single-dose vaccine, or a precaution dose it does not offer. */
  DOSE_NOT_IN_SCHEDULE = -22,
  /**
   * Partitioned booking: the booking was resolved as failed (its hold passed its deadline and
   * recovery wrote the `aborted` tombstone) before its seats were taken; a late step is refused.
   * Also a partitioned registration's late step 2 (the engine starts that registration again).
   */
  BOOKING_ABORTED = -23,
  /** Partitioned booking: the session's definition changed after the hold read it; the engine retries. */
  SESSION_CHANGED = -24,

  // auth and quotas
  QUOTA_LOGOUT = -30,
  ACCOUNT_BLOCKED = -31,
  UNAUTHENTICATED = -32,
  OTP_COOLDOWN = -33,
  INVALID_OTP = -34,
  RATE_LIMITED = -35,
  INVALID_CAPTCHA = -36,
  /** this address asked for this mobile's OTP too often today (the requester's day window) */
  OTP_REQUESTER_LIMIT = -37,
  /** this address asked for too many OTPs (any mobile) in its window */
  OTP_ADDRESS_LIMIT = -38,
  /** the country's OTP issuing is at its per-minute limit */
  OTP_COUNTRY_LIMIT = -39,

  // beneficiaries and sessions
  BENEFICIARY_LIMIT = -40,
  DUPLICATE_PHOTO_ID = -41,
  BENEFICIARY_LOCKED = -42,
  CAPACITY_BELOW_BOOKED = -43,
  SESSION_CONFLICT = -44,
  /** The photo ID number does not fit its type's rule in the country file (checked before any script). */
  INVALID_PHOTO_ID = -45,

  // the centre: security codes, operators, certificates
  /** The security code given for a beneficiary is not the one on their slip (the reply carries the tries left). */
  WRONG_SECURITY_CODE = -50,
  /** Too many wrong security codes for this appointment: it can no longer be marked vaccinated. */
  SECURITY_CODE_LOCKED = -51,
  /** No operator has this id. */
  OPERATOR_NOT_FOUND = -52,
  /** Operator credentials that are wrong, revoked or replaced. */
  OPERATOR_REFUSED = -53,
  /** No certificate has this id. */
  CERTIFICATE_NOT_FOUND = -54,
  /** The certificate was revoked (issued in error). */
  CERTIFICATE_REVOKED = -55,

  // partners (third parties with API keys)
  /** No partner has this id. */
  PARTNER_NOT_FOUND = -60,
  /** The partner has no key with this id. */
  PARTNER_KEY_NOT_FOUND = -61,
  /** An `x-api-key` that is malformed, unknown or revoked, or whose partner is suspended. */
  PARTNER_KEY_REFUSED = -62,
  /** The key's scopes do not cover the endpoint (a key never widens what a token allows). */
  PARTNER_SCOPE_REFUSED = -63,
  /** The partner used up its calls of the minute or of the day. */
  PARTNER_RATE_LIMITED = -64,

  // fair admission (engine/fair-admission.ts): the queue of an opening and its admissions
  /** `schedule` for a session under fair admission, without an admission (an old client, a bot) */
  ADMISSION_REQUIRED = -70,
  /** an admission that is not the caller's for this session, or names beneficiaries its place did not join with */
  ADMISSION_INVALID = -71,
  /** the admission's time passed unused: its place is over (it may join again, at the end) */
  ADMISSION_EXPIRED = -72,
  /** the admission already booked */
  ADMISSION_USED = -73,
  /** joining the queue of a session that does not open through one */
  QUEUE_OFF = -74,
  /** joining before the pre-queue opens (prequeue_minutes before opens_at) */
  QUEUE_NOT_OPEN_YET = -75,
  /** asking for a place in a queue the account never joined */
  QUEUE_PLACE_NOT_FOUND = -76,
  /** a beneficiary already holds a place in this queue through another place */
  QUEUE_BENEFICIARY_TAKEN = -77,
  /**
   * moving an appointment into a session while its opening is under fair admission: a reschedule would
   * take a seat past the queue, so the citizen cancels, joins the queue and books with the admission
   */
  RESCHEDULE_INTO_QUEUE = -78,
}

/** What an API client receives for a non-success outcome. */
export interface ApiError {
  httpStatus: number;
  errorCode: string;
  error: string;
}

/**
 * CoWIN's own codes where one is known (APPOIN0040 full, APPOIN0015 invalid slot, APPOIN0044 captcha,
 * APPOIN0018 invalid pincode, USRAUT0012/13/14 OTP), teeka's own in the same style otherwise.
 */
const API_ERRORS: Record<Exclude<Status, Status.OK | Status.REPLAYED>, ApiError> = {
  [Status.FULL]: {
    httpStatus: 409,
    errorCode: 'APPOIN0040',
    error:
      'This vaccination center is completely booked for the selected date. Please try another date or vaccination center.',
  },
  [Status.SESSION_NOT_FOUND]: { httpStatus: 404, errorCode: 'APPOIN0011', error: 'Session not found' },
  [Status.SESSION_NOT_OPEN]: { httpStatus: 409, errorCode: 'APPOIN0012', error: 'Booking for this session has not opened yet' },
  [Status.BOOKING_CLOSED]: { httpStatus: 409, errorCode: 'APPOIN0013', error: 'Booking for this session is closed' },
  [Status.INVALID_SLOT]: { httpStatus: 400, errorCode: 'APPOIN0015', error: 'Invalid Slot Id' },
  [Status.INVALID_DOSE]: { httpStatus: 400, errorCode: 'APPOIN0016', error: 'Invalid dose' },
  [Status.BENEFICIARY_NOT_FOUND]: { httpStatus: 404, errorCode: 'APPOIN0020', error: 'Beneficiary not found' },
  [Status.DUPLICATE_BENEFICIARY]: { httpStatus: 400, errorCode: 'APPOIN0021', error: 'The same beneficiary is listed twice' },
  [Status.AGE_NOT_ELIGIBLE]: {
    httpStatus: 409,
    errorCode: 'APPOIN0022',
    error: 'Beneficiary age is not within the age limit of this session',
  },
  [Status.DOSE_NOT_DUE]: {
    httpStatus: 409,
    errorCode: 'APPOIN0023',
    error: 'The minimum interval since the previous dose has not passed on the session date',
  },
  [Status.PREVIOUS_DOSE_MISSING]: { httpStatus: 409, errorCode: 'APPOIN0024', error: 'The previous dose is not recorded' },
  [Status.VACCINE_MISMATCH]: {
    httpStatus: 409,
    errorCode: 'APPOIN0025',
    error: 'This session offers a different vaccine from the previous dose',
  },
  [Status.ALREADY_BOOKED]: {
    httpStatus: 409,
    errorCode: 'APPOIN0026',
    error: 'Beneficiary already has an appointment for this dose',
  },
  [Status.ALREADY_VACCINATED]: {
    httpStatus: 409,
    errorCode: 'APPOIN0027',
    error: 'Beneficiary has already received this dose',
  },
  [Status.IDEMPOTENCY_MISMATCH]: {
    httpStatus: 422,
    errorCode: 'APPOIN0028',
    error: 'This idempotency key was used for a different booking',
  },
  [Status.APPOINTMENT_NOT_FOUND]: { httpStatus: 404, errorCode: 'APPOIN0030', error: 'Appointment not found' },
  [Status.APPOINTMENT_NOT_ACTIVE]: {
    httpStatus: 409,
    errorCode: 'APPOIN0031',
    error: 'Appointment is cancelled or already completed',
  },
  [Status.TOO_LATE_TO_CHANGE]: {
    httpStatus: 409,
    errorCode: 'APPOIN0032',
    error: 'Appointments can only be changed before the appointment day',
  },
  [Status.SAME_CENTER_AND_SLOT]: {
    httpStatus: 409,
    errorCode: 'APPOIN0033',
    error: 'Cannot reschedule to the same center and slot',
  },
  [Status.STALE_APPOINTMENT]: {
    httpStatus: 409,
    errorCode: 'APPOIN0034',
    error: 'The appointment changed while this request ran; please retry',
  },
  [Status.NOT_VACCINATION_DAY]: {
    httpStatus: 409,
    errorCode: 'APPOIN0035',
    error: 'A vaccination can only be recorded on the appointment day',
  },
  [Status.DOSE_NOT_IN_SCHEDULE]: {
    httpStatus: 409,
    errorCode: 'APPOIN0036',
    error: "This vaccine's schedule has no such dose (a single-dose vaccine has no dose 2)",
  },
  [Status.BOOKING_ABORTED]: {
    httpStatus: 503,
    errorCode: 'APPOIN0045',
    error: 'The booking took too long and was not made; please retry',
  },
  [Status.SESSION_CHANGED]: {
    httpStatus: 409,
    errorCode: 'APPOIN0046',
    error: 'The session changed while this request ran; please retry',
  },
  [Status.QUOTA_LOGOUT]: {
    httpStatus: 401,
    errorCode: 'USRAUT0030',
    error: 'Too many searches in a short time: you have been logged out. Searching works again when the search window ends (Retry-After).',
  },
  [Status.ACCOUNT_BLOCKED]: {
    httpStatus: 403,
    errorCode: 'USRAUT0031',
    error: 'This account is blocked for 24 hours because of too many searches',
  },
  [Status.UNAUTHENTICATED]: { httpStatus: 401, errorCode: 'USRAUT0001', error: 'Unauthenticated access!' },
  [Status.OTP_COOLDOWN]: {
    httpStatus: 429,
    errorCode: 'USRAUT0015',
    error: 'An OTP was sent recently; a new one can be requested after it expires',
  },
  [Status.INVALID_OTP]: { httpStatus: 401, errorCode: 'USRAUT0014', error: 'Invalid OTP' },
  [Status.RATE_LIMITED]: { httpStatus: 429, errorCode: 'USRRES0429', error: 'Too many requests, please retry later' },
  [Status.OTP_REQUESTER_LIMIT]: {
    httpStatus: 429,
    errorCode: 'USRAUT0016',
    error: 'Too many OTPs were requested for this mobile from your network today, please retry later',
  },
  [Status.OTP_ADDRESS_LIMIT]: {
    httpStatus: 429,
    errorCode: 'USRAUT0017',
    error: 'Too many OTPs were requested from your network, please retry later',
  },
  [Status.OTP_COUNTRY_LIMIT]: {
    httpStatus: 429,
    errorCode: 'USRAUT0018',
    error: 'OTP service is busy, please retry in a minute',
  },
  [Status.INVALID_CAPTCHA]: { httpStatus: 400, errorCode: 'APPOIN0044', error: 'Please enter valid security code' },
  [Status.BENEFICIARY_LIMIT]: {
    httpStatus: 409,
    errorCode: 'BENREG0010',
    error: 'This account already has the maximum number of beneficiaries',
  },
  [Status.DUPLICATE_PHOTO_ID]: {
    httpStatus: 409,
    errorCode: 'BENREG0011',
    error: 'A beneficiary with this photo ID is already registered',
  },
  [Status.BENEFICIARY_LOCKED]: {
    httpStatus: 409,
    errorCode: 'BENREG0012',
    error: 'A beneficiary with an appointment or a recorded dose cannot be deleted',
  },
  [Status.INVALID_PHOTO_ID]: {
    httpStatus: 400,
    errorCode: 'BENREG0013',
    error: 'The photo ID number does not match the format of its ID type',
  },
  [Status.WRONG_SECURITY_CODE]: {
    httpStatus: 400,
    errorCode: 'APPOIN0036',
    error: 'The security code does not match the one on the appointment slip',
  },
  [Status.SECURITY_CODE_LOCKED]: {
    httpStatus: 423,
    errorCode: 'APPOIN0037',
    error: 'Too many wrong security codes: this appointment is locked. The citizen can cancel it and book again',
  },
  [Status.OPERATOR_NOT_FOUND]: { httpStatus: 404, errorCode: 'OPRADM0001', error: 'No operator has this id' },
  [Status.OPERATOR_REFUSED]: { httpStatus: 401, errorCode: 'USRAUT0002', error: 'Invalid operator credentials' },
  [Status.CERTIFICATE_NOT_FOUND]: { httpStatus: 404, errorCode: 'CERTIF0001', error: 'Certificate not found' },
  [Status.CERTIFICATE_REVOKED]: {
    httpStatus: 410,
    errorCode: 'CERTIF0002',
    error: 'This certificate was revoked because it was issued in error; please contact the vaccination centre',
  },
  [Status.PARTNER_NOT_FOUND]: { httpStatus: 404, errorCode: 'PRTADM0001', error: 'No partner has this id' },
  [Status.PARTNER_KEY_NOT_FOUND]: { httpStatus: 404, errorCode: 'PRTADM0002', error: 'This partner has no API key with this id' },
  [Status.PARTNER_KEY_REFUSED]: { httpStatus: 401, errorCode: 'PRTAUT0001', error: 'Invalid or revoked API key' },
  [Status.PARTNER_SCOPE_REFUSED]: { httpStatus: 403, errorCode: 'PRTAUT0002', error: "This API key's scopes do not cover this endpoint" },
  [Status.PARTNER_RATE_LIMITED]: { httpStatus: 429, errorCode: 'USRRES0429', error: "Too many requests for this partner's limit, please retry later" },
  [Status.ADMISSION_REQUIRED]: {
    httpStatus: 403,
    errorCode: 'APPOIN0050',
    error:
      'This session opens through the queue (fair admission): join it (POST /teeka/queue/join) and book with the admission you are given (the admission field or the X-Admission header)',
  },
  [Status.ADMISSION_INVALID]: {
    httpStatus: 403,
    errorCode: 'APPOIN0051',
    error: 'This admission is not yours for this session, or it does not cover these beneficiaries: this session opens through the queue',
  },
  [Status.ADMISSION_EXPIRED]: {
    httpStatus: 409,
    errorCode: 'APPOIN0052',
    error: 'Your admission expired unused and passed to the next place in the queue; you may join the queue again',
  },
  [Status.ADMISSION_USED]: { httpStatus: 409, errorCode: 'APPOIN0053', error: 'This admission was already used to book' },
  [Status.QUEUE_OFF]: { httpStatus: 409, errorCode: 'APPOIN0054', error: 'This session does not open through a queue: book it directly' },
  [Status.QUEUE_NOT_OPEN_YET]: {
    httpStatus: 409,
    errorCode: 'APPOIN0055',
    error: "The queue for this session is not open yet: it opens prequeue_minutes before the session's opening",
  },
  [Status.QUEUE_PLACE_NOT_FOUND]: { httpStatus: 404, errorCode: 'APPOIN0056', error: 'You have no place in the queue of this session' },
  [Status.QUEUE_BENEFICIARY_TAKEN]: {
    httpStatus: 409,
    errorCode: 'APPOIN0057',
    error: 'A beneficiary already holds a place in the queue of this session',
  },
  [Status.RESCHEDULE_INTO_QUEUE]: {
    httpStatus: 409,
    errorCode: 'APPOIN0058',
    error: 'This session opens through the queue (fair admission): an appointment cannot be moved into it during its opening; join its queue and book with your admission',
  },
  [Status.CAPACITY_BELOW_BOOKED]: {
    httpStatus: 409,
    errorCode: 'SESADM0001',
    error: 'Capacity cannot be lowered below the number already booked',
  },
  [Status.SESSION_CONFLICT]: {
    httpStatus: 409,
    errorCode: 'SESADM0002',
    error: 'Center, date, vaccine and slots of a session with bookings cannot change',
  },
};
// frozen: one object per status, shared by every answer (the gateway makes each status's answer once)
for (const error of Object.values(API_ERRORS)) Object.freeze(error);

export function isSuccess(status: Status): status is Status.OK | Status.REPLAYED {
  return status > 0;
}

/** The API error for a non-success outcome. */
export function apiErrorFor(status: Status): ApiError {
  if (isSuccess(status)) throw new Error(`status ${status} is a success, not an error`);
  const mapped = API_ERRORS[status];
  if (!mapped) throw new Error(`no API error mapped for status ${status}`);
  return mapped;
}

/** Errors that come from the request itself rather than from a script outcome. */
export const REQUEST_ERRORS = {
  badRequest: (detail: string): ApiError => ({ httpStatus: 400, errorCode: 'GENVAL0001', error: detail }),
  invalidPincode: (): ApiError => ({ httpStatus: 400, errorCode: 'APPOIN0018', error: 'Invalid Pincode' }),
  /** CoWIN's invalid-pincode code, for a country whose file turns PIN search off: no pincode is valid there */
  pincodeSearchOff: (countryName: string): ApiError => ({
    httpStatus: 400,
    errorCode: 'APPOIN0018',
    error: `Search by PIN code is not offered in ${countryName}. Search by district_id (findByDistrict, calendarByDistrict) or center_id (calendarByCenter)`,
  }),
  invalidDate: (): ApiError => ({ httpStatus: 400, errorCode: 'APPOIN0019', error: 'Invalid date, expected DD-MM-YYYY' }),
  otpRequired: (): ApiError => ({ httpStatus: 400, errorCode: 'USRAUT0012', error: 'OTP is Required' }),
  txnIdRequired: (): ApiError => ({ httpStatus: 400, errorCode: 'USRAUT0013', error: 'txnId is Required' }),
  forbidden: (): ApiError => ({ httpStatus: 403, errorCode: 'USRAUT0003', error: 'Forbidden' }),
  notFound: (): ApiError => ({ httpStatus: 404, errorCode: 'GENRES0404', error: 'Not found' }),
  methodNotAllowed: (): ApiError => ({ httpStatus: 405, errorCode: 'GENRES0405', error: 'Method not allowed' }),
  payloadTooLarge: (limit: number): ApiError => ({
    httpStatus: 413,
    errorCode: 'GENVAL0413',
    error: `Request body exceeds ${limit} bytes`,
  }),
  uriTooLong: (): ApiError => ({ httpStatus: 414, errorCode: 'GENVAL0414', error: 'Request URL is too long' }),
  unavailable: (): ApiError => ({ httpStatus: 503, errorCode: 'GENSRV0503', error: 'Service temporarily unavailable' }),
  internal: (): ApiError => ({ httpStatus: 500, errorCode: 'GENSRV0500', error: 'Internal error' }),
  tooManyConnections: (limit: number): ApiError => ({
    httpStatus: 429,
    errorCode: 'USRRES0429',
    error: `Too many live connections from this address (at most ${limit})`,
  }),
} as const;

/**
 * The Lua prelude the loader prepends to a script: `local Status = { OK = 1, FULL = -1, ... }`,
 * with the codes the script names (`Status.FULL`), since the table is rebuilt on every call.
 * An unknown name is an error at load time rather than a nil at run time.
 */
export function luaStatusPrelude(scriptText: string): string {
  const names = [...new Set([...scriptText.matchAll(/\bStatus\.([A-Z_]+)/g)].map((m) => m[1]!))].sort();
  const entries = names.map((name) => {
    const code = (Status as unknown as Record<string, number | undefined>)[name];
    if (typeof code !== 'number') throw new Error(`Lua names Status.${name}, which engine/status.ts does not define`);
    return `${name} = ${code}`;
  });
  return `local Status = { ${entries.join(', ')} }\n`;
}
