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
 *   second on 28 April 2021); bookings are a small share of traffic. It is still one slot, so on a
 *   cluster every booking the gateway takes runs on one master. The partitioned booking
 *   (engine/partitioned-booking.md, engine/partitioned-booking.ts) is built and tested beside it,
 *   not yet switched on: its keys are under "the partitioned booking" below.
 * - `{p:<n>}` — the virtual partitions (engine/partitions.ts): a fixed number of them, an account's
 *   partition is a hash of its id. (The tag is `{p:<n>}` or `{p:<n>.<k>}`: chosen so partitions
 *   spread evenly over a cluster's masters.) A partition holds its accounts' OTP state, login session, search
 *   quota and blocks (`{p:<n>}:u:<account>:…`), and the partition's login revocation stream
 *   (`{p:<n>}:revocations`): every login session a newer login, a quota logout or a block ended,
 *   appended by the script that ends it (verifyOtp, consumeSearchQuota) in the same atomic step, and
 *   tailed by every gateway thread (gateway/revocations.ts) so that no booking or search reads the
 *   login session from Redis; and the set of its accounts whose daily quotas changed since the
 *   worker's last snapshot of them (`{p:<n>}:quota-changes`). Searches are the bulk of traffic and each touches only its caller's
 *   partition, so they spread over a cluster. Redis Cluster places partitions on masters and a
 *   resharding moves whole partitions. The partitioned booking's records live here too: a session's
 *   hash, its claims (`{p:<n>}:claim:<booking id>`) and the partition's availability stream in the
 *   session's partition p(S); an account's booking hash, idempotency records, appointments and
 *   certificates (ids drawn to hash to the account's partition) and its beneficiaries' certificate
 *   indexes in p(A); each partition's part of a key's revocation list; a photo ID's entry in the photo ID's own
 *   partition (engine/partitioned-beneficiaries.ts); and per partition its intents (sorted by
 *   deadline), its beneficiary counter and its outbox stream. Each step script's keys are in one of the two.
 * - `{ip:<address>}` — one per client address: the public API's per-IP limit.
 * - `{otp}` — the OTP issuing gate: per-address OTP windows, the country-wide OTP counter, and each
 *   txnId's record (the account it belongs to). The counter is a hot key (every OTP issued in the
 *   country increments it), so this slot carries all OTP issuing: the login rate, a few thousand a
 *   second at the most, far below one primary's capacity. Issuing an OTP is two steps, each one
 *   script in one slot (engine.issueOtp): the gate on `{otp}`, then the issue on the account's
 *   partition; a refusal at the second step gives back what the first counted.
 * - `{persist}` — the persistence worker's queue (Bull) and its consumer heartbeats.
 * - `{partners}` — the partner registry (engine/partners.ts): partners, their API keys (hashed), and
 *   the stream of key revocations and partner changes every gateway thread follows. Partners number
 *   in the dozens and change rarely; a gateway reads a key here once and then answers from memory.
 * - `{partner:<id>}` — one partner's usage: its per-minute and per-day windows, counted on every
 *   call it makes (one script), so a busy partner's counting spreads apart from the others'.
 *
 * Every script's KEYS share one hash tag, so every script call touches one slot
 * (test/engine/single-slot.test.ts checks each call the engine makes).
 *
 * Isolation between deployments or tests is a key prefix given to ioredis (`keyPrefix`), which
 * prefixes every key passed through KEYS; it contains no braces, so it never changes the slot.
 */
import type { Partitions } from './partitions.js';

const BOOKING = '{bk}';
const PERSIST = '{persist}';
const OTP_GATE = '{otp}';
const PARTNERS = '{partners}';

const deadLettersOf = (outbox: string) => `${outbox}:dead-letters`;

/**
 * The keys of one citizen account, all in the account's partition. Methods, not a record of
 * strings: a search builds only the few it uses.
 */
export class AccountKeys {
  /** the account's partition */
  readonly partition: number;
  private readonly tag: string;
  private readonly base: string;

  constructor(partitions: Partitions, accountId: string) {
    this.partition = partitions.of(accountId);
    this.tag = partitions.tag(this.partition);
    this.base = `${this.tag}:u:${accountId}`;
  }

  /** hash: one pending OTP (hash, expiry, wrong answers), under its own txnId so a newer one never replaces it */
  pendingOtp(txnId: string): string {
    return `${this.base}:otp:${txnId}`;
  }
  /**
   * hash: the OTPs one address asked for this mobile (the requester): when the last was issued (resend
   * cooldown) and how many in the day window. A stranger's requests fill the stranger's record only.
   */
  otpRequester(address: string): string {
    return `${this.base}:otp-from:${address}`;
  }
  /** hash: the live login session (sid); deleting it revokes the account's token */
  authSession(): string {
    return `${this.base}:auth`;
  }
  /** hash: searches in the current short window (15 min) that opened with the first of them; a logout leaves it */
  searchWindow(): string {
    return `${this.base}:search:window`;
  }
  /** counter: searches in the current 24 h window */
  searchDay(): string {
    return `${this.base}:search:day`;
  }
  /** string with TTL: sha256 of the answer to the latest captcha shown to the account */
  captcha(): string {
    return `${this.base}:captcha`;
  }
  /** string with TTL: present while the account is blocked */
  blocked(): string {
    return `${this.base}:blocked`;
  }
  /**
   * string with TTL: the account is a test number's (demo only, written at its OTP when test numbers
   * have a fixed security code; the account id, a keyed hash, does not tell)
   */
  testNumberAccount(): string {
    return `${this.base}:test-number`;
  }
  /** the login revocation stream of the account's partition (keys.loginRevocations) */
  loginRevocations(): string {
    return `${this.tag}:revocations`;
  }
  /** the account's partition's set of accounts whose daily quotas changed (keys.quotaChanges) */
  quotaChanges(): string {
    return `${this.tag}:quota-changes`;
  }

  // the partitioned booking (engine/partitioned-booking.md): what the account's partition p(A) owns
  /** hash: the account and its beneficiaries (`ben:<id>` → JSON with each dose's appointment pointer), as `keys.account` */
  bookingAccount(): string {
    return `${this.base}:account`;
  }
  /** string: the answer to a booking made under a client-supplied idempotency key (`fingerprint|appointment id`) */
  idempotency(idempotencyKey: string): string {
    return `${this.base}:idem:${idempotencyKey}`;
  }
  /** the open intents of the account's partition (keys.intents) */
  intents(): string {
    return `${this.tag}:intents`;
  }
  /** the outbox stream of the account's partition (keys.partitionOutbox) */
  outbox(): string {
    return `${this.tag}:outbox`;
  }
  /** hash: one of the account's beneficiaries' certificates, dose → certificate id (as `keys.beneficiaryCertificates`) */
  beneficiaryCertificates(beneficiaryId: string): string {
    return `${this.tag}:beneficiary-certificates:${beneficiaryId}`;
  }
}

/** The keys of one session's fair admission queue (lua/includes/fairQueue.lua reads their layout). */
export interface FairQueueKeys {
  /**
   * hash: the queue's own bookkeeping: `seq` (places ever joined), `shuffled` (1 once the pre-queue
   * was shuffled), `seed` and `prequeue` (the shuffle's seed and how many it shuffled), `tail` (the
   * last position number handed out), `tokens`/`tokens_at` (the admission rate's bucket), counts
   * `admitted`, `used`, `expired`, `lapsed`, `out_seats` (beneficiaries of admissions outstanding) and
   * `seats_left` (as the last admit was told)
   */
  state: string;
  /** sorted set: the waiting places (account ids), scored by join order before the opening and by position number after */
  line: string;
  /** hash: account id → its place, JSON (lua/includes/fairQueue.lua: `seq`, `b`, `st`, `num`, `adm`, `exp`, `seen`) */
  places: string;
  /** hash: beneficiary id → the account whose place holds it */
  beneficiaries: string;
  /** sorted set: accounts holding an outstanding admission, scored by when it expires */
  outstanding: string;
}

/**
 * The booking core's record layout, one setting per deployment (TEEKA_LAYOUT, engine/config.ts):
 * - `single`: every session, account, appointment and certificate in `{bk}`, each booking one
 *   script on one slot (the default; every booking runs on one Redis core);
 * - `partitioned`: a session in its partition p(S), an account with its beneficiaries,
 *   appointments and certificates in p(A); a booking runs as steps, each one script on one slot
 *   (engine/partitioned-booking.md), spread over a cluster's masters.
 * Never mixed in one deployment: a beneficiary's "one live appointment per dose" lives in one place.
 */
export type Layout = 'single' | 'partitioned';
export const LAYOUTS: readonly Layout[] = ['single', 'partitioned'];

/** Where a layout keeps the booking core's records that are found by their id. */
export interface BookingRecordKeys {
  /** a session's hash */
  session: (sessionId: string) => string;
  /** an account's booking hash (its beneficiaries) */
  account: (accountId: string) => string;
  /** an appointment's hash */
  appointment: (appointmentId: string) => string;
  /** a certificate's hash */
  certificate: (certificateId: string) => string;
  /** the outbox stream an account's changes (appointments, beneficiaries, certificates) go to */
  accountOutbox: (accountId: string) => string;
}

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
  outboxDeadLetters: () => deadLettersOf(`${BOOKING}:outbox`),
  /**
   * stream: the dead letters of one outbox stream (the booking partition's or a partition's,
   * keys.partitionOutbox), beside it in its slot so that the script moving an entry touches one slot
   */
  deadLettersOf: (outbox: string) => deadLettersOf(outbox),
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
  /**
   * hash: the distinct people (`beneficiary:<id>`, …) one operator or partner (`operator:<id>`,
   * `partner:<id>`) read in the window that opened with the first (`_since`), for the access log's
   * watch (lua/appendAccessEntry-2.lua). Beside the outbox, so one script appends and counts.
   */
  accessReader: (reader: string) => `${BOOKING}:access-reader:${reader}`,
  /** sorted set: operators and partners the access log's watch flagged (`operator:<id>`, `partner:<id>`), scored by when */
  accessFlagged: () => `${BOOKING}:access-flagged`,
  /** capped stream: new available capacity of each session after each change, tailed by gateways */
  availability: () => `${BOOKING}:availability`,
  /**
   * string: the id of the deployment (PostgreSQL's `deployment` row) this booking partition was laid
   * out for, or `rebuilding:<id>` while a rebuild runs. Kept in the booking partition so that it is
   * lost with the bookings: a Redis without it was emptied (see worker/deployment.ts).
   */
  deployment: () => `${BOOKING}:deployment`,
  /**
   * string: the number of virtual partitions (engine/partitions.ts) this Redis was laid out for,
   * written with the deployment marker; a process configured for another count refuses to start
   */
  partitionCount: () => `${BOOKING}:partitions`,
  /**
   * string: the record layout (`Layout`: single or partitioned) this Redis was laid out for, written
   * with the deployment marker; a process configured for the other refuses to start. Absent on a
   * Redis laid out before layouts were recorded: those were all `single`.
   */
  layout: () => `${BOOKING}:layout`,

  // virtual partitions (see `{p:<n>}` above)
  /** every per-account key of one account, in its partition */
  forAccount: (partitions: Partitions, accountId: string) => new AccountKeys(partitions, accountId),
  /**
   * capped stream: login session ids of one partition's accounts that were ended before their tokens
   * expire (`s` the id, `t` when; for a block `a` the account, `b` its end), appended by the script
   * that ends them and tailed by every gateway thread
   */
  loginRevocations: (partitions: Partitions, partition: number) => `${partitions.tag(partition)}:revocations`,
  /**
   * set: account ids of one partition whose daily quotas (searches of the day, block) a script has
   * changed since the worker's last quota snapshot took them (worker/quotas.ts): the snapshot reads
   * these accounts instead of scanning the whole keyspace
   */
  quotaChanges: (partitions: Partitions, partition: number) => `${partitions.tag(partition)}:quota-changes`,

  // the partitioned booking (engine/partitioned-booking.md): a session's records live in the session
  // id's partition p(S), an appointment in its account's partition p(A) (its id is drawn there:
  // Partitions.idIn), an account's in p(A) (AccountKeys above)
  /** hash: one session in its partition, fields as `keys.session` (publishSession-4.lua writes both) */
  partitionSession: (partitions: Partitions, sessionId: string) => `${partitions.tagOf(sessionId)}:session:${sessionId}`,
  /** sorted set: the partition's session ids scored by their date (epoch day) */
  partitionSessionsByDate: (partitions: Partitions, partition: number) => `${partitions.tag(partition)}:sessions`,
  /**
   * hash: the seats one booking step holds in a session (`claim:<booking id>`, in the session's
   * partition): state `taken` (session, slot, dose, seats, `released:<n>` per change that gave some
   * back), `refused` (with the status), or the `aborted` tombstone recovery writes so that a late
   * step cannot take seats. A booking's id is its appointment's id; a reschedule's `<appointment id>:<n>`.
   */
  claim: (partitions: Partitions, sessionId: string, bookingId: string) => `${partitions.tagOf(sessionId)}:claim:${bookingId}`,
  /** hash: one appointment, in its account's partition (the id was drawn in it) */
  partitionAppointment: (partitions: Partitions, appointmentId: string) => `${partitions.tagOf(appointmentId)}:appointment:${appointmentId}`,
  /**
   * sorted set: a partition's open intents (`book:<id>`, `move:<id>:<n>`, `release:<id>:<n>`) scored by
   * the deadline after which anyone may resolve them (PartitionedBooking.resolveExpiredIntents)
   */
  intents: (partitions: Partitions, partition: number) => `${partitions.tag(partition)}:intents`,
  /**
   * hash: who holds a photo ID (its keyed hash), in the photo ID's own partition: `account` and `ben`,
   * or while a registration holds it `account`, `reg` and `deadline` (lua/reservePhotoId-1.lua)
   */
  partitionPhotoId: (partitions: Partitions, photoIdHash: string) => `${partitions.tagOf(photoIdHash)}:photoid:${photoIdHash}`,
  /** counter: the beneficiaries a partition has registered (ids: first + n × stride + partition, lua/registerBeneficiary-3.lua) */
  partitionBeneficiarySequence: (partitions: Partitions, partition: number) => `${partitions.tag(partition)}:seq:beneficiary`,
  /**
   * hash: one vaccination certificate, in its account's partition (the id was drawn in it, as an
   * appointment's), fields as `keys.certificate`
   */
  partitionCertificate: (partitions: Partitions, certificateId: string) => `${partitions.tagOf(certificateId)}:certificate:${certificateId}`,
  /**
   * sorted set: the revocation ids of one key's certificates revoked in one partition (a revocation
   * is one script in the certificate's partition); the key's revocation list is every partition's
   */
  partitionCertificateRevocations: (partitions: Partitions, partition: number, kid: string) => `${partitions.tag(partition)}:crl:${kid}`,
  /** stream: the booking-domain changes decided in one partition, drained by the worker */
  partitionOutbox: (partitions: Partitions, partition: number) => `${partitions.tag(partition)}:outbox`,
  /** capped stream: available capacity of the partition's sessions after each change, tailed by gateways */
  partitionAvailability: (partitions: Partitions, partition: number) => `${partitions.tag(partition)}:availability`,

  // fair admission (engine/fair-admission.ts): one opening's queue, in the session's partition p(S)
  /** the keys of one session's queue, all in the session id's partition */
  fairQueue: (partitions: Partitions, sessionId: string): FairQueueKeys => {
    const base = `${partitions.tagOf(sessionId)}:fair:${sessionId}`;
    return {
      state: base,
      line: `${base}:line`,
      places: `${base}:places`,
      beneficiaries: `${base}:bens`,
      outstanding: `${base}:admitted`,
    };
  },

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

  // partners (see `{partners}` and `{partner:<id>}` above)
  /** hash: a partner an admin registered (name, contact, scopes, limits, active or suspended) */
  partner: (partnerId: string) => `${PARTNERS}:partner:${partnerId}`,
  /** sorted set: every partner id, scored by when it was registered (an admin's list) */
  partnerIndex: () => `${PARTNERS}:index`,
  /** hash: one API key of a partner: the key's sha256, active or revoked, who issued and revoked it */
  partnerKey: (partnerId: string, keyId: string) => `${PARTNERS}:key:${partnerId}:${keyId}`,
  /** set: the key ids a partner was ever issued (several live at once, for rotation) */
  partnerKeys: (partnerId: string) => `${PARTNERS}:keys:${partnerId}`,
  /**
   * capped stream: API keys revoked (`p` partner, `k` key id) and partners changed (`p` only: scopes,
   * limits, suspension), appended by the script that does it and tailed by every gateway thread,
   * which forgets what it had verified (gateway/partner-gate.ts)
   */
  partnerRevocations: () => `${PARTNERS}:revocations`,
  /** hash: a partner's calls in the minute window that opened with the first (lua/includes/fixedWindow) */
  partnerMinute: (partnerId: string) => `{partner:${partnerId}}:minute`,
  /** hash: a partner's calls in the day window that opened with the first */
  partnerDay: (partnerId: string) => `{partner:${partnerId}}:day`,

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
  searchDay: '{p:*}:u:*:search:day',
  blocked: '{p:*}:u:*:blocked',
} as const;

/** The account id inside a per-account key, e.g. `{p:3.41}:u:abc:search:day` → `abc`. */
export function accountOfUserKey(key: string): string | null {
  const match = /\{p:[\d.]+\}:u:([^:]+):/.exec(key);
  return match ? match[1]! : null;
}

/**
 * The part of a key Redis Cluster hashes to find its slot: the text between the first `{` and the
 * first `}` after it when not empty, else the whole key (the cluster specification's rule). Keys with
 * one hash tag share one slot.
 */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/** Keys of the booking partition match this glob (after the prefix); used to wipe it on rebuild. */
export const bookingPartitionPattern = `${BOOKING}:*`;

/** Keys of the virtual partitions match this glob (after the prefix); isPartitionedBookingRecord picks the booking records among them. */
export const virtualPartitionsPattern = '{p:*';

/**
 * The partitioned layout's booking records among a partition's keys (the keys under "the partitioned
 * booking" above, and an account's booking hash and idempotency records): what a rebuild replaces.
 * Not: OTPs, login sessions, quotas, blocks, the login revocation stream, fair admission queues,
 * and the dead letters beside each outbox stream (changes PostgreSQL never got, kept for an operator).
 */
const PARTITIONED_BOOKING_RECORD =
  /^\{p:[^}]+\}:(?:session:|claim:|appointment:|photoid:|certificate:|crl:|beneficiary-certificates:|u:[^:]+:(?:account$|idem:)|(?:sessions|intents|seq:beneficiary|outbox|availability)$)/;
export const isPartitionedBookingRecord = (key: string): boolean => PARTITIONED_BOOKING_RECORD.test(key);

/** Where a layout keeps a session's hash and an account's booking hash. */
export function bookingRecordKeys(layout: Layout, partitions: Partitions): BookingRecordKeys {
  if (layout === 'single') return { session: keys.session, account: keys.account, appointment: keys.appointment, certificate: keys.certificate, accountOutbox: () => keys.outbox() };
  return {
    session: (sessionId) => keys.partitionSession(partitions, sessionId),
    account: (accountId) => keys.forAccount(partitions, accountId).bookingAccount(),
    appointment: (appointmentId) => keys.partitionAppointment(partitions, appointmentId),
    certificate: (certificateId) => keys.partitionCertificate(partitions, certificateId),
    accountOutbox: (accountId) => keys.forAccount(partitions, accountId).outbox(),
  };
}
