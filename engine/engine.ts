/**
 * The booking engine: a typed API over the Lua scripts. Every state change is one script call;
 * every answer is an Outcome (success, or a Status such as FULL), never an exception. Only
 * infrastructure failures (Redis unreachable) throw. Never imports the HTTP layer.
 */
import { createHash, randomInt } from 'node:crypto';
import type { RedisClient } from './redis.js';
import { systemClock, type Clock } from './clock.js';
import { formatIsoDate, localEpochDay, localInstant } from './dates.js';
import {
  accountIdOf,
  FIRST_BENEFICIARY_REFERENCE,
  isTxnId,
  newAppointmentId,
  newCertificateId,
  newLoginSessionId,
  newOtp,
  newTxnId,
  photoIdHashOf,
  sha256Hex,
} from './ids.js';
import type { BookingAccess } from './access-log.js';
import { KeyRing } from './certificate-keys.js';
import { CVX_UNSPECIFIED, signHealthCard, type SignedCertificate } from './health-card.js';
import { FairAdmission } from './fair-admission.js';
import { bookingRecordKeys, keys, type BookingRecordKeys, type Layout } from './keys.js';
import { PartitionedBeneficiaries } from './partitioned-beneficiaries.js';
import { PartitionedBooking, type PartitionedBookingOptions } from './partitioned-booking.js';
import { PartitionBatcher } from './coalesce.js';
import { Partitions } from './partitions.js';
import type { Country } from './masterdata.js';
import { NO_REPLICA_WAIT, ReplicaAcknowledgement, type DurabilityOptions } from './durability.js';
import { LuaScripts, type ScriptName } from './scripts.js';
import { appointmentField, decodeAccountHash, decodeAppointmentHash, decodeBeneficiary, decodeSessionHash, beneficiaryField, type Appointment, type StoredBeneficiary } from './records.js';
import { defineSession, type SessionInput, type SessionState } from './sessions.js';
import { Status } from './status.js';

export interface EngineOptions {
  country: Country;
  /** keys the mobile and photo-ID hashes */
  secret: string;
  /**
   * non-production only: mobiles with this prefix accept `otp` and skip every OTP limit but the block
   * (they send no SMS); with `securityCode`, their bookings get that code instead of a random one
   */
  testMobiles?: { prefix: string; otp: string; securityCode?: string | null } | null;
  /** wrong security codes allowed per appointment before it is locked. Default 5 */
  securityCodeMaxWrong?: number;
  /**
   * who issues vaccination certificates: the key ring and the issuer URL (`iss`, where
   * /.well-known/jwks.json is served). Default: the demo ring derived from `secret`, issuer
   * http://localhost:8080 (engine tests; the gateway always passes its configuration's)
   */
  certificates?: { ring: KeyRing; issuer: string };
  /** entries kept in the availability stream. Default 100000 */
  availabilityStreamCap?: number;
  /**
   * entries kept in the login revocation streams together (about 60 bytes each in Redis), shared
   * evenly by the partitions' streams. Default 200000: the revocations of a token lifetime at over
   * 200 a second. A gateway thread that starts while older revocations of live tokens were trimmed
   * asks Redis about those tokens (gateway/revocations.ts)
   */
  revocationStreamCap?: number;
  /**
   * replicas that must hold a booking-domain change before it is acknowledged (engine/durability.ts).
   * Default none: acknowledged once the master applied it
   */
  durability?: DurabilityOptions;
  /** the deployment's virtual partitions (engine/partitions.ts, TEEKA_PARTITIONS). Default 16 */
  partitions?: Partitions;
  /**
   * the booking core's record layout (engine/keys.ts `Layout`, TEEKA_LAYOUT). Default `single`;
   * `partitioned` runs every booking-domain method below through the partitioned booking
   * (engine/partitioned-booking.ts) and registration (engine/partitioned-beneficiaries.ts)
   */
  layout?: Layout;
  /** the partitioned layout's hold deadline and tombstone lifetime (engine/partitioned-booking.ts) */
  partitionedBooking?: PartitionedBookingOptions;
  /** coalesce requests per partition and event-loop turn (engine/coalesce.ts, TEEKA_COALESCE). Default true */
  coalesce?: boolean;
  /** how long a booking's idempotency record answers retries. Default 24 h */
  idempotencyTtlMs?: number;
  /** the first beneficiary reference number handed out. Default 10000000000000 (14 digits, like CoWIN's) */
  firstBeneficiaryReference?: number;
  /** the clock (clock.ts). Default the system clock; tests set and move it */
  clock?: Clock;
}

/** A success with its values, or a Status saying why not. */
export type Outcome<T extends object = object> =
  | ({ ok: true; status: Status.OK | Status.REPLAYED } & T)
  | { ok: false; status: Status; beneficiaryId?: string; retryAfterMs?: number; triesLeft?: number };

export interface QuotaAnswer {
  /** calls or searches left in the current window */
  remaining: number;
  /** ms until the window resets */
  resetMs: number;
  /** searches left today (protected search only) */
  remainingToday?: number;
}

export interface NewBeneficiary {
  name: string;
  birth_year: number;
  gender_id: number;
  photo_id_type: number;
  photo_id_number: string;
  comorbidity_ind: 'Y' | 'N';
  consent_version: string;
}

// the stored layouts of beneficiaries and appointments are engine/records.ts's
export type { Appointment, BeneficiaryStatus, StoredBeneficiary } from './records.js';

export interface Vaccination {
  appointmentId: string;
  beneficiaryId: string;
  /** the code the citizen gave the vaccinator */
  securityCode: string;
  /** who records it (the audit log) */
  vaccinatorId: string;
  /** the centres the vaccinator works at: another centre's appointment is answered as a missing one */
  centerIds: readonly number[];
}

/** What signing a vaccination's certificate reads: the beneficiary's record (JSON), the session's facts, the appointment's state for them. */
export interface VaccinationFacts {
  accountId: string;
  rawBen: string | null;
  centerId: number;
  date: number;
  vaccine: string | null;
  dose: number;
  status: string | null;
  storedCode: string | null;
}

export interface BookingRequest {
  accountId: string;
  sessionId: string;
  slot: string;
  dose: number;
  beneficiaryIds: string[];
  /** a client-chosen key: the same request retried with it books once and gets the same answer */
  idempotencyKey?: string | undefined;
  /**
   * For the access log of a citizen's call: its route and address. If the booking is accepted, its
   * appointment's outbox entry carries them, and that entry is the call's access log entry
   * (engine/access-log.ts bookingAccessEntry), in the outbox with the booking. An outcome with
   * `accessLogged` had it so; any other outcome (a refusal, a replay) did not.
   */
  access?: BookingAccess | undefined;
}

/** A beneficiary's security code on an appointment. */
export interface SecurityCode {
  beneficiaryId: string;
  code: string;
}

const MINUTE_MS = 60_000;
/** how long an account stays known as a test number's after its last OTP */
const TEST_NUMBER_MARK_MS = 86_400_000;
const SECURITY_CODE_DIGITS = 4;
/** The login revocation stream's default cap (EngineOptions.revocationStreamCap). */
export const DEFAULT_REVOCATION_STREAM_CAP = 200_000;
/** What a client's idempotency key may look like (anything else is refused as IDEMPOTENCY_MISMATCH). */
export const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,100}$/;

/**
 * What a booking under an idempotency key asked for: the same key with another fingerprint is
 * IDEMPOTENCY_MISMATCH. '' when the client sent no key.
 */
export function bookingFingerprint({ sessionId, slot, dose, beneficiaryIds, idempotencyKey }: BookingRequest): string {
  if (!idempotencyKey) return '';
  return createHash('sha256')
    .update(`${sessionId}|${slot}|${dose}|${[...beneficiaryIds].sort().join(',')}`)
    .digest('hex')
    .slice(0, 24);
}

/** How many times a change of an appointment reads it again when it changed in between (STALE_APPOINTMENT). */
export const STALE_RETRIES = 5;

/** The Status a script answered (the first element of its reply). */
export function code(reply: unknown[]): Status {
  return reply[0] as Status;
}

/** The failure Outcome for a script reply whose first element is not a success. */
export function failure(reply: unknown[], detail: 'beneficiary' | 'retryAfter' | 'none' = 'none'): Outcome<never> {
  const status = code(reply);
  if (status === Status.WRONG_SECURITY_CODE) return { ok: false, status, triesLeft: reply[1] as number };
  if (detail === 'beneficiary' && typeof reply[1] === 'string' && reply[1] !== '') {
    return { ok: false, status, beneficiaryId: reply[1] };
  }
  if (detail === 'retryAfter' && typeof reply[1] === 'number') return { ok: false, status, retryAfterMs: reply[1] };
  return { ok: false, status };
}

/**
 * The partition bookings are coalesced by: every booking key is in the one `{bk}` slot today
 * (engine/keys.ts), so all bookings of an event-loop turn can go as one script call.
 */
const BOOKING_PARTITION = 0;
/**
 * At most this many bookings in one script call: Redis runs a script alone, so a batch's length is
 * how long every other command waits (a booking is tens of microseconds of script time).
 */
const MAX_BOOKINGS_PER_CALL = 256;

/** One booking as the engine sends it to Redis (engine.book prepares it; sendBookings sends a batch). */
interface BookingCall {
  appointmentId: string;
  sessionId: string;
  accountId: string;
  slot: string;
  dose: number;
  /** the request's fingerprint under its idempotency key, '' without one */
  fingerprint: string;
  /** 4 random digits per beneficiary: their security codes */
  codeDigits: string;
  beneficiaryIds: string[];
  /** the client's idempotency key, '-' without one (the record's key is then never written) */
  idempotencyKey: string;
  /** for the access log: the route that books ('' for none) and the client's address */
  accessRoute: string;
  accessAddress: string;
}

export class BookingEngine {
  readonly scripts: LuaScripts;
  readonly country: Country;
  private readonly secret: string;
  private readonly testMobiles: { prefix: string; otp: string; securityCode?: string | null } | null;
  readonly securityCodeMaxWrong: number;
  readonly certificates: { ring: KeyRing; issuer: string };
  /** entries kept in the availability stream */
  readonly availabilityCap: number;
  /** entries kept in each partition's login revocation stream */
  private readonly revocationCap: number;
  readonly partitions: Partitions;
  readonly layout: Layout;
  /** where the layout keeps sessions, accounts, appointments and certificates */
  readonly records: BookingRecordKeys;
  /**
   * the partitioned layout's booking and registration, when that is the layout: the methods below
   * hand their work to them (never both layouts in one deployment: engine/keys.ts `Layout`)
   */
  readonly partitioned: { booking: PartitionedBooking; beneficiaries: PartitionedBeneficiaries } | null;
  /** how long a booking's idempotency record answers retries */
  readonly idempotencyTtlMs: number;
  /** the first beneficiary reference number (the counters start here) */
  readonly firstReference: number;
  private readonly clock: Clock;
  readonly durability: ReplicaAcknowledgement;
  /** protected searches coalesced per partition and event-loop turn (engine/coalesce.ts); counts say how */
  readonly searchQuotas: PartitionBatcher<{ accountId: string; sid: string }, unknown[]>;
  /**
   * bookings coalesced per booking partition and event-loop turn (engine/coalesce.ts); counts say how.
   * A booking's answer is its script reply, or the error that fails it alone (see sendBookings)
   */
  readonly bookings: PartitionBatcher<BookingCall, unknown[] | Error>;
  /** fair admission at openings: the queues of sessions published with it (engine/fair-admission.ts) */
  readonly fairAdmission: FairAdmission;

  constructor(
    readonly redis: RedisClient,
    options: EngineOptions,
  ) {
    this.country = options.country;
    this.secret = options.secret;
    this.testMobiles = options.testMobiles ?? null;
    this.securityCodeMaxWrong = options.securityCodeMaxWrong ?? 5;
    this.certificates = options.certificates ?? { ring: KeyRing.demo(options.secret), issuer: 'http://localhost:8080' };
    this.availabilityCap = options.availabilityStreamCap ?? 100_000;
    this.partitions = options.partitions ?? new Partitions();
    this.revocationCap = Math.ceil((options.revocationStreamCap ?? DEFAULT_REVOCATION_STREAM_CAP) / this.partitions.count);
    this.idempotencyTtlMs = options.idempotencyTtlMs ?? 86_400_000;
    this.firstReference = options.firstBeneficiaryReference ?? FIRST_BENEFICIARY_REFERENCE;
    this.clock = options.clock ?? systemClock;
    this.scripts = new LuaScripts(redis);
    this.durability = new ReplicaAcknowledgement(redis, options.durability ?? NO_REPLICA_WAIT);
    this.searchQuotas = new PartitionBatcher((partition, searches) => this.sendSearchQuotas(partition, searches), options.coalesce ?? true);
    this.layout = options.layout ?? 'single';
    this.partitioned =
      this.layout === 'partitioned'
        ? { booking: new PartitionedBooking(this, options.partitionedBooking), beneficiaries: new PartitionedBeneficiaries(this, options.partitionedBooking) }
        : null;
    this.records = bookingRecordKeys(this.layout, this.partitions);
    this.fairAdmission = new FairAdmission(redis, this.scripts, this.partitions, this.clock, this.records);
    this.bookings = new PartitionBatcher((_partition, bookings) => this.sendBookings(bookings), options.coalesce ?? true, MAX_BOOKINGS_PER_CALL);
  }

  /**
   * Run a script that changes the booking domain (what PostgreSQL receives through the outbox) and,
   * when it did, hold the answer until the required replicas have it. The first key (all of a script's
   * keys share its slot) routes the WAIT to the connection that carried the change.
   */
  async change(name: ScriptName, scriptKeys: string[], args: (string | number)[]): Promise<unknown[]> {
    const reply = await this.scripts.run(name, scriptKeys, args);
    const status = code(reply);
    // a replayed answer acknowledges a change made earlier, which may not have been confirmed then
    if (status === Status.OK || status === Status.REPLAYED) await this.durability.afterChange(scriptKeys[0]!);
    return reply;
  }

  now(): number {
    return this.clock();
  }

  /** today's local epoch day in the country's time zone */
  today(): number {
    // every booking asks; the time-zone lookup behind it is costly, and the answer only changes
    // at local midnight, so it is kept with the instants where it stops being true
    const now = this.clock();
    const cached = this.todayCache;
    if (cached && now >= cached.from && now < cached.until) return cached.day;
    const day = localEpochDay(now, this.country.timeZone);
    this.todayCache = { day, from: localInstant(day, 0, this.country.timeZone), until: localInstant(day + 1, 0, this.country.timeZone) };
    return day;
  }

  private todayCache: { day: number; from: number; until: number } | undefined;

  // ---------------------------------------------------------------- sessions

  /** Publish or update a session. Throws SessionInputError when the input contradicts the master data. */
  async publishSession(input: SessionInput): Promise<Outcome<{ sessionId: string; version: number; changed: boolean }>> {
    if (this.partitioned) return this.partitioned.booking.publishSession(input);
    const { sessionId, definition } = defineSession(this.country, input);
    const reply = await this.change(
      'publishSession',
      [keys.session(sessionId), keys.sessionsByDate(), keys.outbox(), keys.availability()],
      [sessionId, JSON.stringify(definition), this.now(), this.availabilityCap],
    );
    if (code(reply) !== Status.OK) return failure(reply);
    return { ok: true, status: Status.OK, sessionId, version: reply[1] as number, changed: reply[2] === 1 };
  }

  async getSession(sessionId: string): Promise<SessionState | null> {
    if (this.partitioned) return this.partitioned.booking.getSession(sessionId);
    return decodeSessionHash(sessionId, await this.redis.hgetall(keys.session(sessionId)));
  }

  /** Every session dated from `fromDay` to `toDay` inclusive. */
  loadSessions(fromDay: number, toDay: number): Promise<SessionState[]> {
    if (this.partitioned) return this.partitioned.booking.loadSessions(fromDay, toDay);
    return this.loadSessionsIn(keys.sessionsByDate(), keys.session, fromDay, toDay);
  }

  /**
   * The sessions dated from `fromDay` to `toDay` inclusive of one partition: its index by date and
   * where each session's hash is (both in one slot, so each pipeline stays on one node of a cluster).
   */
  async loadSessionsIn(byDate: string, sessionKey: (sessionId: string) => string, fromDay: number, toDay: number): Promise<SessionState[]> {
    const ids = await this.redis.zrangebyscore(byDate, fromDay, toDay);
    const sessions: SessionState[] = [];
    const CHUNK = 500;
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const pipeline = this.redis.pipeline();
      for (const id of chunk) pipeline.hgetall(sessionKey(id));
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([err, hash], j) => {
        if (err) throw err;
        const state = decodeSessionHash(chunk[j]!, hash as Record<string, string>);
        if (state) sessions.push(state);
      });
    }
    return sessions;
  }

  // ---------------------------------------------------------------- login and quotas

  accountIdOf(mobile: string): string {
    return accountIdOf(mobile, this.secret);
  }

  isTestMobile(mobile: string): boolean {
    return this.testMobiles !== null && mobile.startsWith(this.testMobiles.prefix);
  }

  /** The keys of one account, in its partition. */
  accountKeys(accountId: string) {
    return keys.forAccount(this.partitions, accountId);
  }

  /**
   * Issue an OTP for a mobile, asked for from a client address. The OTP itself is returned so the
   * caller can send it by SMS (a test number's fixed OTP is not: there is nothing to send).
   * Refusals: the address is at its limit, or the country is at its per-minute limit, the account is
   * blocked, or the requester (mobile × address) is in its cooldown or at its day limit; each carries
   * the time to wait. Test numbers skip every limit but the block.
   *
   * Two steps, each one script in one slot: the gate on `{otp}` (the address's and the country's
   * limits, the txnId's record), then the issue on the account's partition. A refusal at the second
   * gives back what the first counted (a third script, on refusals only); a stop in between leaves
   * counts that only make a limit stricter, and a txnId whose confirmation fails (lua/passOtpGate-3.lua).
   */
  async issueOtp(mobile: string, address: string): Promise<Outcome<{ txnId: string; otp: string | null; remainingToday: number }>> {
    const otpRules = this.country.rules.otp;
    const accountId = this.accountIdOf(mobile);
    const account = this.accountKeys(accountId);
    const testNumber = this.isTestMobile(mobile);
    const otp = testNumber ? this.testMobiles!.otp : newOtp(otpRules.length);
    const txnId = newTxnId();
    const now = this.now();
    const minute = Math.floor(now / MINUTE_MS);
    const validityMs = otpRules.validity_seconds * 1000;
    const gateKeys = [keys.otpAddressWindow(address), keys.otpCountryMinute(minute), keys.otpTransaction(txnId)];
    const gate = await this.scripts.run('passOtpGate', gateKeys, [
      now,
      validityMs,
      otpRules.per_address_max,
      otpRules.per_address_window_seconds * 1000,
      otpRules.country_max_per_minute,
      (minute + 1) * MINUTE_MS,
      testNumber ? '1' : '0',
      // the txnId's record: the account, and the mobile's last 4 digits for the token (CoWIN's masked claim)
      `${accountId}|${mobile.slice(-4)}`,
    ]);
    if (code(gate) !== Status.OK) return failure(gate, 'retryAfter');
    const reply = await this.scripts.run(
      'issueOtp',
      [account.pendingOtp(txnId), account.otpRequester(address), account.blocked()],
      [
        sha256Hex(otp),
        now,
        validityMs,
        otpRules.resend_after_seconds * 1000,
        otpRules.max_per_day,
        // the same day as the search quota's
        this.country.rules.search_quota.day_seconds * 1000,
        testNumber ? '1' : '0',
      ],
    );
    if (code(reply) !== Status.OK) {
      // the answer is the refusal whatever happens here: a refund that fails leaves a limit stricter
      await this.scripts.run('refundOtpGate', gateKeys, [gate[1] as string]).catch(() => {});
      return failure(reply, 'retryAfter');
    }
    if (testNumber && this.testMobiles?.securityCode) {
      // only then: the booking must know the account is a test number's, which its id (a keyed hash) hides
      await this.redis.set(account.testNumberAccount(), '1', 'PX', TEST_NUMBER_MARK_MS);
    }
    return { ok: true, status: Status.OK, txnId, otp: testNumber ? null : otp, remainingToday: reply[1] as number };
  }

  /**
   * Confirm an OTP (sent as its sha256 hex, as CoWIN clients do) and open a login session.
   * `replacedSid` is the login session it ended ('' when none was live), already pushed to every
   * gateway through the revocation stream.
   */
  async verifyOtp(txnId: string, otpSha256: string): Promise<Outcome<{ accountId: string; sid: string; mobileLast4: string; replacedSid: string }>> {
    if (!isTxnId(txnId) || !/^[0-9a-f]{64}$/i.test(otpSha256)) return { ok: false, status: Status.INVALID_OTP };
    // a second round trip, on logins only: the txnId is a plain UUID, as CoWIN clients expect
    const txn = txnId.toLowerCase();
    const record = await this.redis.get(keys.otpTransaction(txn));
    if (!record) return { ok: false, status: Status.INVALID_OTP };
    const [accountId = '', mobileLast4 = ''] = record.split('|');
    const rules = this.country.rules;
    const sid = newLoginSessionId();
    const account = this.accountKeys(accountId);
    const reply = await this.scripts.run(
      'verifyOtp',
      [account.pendingOtp(txn), account.authSession(), account.blocked(), account.loginRevocations()],
      [otpSha256.toLowerCase(), this.now(), sid, rules.otp.max_attempts, rules.token_ttl_seconds * 1000, this.revocationCap],
    );
    if (code(reply) !== Status.OK) return failure(reply, 'retryAfter');
    return { ok: true, status: Status.OK, accountId, sid, mobileLast4, replacedSid: reply[1] as string };
  }

  /** True while the login session a token carries has not been revoked or replaced. */
  async isLoginLive(accountId: string, sid: string): Promise<boolean> {
    return (await this.redis.hget(this.accountKeys(accountId).authSession(), 'sid')) === sid;
  }

  /**
   * Count one protected search; also tells whether the login is still live. A logout or a block
   * (QUOTA_LOGOUT, ACCOUNT_BLOCKED after the day's last search) ends the login session `sid`, pushed
   * to every gateway through the revocation stream.
   */
  async consumeSearchQuota(accountId: string, sid: string): Promise<Outcome<QuotaAnswer>> {
    const reply = await this.searchQuotas.submit(this.partitions.of(accountId), { accountId, sid });
    if (code(reply) !== Status.OK) return failure(reply, 'retryAfter');
    return {
      ok: true,
      status: Status.OK,
      remaining: reply[1] as number,
      resetMs: reply[2] as number,
      remainingToday: reply[3] as number,
    };
  }

  /**
   * One partition's searches of one event-loop turn (engine/coalesce.ts): alone, the single-search
   * script; several, consumeSearchQuotas, which decides each as consumeSearchQuota would, in order.
   */
  private async sendSearchQuotas(partition: number, searches: { accountId: string; sid: string }[]): Promise<unknown[][]> {
    if (searches.length === 1) {
      const call = this.searchQuotaCall(searches[0]!.accountId, searches[0]!.sid);
      return [await this.scripts.run('consumeSearchQuota', call.keys, call.args)];
    }
    const q = this.country.rules.search_quota;
    const batchKeys = [keys.loginRevocations(this.partitions, partition), keys.quotaChanges(this.partitions, partition)];
    const args: (string | number)[] = [this.now(), q.window_seconds * 1000, q.max_per_window, q.day_seconds * 1000, q.max_per_day, q.block_seconds * 1000, this.revocationCap];
    for (const { accountId, sid } of searches) {
      const account = this.accountKeys(accountId);
      batchKeys.push(account.authSession(), account.searchWindow(), account.searchDay(), account.blocked());
      args.push(sid, accountId);
    }
    return (await this.scripts.run('consumeSearchQuotas', batchKeys, args)) as unknown[][];
  }

  /** The keys and arguments of one search-quota script call (also what the engine benchmark replays). */
  searchQuotaCall(accountId: string, sid: string): { keys: string[]; args: (string | number)[] } {
    const q = this.country.rules.search_quota;
    const account = this.accountKeys(accountId);
    return {
      keys: [account.authSession(), account.searchWindow(), account.searchDay(), account.blocked(), account.loginRevocations(), account.quotaChanges()],
      args: [sid, this.now(), q.window_seconds * 1000, q.max_per_window, q.day_seconds * 1000, q.max_per_day, q.block_seconds * 1000, this.revocationCap, accountId],
    };
  }

  /** Count one public API call from an address. */
  async consumePublicQuota(address: string): Promise<Outcome<QuotaAnswer>> {
    const limit = this.country.rules.public_rate_limit;
    const reply = await this.scripts.run('consumePublicQuota', [keys.publicCalls(address)], [limit.window_seconds * 1000, limit.max_calls]);
    if (code(reply) !== Status.OK) return failure(reply, 'retryAfter');
    return { ok: true, status: Status.OK, remaining: reply[1] as number, resetMs: reply[2] as number };
  }

  /** Remember the answer of the captcha just shown to an account (the previous one stops working). */
  async issueCaptcha(accountId: string, answer: string, validForMs = 300_000): Promise<void> {
    await this.scripts.run('issueCaptcha', [this.accountKeys(accountId).captcha()], [sha256Hex(answer.toLowerCase()), validForMs]);
  }

  /** Check a captcha answer; it is used up either way. */
  async verifyCaptcha(accountId: string, answer: string): Promise<Outcome> {
    const reply = await this.scripts.run('verifyCaptcha', [this.accountKeys(accountId).captcha()], [sha256Hex(answer.trim().toLowerCase())]);
    if (code(reply) !== Status.OK) return failure(reply);
    return { ok: true, status: Status.OK };
  }

  // ---------------------------------------------------------------- beneficiaries

  /**
   * A photo ID's normal form and keyed hash, or null when the number does not fit its type. One
   * document, one account: the country file's rule gives every way of writing a number one form.
   */
  private photoIdOf(photoIdType: number, photoIdNumber: string): { normal: string; hash: string } | null {
    const photoId = this.country.photoIdNumber(photoIdType, photoIdNumber);
    if (!photoId.ok) return null;
    return { normal: photoId.normal, hash: photoIdHashOf(photoIdType, photoId.normal, this.secret) };
  }

  /**
   * What registration stores of a new beneficiary (the scripts add the id, version and dose fields:
   * lua/includes/beneficiaryRecord.lua), or null when the photo ID number does not fit its type.
   */
  beneficiaryToStore(input: NewBeneficiary): { photoIdHash: string; stored: Record<string, string | number> } | null {
    const photoId = this.photoIdOf(input.photo_id_type, input.photo_id_number);
    if (!photoId) return null;
    const stored = {
      name: input.name,
      birth_year: input.birth_year,
      gender_id: input.gender_id,
      photo_id_type: input.photo_id_type,
      photo_id_last4: photoId.normal.slice(-4),
      photo_id_hash: photoId.hash,
      comorbidity: input.comorbidity_ind,
      consent_version: input.consent_version,
    };
    return { photoIdHash: photoId.hash, stored };
  }

  async addBeneficiary(accountId: string, input: NewBeneficiary): Promise<Outcome<{ beneficiaryId: string }>> {
    if (this.partitioned) return this.partitioned.beneficiaries.register(accountId, input);
    const beneficiary = this.beneficiaryToStore(input);
    if (!beneficiary) return { ok: false, status: Status.INVALID_PHOTO_ID };
    const { photoIdHash, stored } = beneficiary;
    const reply = await this.change(
      'addBeneficiary',
      [keys.account(accountId), keys.photoId(photoIdHash), keys.beneficiarySequence(), keys.outbox()],
      [accountId, this.now(), this.country.rules.beneficiaries_per_account, JSON.stringify(stored), this.firstReference],
    );
    if (code(reply) !== Status.OK) return failure(reply);
    return { ok: true, status: Status.OK, beneficiaryId: String(reply[1]) };
  }

  async deleteBeneficiary(accountId: string, beneficiaryId: string): Promise<Outcome> {
    if (this.partitioned) return this.partitioned.beneficiaries.remove(accountId, beneficiaryId);
    const raw = await this.redis.hget(keys.account(accountId), beneficiaryField(beneficiaryId));
    if (!raw) return { ok: false, status: Status.BENEFICIARY_NOT_FOUND };
    const ben = decodeBeneficiary(`account hash ${accountId}, beneficiary ${beneficiaryId}`, raw);
    const reply = await this.change(
      'deleteBeneficiary',
      [keys.account(accountId), keys.photoId(ben.photo_id_hash), keys.outbox()],
      [accountId, beneficiaryId, ben.photo_id_hash, this.now(), this.today()],
    );
    if (code(reply) !== Status.OK) return failure(reply);
    return { ok: true, status: Status.OK };
  }

  /** The account's beneficiary registered with this photo ID, or null (also when the number does not fit its type). */
  async beneficiaryWithPhotoId(accountId: string, photoIdType: number, photoIdNumber: string): Promise<StoredBeneficiary | null> {
    const photoId = this.photoIdOf(photoIdType, photoIdNumber);
    if (!photoId) return null;
    return (await this.listBeneficiaries(accountId)).find((ben) => ben.photo_id_hash === photoId.hash) ?? null;
  }

  /** The account's beneficiaries, in registration order. */
  async listBeneficiaries(accountId: string): Promise<StoredBeneficiary[]> {
    if (this.partitioned) return this.partitioned.beneficiaries.list(accountId);
    return decodeAccountHash(accountId, await this.redis.hgetall(keys.account(accountId)))?.beneficiaries ?? [];
  }

  // ---------------------------------------------------------------- appointments

  async getAppointment(appointmentId: string): Promise<Appointment | null> {
    if (this.partitioned) {
      // a booking still between its steps is no appointment yet; a reschedule in flight still is, where it was
      const held = await this.partitioned.booking.getAppointment(appointmentId);
      return held && held.pending !== 'book' ? held.appointment : null;
    }
    return decodeAppointmentHash(appointmentId, await this.redis.hgetall(keys.appointment(appointmentId)));
  }

  /**
   * Random digits for the security codes of a booking of `count` beneficiaries (4 each), or a test
   * number's fixed code when the deployment sets one (demo only).
   */
  async securityCodeDigits(accountId: string, count: number): Promise<string> {
    const fixed = this.testMobiles?.securityCode;
    if (fixed && (await this.redis.exists(this.accountKeys(accountId).testNumberAccount()))) return fixed.repeat(count);
    let digits = '';
    for (let i = 0; i < count; i++) digits += String(randomInt(0, 10 ** SECURITY_CODE_DIGITS)).padStart(SECURITY_CODE_DIGITS, '0');
    return digits;
  }

  /** Book beneficiaries of one account into a session slot: all of them or none. */
  async book(
    request: BookingRequest,
  ): Promise<Outcome<{ appointmentId: string; availableAfter?: number; securityCodes: SecurityCode[]; accessLogged?: boolean }>> {
    if (this.partitioned) return this.partitioned.booking.book(request);
    const { accountId, sessionId, slot, dose, beneficiaryIds, idempotencyKey } = request;
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      return { ok: false, status: Status.IDEMPOTENCY_MISMATCH };
    }
    const appointmentId = newAppointmentId();
    const fingerprint = bookingFingerprint(request);
    const codeDigits = await this.securityCodeDigits(accountId, beneficiaryIds.length);
    const securityCodes = beneficiaryIds.map((beneficiaryId, i) => ({ beneficiaryId, code: codeDigits.slice(i * 4, i * 4 + 4) }));
    const reply = await this.bookings.submit(BOOKING_PARTITION, {
      appointmentId,
      sessionId,
      accountId,
      slot,
      dose,
      fingerprint,
      codeDigits,
      beneficiaryIds,
      idempotencyKey: idempotencyKey ?? '-',
      accessRoute: request.access?.route ?? '',
      accessAddress: request.access?.address ?? '',
    });
    if (reply instanceof Error) throw reply;
    const status = code(reply);
    if (status === Status.OK) {
      return { ok: true, status, appointmentId: reply[1] as string, availableAfter: reply[2] as number, securityCodes, accessLogged: request.access !== undefined };
    }
    if (status === Status.REPLAYED) {
      // the first answer's codes, as the appointment keeps them
      const appointmentId = reply[1] as string;
      const codes = beneficiaryIds.length ? await this.redis.hmget(keys.appointment(appointmentId), ...beneficiaryIds.map(appointmentField.securityCode)) : [];
      const securityCodes = beneficiaryIds.map((beneficiaryId, i) => ({ beneficiaryId, code: codes[i] ?? '' }));
      return { ok: true, status, appointmentId, securityCodes };
    }
    return failure(reply, 'beneficiary');
  }

  /**
   * The bookings of one event-loop turn (engine/coalesce.ts): alone, the single-booking script as
   * before; several, bookAppointments, which decides and writes each as bookAppointment would, in
   * order. `now` and `today` are read once for the batch: its bookings are decided at one instant.
   *
   * Durability as change() gives a single booking: once the batch made any change (an accepted or
   * replayed booking), one WAIT covers the whole batch, and if the replicas fall short, exactly the
   * bookings that changed something fail with the error; a refused booking changed nothing and keeps
   * its answer.
   */
  private async sendBookings(bookings: BookingCall[]): Promise<(unknown[] | Error)[]> {
    const now = this.now();
    const today = this.today();
    if (bookings.length === 1) {
      const { keys: callKeys, args } = this.bookingCall(bookings[0]!, now, today);
      return [await this.change('bookAppointment', callKeys, args)];
    }
    const batchKeys = [keys.outbox(), keys.availability()];
    const args: (string | number)[] = [now, today, this.idempotencyTtlMs, this.availabilityCap];
    for (const b of bookings) {
      batchKeys.push(keys.session(b.sessionId), keys.account(b.accountId), keys.appointment(b.appointmentId), keys.idempotency(b.accountId, b.idempotencyKey));
      args.push(b.appointmentId, b.sessionId, b.accountId, b.slot, b.dose, b.fingerprint, b.codeDigits, b.accessRoute, b.accessAddress, b.beneficiaryIds.length, ...b.beneficiaryIds);
    }
    // a booking whose call Redis refused comes back as an Error element (ioredis's reply parser)
    const replies = (await this.scripts.run('bookAppointments', batchKeys, args)) as (unknown[] | Error)[];
    const changedSomething = (reply: unknown[] | Error) => !(reply instanceof Error) && (code(reply) === Status.OK || code(reply) === Status.REPLAYED);
    const changes = replies.filter(changedSomething).length;
    if (changes === 0) return replies;
    try {
      await this.durability.afterChange(batchKeys[0]!, changes);
    } catch (error) {
      const failed = error instanceof Error ? error : new Error(String(error));
      return replies.map((reply) => (changedSomething(reply) ? failed : reply));
    }
    return replies;
  }

  /** The keys and arguments of one single-booking script call (bookAppointment-6.lua). */
  private bookingCall(b: BookingCall, now: number, today: number): { keys: string[]; args: (string | number)[] } {
    return {
      keys: [keys.session(b.sessionId), keys.account(b.accountId), keys.appointment(b.appointmentId), keys.idempotency(b.accountId, b.idempotencyKey), keys.outbox(), keys.availability()],
      args: [b.appointmentId, b.sessionId, b.accountId, b.slot, b.dose, now, today, b.fingerprint, this.idempotencyTtlMs, this.availabilityCap, b.codeDigits, b.accessRoute, b.accessAddress, ...b.beneficiaryIds],
    };
  }

  /** Cancel some beneficiaries of an appointment (all still booked when none are named). */
  async cancel(accountId: string, appointmentId: string, beneficiaryIds: string[] = []): Promise<Outcome<{ cancelled: number }>> {
    if (this.partitioned) return this.partitioned.booking.cancel(accountId, appointmentId, beneficiaryIds);
    return this.withFreshSession(appointmentId, async (sessionId) => {
      const reply = await this.change(
        'cancelAppointment',
        [keys.session(sessionId), keys.account(accountId), keys.appointment(appointmentId), keys.outbox(), keys.availability()],
        [appointmentId, accountId, sessionId, this.now(), this.availabilityCap, ...beneficiaryIds],
      );
      if (code(reply) !== Status.OK) return failure(reply, 'beneficiary');
      return { ok: true, status: Status.OK, cancelled: reply[1] as number };
    });
  }

  /** Move an appointment to another session and slot, atomically. */
  async reschedule(
    accountId: string,
    appointmentId: string,
    newSessionId: string,
    newSlot: string,
  ): Promise<Outcome<{ availableAfter: number }>> {
    if (this.partitioned) return this.partitioned.booking.reschedule(accountId, appointmentId, newSessionId, newSlot);
    return this.withFreshSession(appointmentId, async (sessionId) => {
      const reply = await this.change(
        'rescheduleAppointment',
        [
          keys.session(sessionId),
          keys.session(newSessionId),
          keys.account(accountId),
          keys.appointment(appointmentId),
          keys.outbox(),
          keys.availability(),
        ],
        [appointmentId, accountId, sessionId, newSessionId, newSlot, this.now(), this.today(), this.availabilityCap],
      );
      if (code(reply) !== Status.OK) return failure(reply, 'beneficiary');
      return { ok: true, status: Status.OK, availableAfter: reply[1] as number };
    });
  }

  /**
   * A vaccinator records a dose given to one beneficiary of an appointment, with the security code
   * the citizen gives. Wrong codes are counted per appointment (`triesLeft`); past the limit it is locked.
   */
  async markVaccinated(vaccination: Vaccination): Promise<Outcome<{ dose: number; vaccine: string; date: number; certificateId: string }>> {
    if (this.partitioned) return this.partitioned.booking.markVaccinated(vaccination);
    const { appointmentId, beneficiaryId, securityCode, vaccinatorId, centerIds } = vaccination;
    return this.withFreshSession(appointmentId, async (sessionId, accountId) => {
      const certificateId = newCertificateId();
      const prepared = await this.prepareCertificate(certificateId, vaccination, await this.readVaccinationFacts(vaccination, sessionId, accountId));
      const reply = await this.change(
        'markVaccinated',
        [
          keys.session(sessionId),
          keys.account(accountId),
          keys.appointment(appointmentId),
          keys.outbox(),
          keys.certificate(certificateId),
          keys.beneficiaryCertificates(beneficiaryId),
        ],
        [
          appointmentId,
          beneficiaryId,
          sessionId,
          this.now(),
          vaccinatorId,
          securityCode,
          this.securityCodeMaxWrong,
          centerIds.join(','),
          prepared?.beneficiaryVersion ?? -1,
          prepared?.signed.certificateId ?? '',
          prepared?.signed.jws ?? '',
          prepared?.signed.kid ?? '',
          prepared?.signed.rid ?? '',
        ],
      );
      if (code(reply) !== Status.OK) return failure(reply, 'beneficiary');
      return {
        ok: true,
        status: Status.OK,
        dose: reply[1] as number,
        vaccine: reply[2] as string,
        date: reply[3] as number,
        certificateId: reply[4] as string,
      };
    });
  }

  /** Read what signing a vaccination's certificate needs, in the single-slot layout (one slot: one pipeline). */
  private async readVaccinationFacts(vaccination: Vaccination, sessionId: string, accountId: string): Promise<VaccinationFacts> {
    const { appointmentId, beneficiaryId } = vaccination;
    const [rawBen, [centerText, dateText, vaccine], [doseText, status, storedCode]] = (await this.redis
      .pipeline()
      .hget(keys.account(accountId), beneficiaryField(beneficiaryId))
      .hmget(keys.session(sessionId), 'center_id', 'date', 'vaccine')
      .hmget(keys.appointment(appointmentId), 'dose', appointmentField.status(beneficiaryId), appointmentField.securityCode(beneficiaryId))
      .exec()
      .then((replies) =>
        (replies ?? []).map(([err, value]) => {
          if (err) throw err;
          return value;
        }),
      )) as [string | null, (string | null)[], (string | null)[]];
    return { accountId, rawBen, centerId: Number(centerText), date: Number(dateText), vaccine: vaccine ?? null, dose: Number(doseText), status: status ?? null, storedCode: storedCode ?? null };
  }

  /**
   * Sign the certificate a vaccination would issue, from the records as they stand (the script then
   * checks the beneficiary has not changed). Nothing is signed, and null returned, when the records
   * already show the script will refuse (another centre, not booked, a wrong code): signing costs a
   * little, and a refused vaccination drops the certificate anyway. Both layouts sign here.
   */
  async prepareCertificate(
    certificateId: string,
    vaccination: Vaccination,
    facts: VaccinationFacts,
  ): Promise<{ beneficiaryVersion: number; signed: SignedCertificate } | null> {
    const { securityCode, centerIds } = vaccination;
    const { accountId, rawBen, centerId, date, vaccine, dose, status, storedCode } = facts;
    if (!rawBen || !vaccine || !centerIds.includes(centerId) || status !== 'booked' || (storedCode && storedCode !== securityCode)) return null;
    const ben = decodeBeneficiary(`account hash ${accountId}, beneficiary ${vaccination.beneficiaryId}`, rawBen);
    const center = this.country.centersById.get(centerId);
    const district = center && this.country.districtsById.get(center.district_id);
    const state = district && this.country.statesById.get(district.state_id);
    const signed = await signHealthCard(this.certificates.ring, {
      certificateId,
      issuer: this.certificates.issuer,
      issuedAt: this.now(),
      name: ben.name,
      birthYear: ben.birth_year,
      photoIdType: this.country.data.photo_id_types.find((t) => t.id === ben.photo_id_type)?.type ?? String(ben.photo_id_type),
      photoIdLast4: ben.photo_id_last4,
      vaccine,
      dose,
      cvx: this.country.vaccinesByName.get(vaccine)?.cvx ?? CVX_UNSPECIFIED,
      // the vaccine's primary series (1 for a single-dose vaccine); a precaution dose goes past it
      seriesDoses: Math.max(this.country.primaryDoses(vaccine), dose),
      date: formatIsoDate(date),
      centerName: center?.name ?? `centre ${centerId}`,
      place: [district?.district_name, state?.state_name].filter(Boolean).join(', '),
      countryName: this.country.data.country.name,
      countryCode: this.country.data.country.code,
    });
    return { beneficiaryVersion: ben.version ?? 0, signed };
  }

  /**
   * Scripts that change an existing appointment need its session's key, which only the appointment
   * knows. Read it, run the script with it; the script refuses (STALE_APPOINTMENT) when a concurrent
   * reschedule moved the appointment in between, and we read again.
   */
  private async withFreshSession<T extends object>(
    appointmentId: string,
    attempt: (sessionId: string, ownerAccountId: string) => Promise<Outcome<T>>,
  ): Promise<Outcome<T>> {
    let outcome: Outcome<T> = { ok: false, status: Status.STALE_APPOINTMENT };
    for (let i = 0; i < STALE_RETRIES && !outcome.ok && outcome.status === Status.STALE_APPOINTMENT; i++) {
      const [owner, sessionId] = await this.redis.hmget(keys.appointment(appointmentId), 'account_id', 'session_id');
      if (!owner || !sessionId) return { ok: false, status: Status.APPOINTMENT_NOT_FOUND };
      outcome = await attempt(sessionId, owner);
    }
    return outcome;
  }
}
