/**
 * Fair admission at an opening: a waiting room that bots cannot win by speed (issue 16).
 *
 * A session published with `fair_admission` (its definition's `fair` settings) opens through a queue:
 * - from `prequeue_ms` before `opens_at`, logged-in citizens join with the beneficiaries they want to
 *   book: one place per account and per beneficiary (lua/joinQueue-4.lua);
 * - at `opens_at` the pre-queue is shuffled once, with a seed drawn by whichever caller comes first and
 *   stored beside the result, so an auditor can replay it (`replayShuffle`, `audit`); later arrivals
 *   join the end of the line;
 * - places are admitted in order at `rate` places a second, never with more beneficiaries outstanding
 *   than the seats left; an admission lives `admission_ms`, and one unused passes its turn on
 *   (lua/admitQueue-4.lua, called by every gateway thread's ticker: gateway/queue-room.ts);
 * - `schedule` for such a session needs the account's admission while the opening is on
 *   (`isUnderFairAdmission`): checked before the booking, marked used after it succeeded.
 *
 * The queue's keys live in the session's partition (engine/keys.ts `fairQueue`); every step is one
 * script in that slot. The booking itself runs as the deployment's layout books (engine/keys.ts Layout).
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Clock } from './clock.js';
import type { Outcome } from './engine.js';
import { keys, type BookingRecordKeys, type FairQueueKeys } from './keys.js';
import type { Partitions } from './partitions.js';
import type { RedisClient } from './redis.js';
import { beneficiaryField, type SessionState } from './records.js';
import type { LuaScripts } from './scripts.js';
import { Status } from './status.js';

/** What an admission looks like: `<16 hex digits>.<position number>` (lua/admitQueue-4.lua). */
export const ADMISSION_PATTERN = /^[0-9a-f]{16}\.\d{1,10}$/;

/** The largest seed of the shuffle's generator, exclusive: 2^31 − 1 (Park–Miller). */
const MODULUS = 2_147_483_647;
const MULTIPLIER = 48_271;
/** most places one admit call takes: bounds how long one script runs */
const MOST_PER_ADMIT = 500;

/** A place's state, as the scripts store it. */
export type PlaceState = 'pre' | 'waiting' | 'admitted' | 'used' | 'expired' | 'lapsed';

/** A citizen's place in a queue. */
export interface QueuePlace {
  state: PlaceState;
  /** the position number it was given at the shuffle or on joining after the opening; null in the pre-queue */
  number: number | null;
  /** places waiting ahead of it; null when not waiting (in the pre-queue, or past its turn) */
  ahead: number | null;
  /** the admission while it holds one */
  admission: string | null;
  /** when the admission expires, ms */
  admissionExpiresAt: number | null;
}

/** A place with what the queue around it looks like, for an honest estimate. */
export interface QueueStatus extends QueuePlace {
  /** places waiting in the line */
  waiting: number;
  /** seats left when the queue last looked (−1 before the first admit call) */
  seatsLeft: number;
  /** beneficiaries of the admissions outstanding */
  outstandingSeats: number;
}

/** One admit call's view of a queue: what the dashboard and the pushes show. */
export interface AdmitSummary {
  sessionId: string;
  admittedNow: number;
  waiting: number;
  admitted: number;
  used: number;
  expired: number;
  /** places skipped at their turn after the grace period */
  lapsed: number;
  outstandingSeats: number;
  seatsLeft: number;
  /** the last position number handed out */
  tail: number;
  /** the position number at the head of the line, 0 when none waits */
  head: number;
  shuffled: boolean;
  /** accounts whose place changed in this call (admitted, expired, skipped) */
  changed: string[];
}

/** The shuffle's record: enough for an auditor to replay it. */
export interface ShuffleAudit {
  seed: number;
  /** the pre-queue's accounts in the order they joined (the shuffle's input) */
  joined: string[];
  /** the same accounts by the position number the shuffle gave them */
  order: string[];
}

/** The next draw of the Park–Miller generator (lua/includes/fairQueue.lua nextRandom). */
export function nextRandom(x: number): number {
  return (x * MULTIPLIER) % MODULUS;
}

/**
 * The opening's shuffle, exactly as lua/includes/fairQueue.lua does it: Fisher–Yates from the last
 * element with Park–Miller draws from `seed`. `joined` is the pre-queue in join order.
 */
export function replayShuffle(seed: number, joined: readonly string[]): string[] {
  const items = [...joined];
  let x = seed;
  for (let i = items.length; i >= 2; i--) {
    x = nextRandom(x);
    const j = (x % i) + 1;
    [items[i - 1], items[j - 1]] = [items[j - 1]!, items[i - 1]!];
  }
  return items;
}

/** A fresh seed for the shuffle, 1 ≤ seed < 2^31 − 1. */
export function newShuffleSeed(): number {
  return randomInt(1, MODULUS);
}

/** When a session's pre-queue opens, or null when it is not under fair admission. */
export function prequeueOpensAt(session: Pick<SessionState, 'fair' | 'opens_at'>): number | null {
  return session.fair ? session.opens_at - session.fair.prequeue_ms : null;
}

/** Whether `schedule` for the session needs an admission at `now`: from the pre-queue's opening to the cutoff. */
export function isUnderFairAdmission(session: Pick<SessionState, 'fair' | 'opens_at' | 'cutoff_at'>, now: number): boolean {
  const from = prequeueOpensAt(session);
  return from !== null && now >= from && now < session.cutoff_at;
}

function placeOf(reply: unknown[]): QueuePlace {
  const [, state, number, ahead, admission, expires] = reply as [number, PlaceState, number, number, string, number];
  return {
    state,
    number: number > 0 ? number : null,
    ahead: ahead >= 0 ? ahead : null,
    admission: admission === '' ? null : admission,
    admissionExpiresAt: expires > 0 ? expires : null,
  };
}

export class FairAdmission {
  constructor(
    private readonly redis: RedisClient,
    private readonly scripts: LuaScripts,
    private readonly partitions: Partitions,
    private readonly clock: Clock,
    /** where the deployment's layout keeps sessions and accounts (keys.ts bookingRecordKeys) */
    private readonly records: BookingRecordKeys,
  ) {}

  keysOf(sessionId: string): FairQueueKeys {
    return keys.fairQueue(this.partitions, sessionId);
  }

  /**
   * Seats left in a session, dose 1 and 2 together, read from its hash now (0 for a closed or
   * missing session). One read of the session's hash per admit call: see lua/admitQueue-4.lua for why the queue
   * does not keep its own count.
   */
  async seatsLeft(sessionId: string): Promise<number> {
    const [cap1, cap2, booked1, booked2, status] = await this.redis.hmget(this.records.session(sessionId), 'cap1', 'cap2', 'booked1', 'booked2', 'status');
    if (cap1 === null || status === 'closed') return 0;
    return Math.max(0, Number(cap1) + Number(cap2 ?? 0) - Number(booked1 ?? 0) - Number(booked2 ?? 0));
  }

  /**
   * Join a session's queue with some of the account's beneficiaries; the same account again gets its
   * place as it is. Refused: QUEUE_OFF (not under fair admission), QUEUE_NOT_OPEN_YET,
   * BOOKING_CLOSED (past the cutoff), BENEFICIARY_NOT_FOUND (not the account's, as the booking
   * script answers it), DUPLICATE_BENEFICIARY, QUEUE_BENEFICIARY_TAKEN, FULL (no seats left).
   */
  async join(session: SessionState, accountId: string, beneficiaryIds: string[]): Promise<Outcome<{ place: QueuePlace; joinedNow: boolean }>> {
    if (!session.fair) return { ok: false, status: Status.QUEUE_OFF };
    // the beneficiaries live in the account's hash, another slot than the queue's: read
    // first (they change only by the citizen's own hand); the booking script checks them again
    const owned = await this.redis.hmget(this.records.account(accountId), ...beneficiaryIds.map(beneficiaryField));
    const stranger = beneficiaryIds.find((_, i) => owned[i] === null);
    if (stranger !== undefined) return { ok: false, status: Status.BENEFICIARY_NOT_FOUND, beneficiaryId: stranger };
    const seats = await this.seatsLeft(session.session_id);
    const k = this.keysOf(session.session_id);
    const reply = await this.scripts.run(
      'joinQueue',
      [k.state, k.line, k.places, k.beneficiaries],
      [accountId, this.clock(), session.opens_at, prequeueOpensAt(session)!, session.cutoff_at, seats, newShuffleSeed(), ...beneficiaryIds],
    );
    if (reply[0] !== Status.OK) return failureOf(reply);
    return { ok: true, status: Status.OK, place: placeOf(reply), joinedNow: reply[6] === 1 };
  }

  /** The account's place and the queue around it (and a sign of life for the grace period). */
  async status(session: SessionState, accountId: string): Promise<Outcome<{ queue: QueueStatus }>> {
    if (!session.fair) return { ok: false, status: Status.QUEUE_OFF };
    const k = this.keysOf(session.session_id);
    const reply = await this.scripts.run('queueStatus', [k.state, k.line, k.places], [accountId, this.clock(), session.opens_at, newShuffleSeed()]);
    if (reply[0] !== Status.OK) return failureOf(reply);
    const [waiting, seatsLeft, outstandingSeats] = reply.slice(6, 9) as number[];
    return { ok: true, status: Status.OK, queue: { ...placeOf(reply), waiting: waiting!, seatsLeft: seatsLeft!, outstandingSeats: outstandingSeats! } };
  }

  /**
   * One turn of admission (lua/admitQueue-4.lua): any number of callers, one effective admitter.
   * `seen`: accounts whose holders showed up since the last turn (open WebSockets), kept from being
   * skipped after the grace period.
   */
  async admit(session: SessionState, seen: readonly string[] = []): Promise<AdmitSummary> {
    const fair = session.fair;
    if (!fair) throw new Error(`session ${session.session_id} is not under fair admission`);
    const seats = await this.seatsLeft(session.session_id);
    const k = this.keysOf(session.session_id);
    const reply = await this.scripts.run(
      'admitQueue',
      [k.state, k.line, k.places, k.outstanding],
      [
        this.clock(), session.opens_at, newShuffleSeed(), fair.rate, fair.admission_ms, fair.grace_ms, seats,
        randomBytes(8).toString('hex'), MOST_PER_ADMIT, ...seen,
      ],
    );
    const n = reply.slice(1, 12) as number[];
    return {
      sessionId: session.session_id,
      admittedNow: n[0]!,
      waiting: n[1]!,
      admitted: n[2]!,
      used: n[3]!,
      expired: n[4]!,
      lapsed: n[5]!,
      outstandingSeats: n[6]!,
      seatsLeft: n[7]!,
      tail: n[8]!,
      head: n[9]!,
      shuffled: n[10] === 1,
      changed: reply.slice(12) as string[],
    };
  }

  /**
   * Before booking: is `admission` the account's, live, unused, for these beneficiaries? A retry
   * under an idempotency key passes a used admission (the booking answers it with its first answer).
   */
  async checkAdmission(sessionId: string, accountId: string, admission: string | undefined, beneficiaryIds: string[], retry: boolean): Promise<Outcome> {
    if (!admission) return { ok: false, status: Status.ADMISSION_REQUIRED };
    const k = this.keysOf(sessionId);
    const reply = await this.scripts.run('checkAdmission', [k.places], [accountId, admission, this.clock(), retry ? 1 : 0, ...beneficiaryIds]);
    if (reply[0] !== Status.OK) return failureOf(reply);
    return { ok: true, status: Status.OK };
  }

  /** After a booking that succeeded: the admission is used (idempotent). */
  async useAdmission(sessionId: string, accountId: string, admission: string): Promise<Outcome> {
    const k = this.keysOf(sessionId);
    const reply = await this.scripts.run('useAdmission', [k.state, k.places, k.outstanding], [accountId, admission]);
    if (reply[0] !== Status.OK) return failureOf(reply);
    return { ok: true, status: Status.OK };
  }

  /** The shuffle's seed, input and result, once it happened (null before). */
  async audit(sessionId: string): Promise<ShuffleAudit | null> {
    const k = this.keysOf(sessionId);
    const [shuffled, seed] = await this.redis.hmget(k.state, 'shuffled', 'seed');
    if (shuffled !== '1') return null;
    // a place that left the line carries `ps` and `sn` (its join order and the number the shuffle
    // gave, kept should it join again); one still waiting from the pre-queue reads `pre`, its join
    // order its `seq` and its number its score in the line (lua/includes/fairQueue.lua settlePlace)
    // one transaction (one slot): an admission between the two reads would move a place from one to the other
    const replies = (await this.redis.multi().hgetall(k.places).zrange(k.line, 0, -1, 'WITHSCORES').exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    const hash = replies[0]![1] as Record<string, string>;
    const line = replies[1]![1] as string[];
    const scores = new Map<string, number>();
    for (let i = 0; i < line.length; i += 2) scores.set(line[i]!, Number(line[i + 1]));
    const shuffledPlaces: { account: string; ps: number; sn: number }[] = [];
    for (const [account, json] of Object.entries(hash)) {
      const place = JSON.parse(json) as { st: string; seq: number; ps?: number; sn?: number };
      if (place.st === 'pre') shuffledPlaces.push({ account, ps: place.seq, sn: scores.get(account)! });
      else if (place.ps !== undefined && place.sn !== undefined) shuffledPlaces.push({ account, ps: place.ps, sn: place.sn });
    }
    return {
      seed: Number(seed),
      joined: [...shuffledPlaces].sort((a, b) => a.ps - b.ps).map((p) => p.account),
      order: [...shuffledPlaces].sort((a, b) => a.sn - b.sn).map((p) => p.account),
    };
  }
}

function failureOf(reply: unknown[]): Outcome<never> {
  const status = reply[0] as Status;
  return typeof reply[1] === 'string' ? { ok: false, status, beneficiaryId: reply[1] } : { ok: false, status };
}
