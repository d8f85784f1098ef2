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
 * - `{otp}` — the OTP issuing gate: per-address OTP windows and the country-wide OTP counter. The
 *   counter is a hot key (every OTP issued in the country increments it), so this slot carries all
 *   OTP issuing: the login rate, a few thousand a second at the most, far below one primary's capacity.
 *   issueOtp is the one script that spans two slots (`{u:<account>}` and `{otp}`): the limits and
 *   the issue are one round trip and one decision on a single Redis. On Redis Cluster it becomes two
 *   steps, the gate on `{otp}` and then the issue on the account's slot (a gate passed by a request
 *   the account then refuses counts one OTP that was not sent: harmless for a limit).
 * - `{auth}` — the login revocation stream: every login session a newer login, a quota logout or a
 *   block ended, tailed by every gateway thread so that no booking or search reads the login session
 *   from Redis (gateway/revocations.ts). It is appended by the scripts that end login sessions
 *   (verifyOtp, consumeSearchQuota), which therefore span two slots (`{u:<account>}` and `{auth}`) as
 *   issueOtp does: one decision and one round trip on a single Redis. On Redis Cluster the stream
 *   goes with the accounts' partitions (one per partition, as the outbox and availability streams),
 *   and each gateway thread follows all of them.
 * - `{persist}` — the persistence worker's queue (Bull) and its consumer heartbeats.
 *
 * Isolation between deployments or tests is a key prefix given to ioredis (`keyPrefix`), which
 * prefixes every key passed through KEYS; it contains no braces, so it never changes the slot.
 */

const BOOKING = '{bk}';
const PERSIST = '{persist}';
const OTP_GATE = '{otp}';
const AUTH = '{auth}';

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
  /**
   * hash: an operator (vaccinator or admin) issued by an admin: role, centre ids, the secret's scrypt
   * hash, active or revoked. In the booking partition because its changes go through the outbox.
   */
  operator: (operatorId: string) => `${BOOKING}:operator:${operatorId}`,
  /** hash with TTL: an operator's live login session (sid, role, centres); deleting it revokes the token */
  operatorSession: (operatorId: string) => `${BOOKING}:operator-session:${operatorId}`,
  /** hash: one vaccination certificate (the signed card, whom and what it certifies, issued or revoked) */
  certificate: (certificateId: string) => `${BOOKING}:certificate:${certificateId}`,
  /** hash: a beneficiary's certificates, dose → certificate id */
  beneficiaryCertificates: (beneficiaryId: string) => `${BOOKING}:beneficiary-certificates:${beneficiaryId}`,
  /**
   * sorted set: the revocation ids (rid) of revoked certificates signed with one issuer key, scored by
   * when they were revoked: the key's card revocation list (`/.well-known/crl/<kid>.json`)
   */
  certificateRevocations: (kid: string) => `${BOOKING}:crl:${kid}`,
  /** capped stream: new available capacity of each session after each change, tailed by gateways */
  availability: () => `${BOOKING}:availability`,
  /**
   * string: the id of the deployment (PostgreSQL's `deployment` row) this booking partition was laid
   * out for, or `rebuilding:<id>` while a rebuild runs. Kept in the booking partition so that it is
   * lost with the bookings: a Redis without it was emptied (see worker/deployment.ts).
   */
  deployment: () => `${BOOKING}:deployment`,

  // per-account partition
  /** hash: one pending OTP (hash, expiry, wrong answers), under its own txnId so a newer one never replaces it */
  pendingOtp: (accountId: string, txnId: string) => `${user(accountId)}:otp:${txnId}`,
  /**
   * hash: the OTPs one address asked for this mobile (the requester): when the last was issued (resend
   * cooldown) and how many in the day window. A stranger's requests fill the stranger's record only.
   */
  otpRequester: (accountId: string, address: string) => `${user(accountId)}:otp-from:${address}`,
  /** hash: the live login session (sid); deleting it revokes the account's token */
  authSession: (accountId: string) => `${user(accountId)}:auth`,
  /** hash: searches in the current short window (15 min) that opened with the first of them; a logout leaves it */
  searchWindow: (accountId: string) => `${user(accountId)}:search:window`,
  /** counter: searches in the current 24 h window */
  searchDay: (accountId: string) => `${user(accountId)}:search:day`,
  /** string with TTL: sha256 of the answer to the latest captcha shown to the account */
  captcha: (accountId: string) => `${user(accountId)}:captcha`,
  /** string with TTL: present while the account is blocked */
  blocked: (accountId: string) => `${user(accountId)}:blocked`,
  /**
   * string with TTL: the account is a test number's (demo only, written at its OTP when test numbers
   * have a fixed security code; the account id, a keyed hash, does not tell)
   */
  testNumberAccount: (accountId: string) => `${user(accountId)}:test-number`,

  // per-address partition
  /** counter: public API calls from one address in the current window */
  publicCalls: (address: string) => `{ip:${address}}:public`,

  // OTP issuing gate (see the `{otp}` partition above)
  /** hash: OTPs issued to one client address (any mobile) in the window that opened with the first */
  otpAddressWindow: (address: string) => `${OTP_GATE}:address:${address}`,
  /**
   * counter: OTPs issued in the whole country in one clock minute (minutes since epoch). A hot key:
   * every OTP request in the country touches it, so it stays a single INCR per issued OTP.
   */
  otpCountryMinute: (minute: number) => `${OTP_GATE}:minute:${minute}`,
  /** the account an OTP's txnId (a plain UUID, as CoWIN's) belongs to, while the OTP is valid */
  otpTransaction: (txnId: string) => `${OTP_GATE}:txn:${txnId}`,

  // login revocations (see the `{auth}` partition above)
  /**
   * capped stream: login session ids that were ended before their tokens expire (`s` the id, `t`
   * when), appended by the script that ends them and tailed by every gateway thread
   */
  loginRevocations: () => `${AUTH}:revocations`,

  // persistence partition: the worker's own coordination, never touched by a booking script
  /** string with TTL: refreshed by a live outbox consumer; once it is gone, other workers claim its pending entries */
  persistConsumer: (consumer: string) => `${PERSIST}:consumer:${consumer}`,
  /**
   * string with TTL: the queue depth a worker last read (engine/records.ts `QueueDepth`), refreshed
   * every second; gone a few seconds after the last worker stopped, so readers say "unknown"
   */
  workerQueueDepth: () => `${PERSIST}:queue-depth`,
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
 * survive a Redis loss through PostgreSQL snapshots: searches of the day, and blocks. OTP counts are
 * kept per requester (mobile × address), not per account: they limit who asks, not the citizen, and
 * after a Redis loss the per-address and country limits still hold while they start again.
 */
export const dailyQuotaKeyPatterns = {
  searchDay: '{u:*}:search:day',
  blocked: '{u:*}:blocked',
} as const;

/** The account id inside a per-account key, e.g. `{u:abc}:search:day` → `abc`. */
export function accountOfUserKey(key: string): string | null {
  const match = /\{u:([^}]+)\}/.exec(key);
  return match ? match[1]! : null;
}

/** Keys of the booking partition match this glob (after the prefix); used to wipe it on rebuild. */
export const bookingPartitionPattern = `${BOOKING}:*`;
