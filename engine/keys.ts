/**
 * Every Redis key name teeka uses. Nothing else in the code base concatenates key names.
 *
 * Partitions (the `{...}` hash tag decides the Redis Cluster slot):
 *
 * - `{bk}` — the booking partition: sessions, accounts with their beneficiaries, appointments,
 *   idempotency records, the outbox and the availability stream. A booking checks a session's capacity
 *   and every beneficiary's live appointments across all sessions in one atomic script, so all of
 *   these share one slot. One Redis primary runs the booking script at tens of thousands per second
 *   (see loadtest/engine-bench.ts), far above CoWIN's booking peak (about 740 registrations per
 *   second on 28 April 2021); bookings are a small share of traffic.
 * - `{u:<account>}` — one per citizen account: OTP state, login session, search quota and blocks.
 *   Searches are the bulk of traffic and each touches only its caller's slot, so they spread over
 *   a cluster.
 * - `{ip:<address>}` — one per client address: the public API's per-IP limit.
 * - `{persist}` — the persistence worker's queue (Bull) and its consumer heartbeats.
 *
 * Isolation between deployments or tests is a key prefix given to ioredis (`keyPrefix`), which
 * prefixes every key passed through KEYS; it contains no braces, so it never changes the slot.
 */

const BOOKING = '{bk}';
const PERSIST = '{persist}';

const user = (accountId: string) => `{u:${accountId}}`;

export const keys = {
  // booking partition
  /** hash: one vaccination session (centre × date × vaccine × age limit) with capacities and slot counters */
  session: (sessionId: string) => `${BOOKING}:session:${sessionId}`,
  /** sorted set: session ids scored by their date (epoch day), for loading a date range */
  sessionsByDate: () => `${BOOKING}:sessions`,
  /** hash: an account and its beneficiaries (`ben:<id>` → JSON) */
  account: (accountId: string) => `${BOOKING}:account:${accountId}`,
  /** string: which beneficiary holds a photo ID (keyed hash of type + number) */
  photoId: (photoIdHash: string) => `${BOOKING}:photoid:${photoIdHash}`,
  /** counter: the last beneficiary reference number handed out */
  beneficiarySequence: () => `${BOOKING}:seq:beneficiary`,
  /** hash: one appointment (one or more beneficiaries of one account, one session and slot) */
  appointment: (appointmentId: string) => `${BOOKING}:appointment:${appointmentId}`,
  /** string: the answer to a booking made under a client-supplied idempotency key */
  idempotency: (accountId: string, idempotencyKey: string) => `${BOOKING}:idem:${accountId}:${idempotencyKey}`,
  /** stream: every booking-domain change, drained by the worker into PostgreSQL */
  outbox: () => `${BOOKING}:outbox`,
  /**
   * stream: outbox entries PostgreSQL refused for good (a data error), set aside with the database's
   * error for an operator; beside the outbox, so an entry moves from one to the other atomically
   */
  outboxDeadLetters: () => `${BOOKING}:outbox:dead-letters`,
  /** capped stream: new available capacity of each session after each change, tailed by gateways */
  availability: () => `${BOOKING}:availability`,

  // per-account partition
  /** hash: the pending OTP of a mobile (txnId, hash, expiry, attempts) */
  otp: (accountId: string) => `${user(accountId)}:otp`,
  /** counter: OTPs issued in the current 24 h window */
  otpDay: (accountId: string) => `${user(accountId)}:otp:day`,
  /** hash: the live login session (sid); deleting it revokes the account's token */
  authSession: (accountId: string) => `${user(accountId)}:auth`,
  /** counter: searches in the current short window (15 min) */
  searchWindow: (accountId: string) => `${user(accountId)}:search:window`,
  /** counter: searches in the current 24 h window */
  searchDay: (accountId: string) => `${user(accountId)}:search:day`,
  /** string with TTL: sha256 of the answer to the latest captcha shown to the account */
  captcha: (accountId: string) => `${user(accountId)}:captcha`,
  /** string with TTL: present while the account is blocked */
  blocked: (accountId: string) => `${user(accountId)}:blocked`,

  // per-address partition
  /** counter: public API calls from one address in the current window */
  publicCalls: (address: string) => `{ip:${address}}:public`,

  // persistence partition: the worker's own coordination, never touched by a booking script
  /** string with TTL: refreshed by a live outbox consumer; once it is gone, other workers claim its pending entries */
  persistConsumer: (consumer: string) => `${PERSIST}:consumer:${consumer}`,
  /** string with TTL: held by the one worker taking the current snapshot of daily quotas */
  quotaSnapshotLock: () => `${PERSIST}:quota-snapshot`,
} as const;

/**
 * Bull's key prefix for the persistence queue. Bull's clients do not use ioredis `keyPrefix`, so the
 * deployment prefix is part of it; the `{persist}` hash tag keeps Bull's multi-key scripts in one slot.
 */
export function persistQueuePrefix(redisKeyPrefix: string): string {
  return `${redisKeyPrefix}${PERSIST}`;
}

/**
 * Glob patterns (relative to the key prefix) that select the per-account keys whose daily values
 * survive a Redis loss through PostgreSQL snapshots: searches and OTPs of the day, and blocks.
 */
export const dailyQuotaKeyPatterns = {
  searchDay: '{u:*}:search:day',
  otpDay: '{u:*}:otp:day',
  blocked: '{u:*}:blocked',
} as const;

/** The account id inside a per-account key, e.g. `{u:abc}:search:day` → `abc`. */
export function accountOfUserKey(key: string): string | null {
  const match = /\{u:([^}]+)\}/.exec(key);
  return match ? match[1]! : null;
}

/** Keys of the booking partition match this glob (after the prefix); used to wipe it on rebuild. */
export const bookingPartitionPattern = `${BOOKING}:*`;
