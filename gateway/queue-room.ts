/**
 * One gateway thread's part of fair admission (engine/fair-admission.ts): the admission ticker, the
 * citizens' queue pushes over the WebSocket, and the numbers the dashboard draws.
 *
 * The ticker: every `TICK_MS`, for every session in this thread's book whose opening is on (from its
 * pre-queue's opening to its cutoff), one admit call (lua/admitQueue-4.lua). Every thread of every
 * gateway does the same; the script keeps the time and the rate's bucket itself, so the callers
 * together admit at the rate, and a gateway killed at any instant leaves nothing half done: the next
 * call of any other thread carries on from Redis.
 *
 * The pushes: a citizen's socket subscribes to its place (`{"queue":{"session_id","token"}}`). Each
 * admit call answers the head of the line; a waiting place's position number minus the head is how
 * many wait ahead of it (lua/includes/fairQueue.lua), so positions are pushed from memory. A place
 * whose turn came (or that the call changed: admitted, expired, skipped) is read from Redis once and
 * pushed with its admission. Open sockets count as signs of life for the grace period.
 *
 * The status answers: `GET /teeka/queue/status` is what a polling client (or bot) calls as fast as it
 * likes, and each read is a script that also writes (the place's `seen`). A thread keeps each
 * (session, account) answer for `STATUS_CACHE_MS` and answers repeated polls from memory; concurrent
 * polls share one read. A cached answer is dropped as soon as this thread learns of a change to the
 * place: an admit call that changed it, the head of the line passing it (another thread or gateway
 * admitted it), the shuffle (for a pre-queue place), the admission's expiry, a join or a booking
 * under the admission on any thread of this gateway (counted in memory all its threads share,
 * gateway/place-changes.ts, before the join or booking is answered). A change it cannot learn of (a
 * booking on another gateway) shows within the window. A waiting place's position is answered from
 * the latest head, as fresh as the pushes.
 */
import type { Outcome } from '../engine/engine.js';
import type { SessionState } from '../engine/sessions.js';
import { isUnderFairAdmission, prequeueOpensAt, type AdmitSummary, type QueueStatus } from '../engine/fair-admission.js';
import { apiErrorFor, type Status } from '../engine/status.js';
import type { GatewayContext } from './context.js';
import { PlaceChanges } from './place-changes.js';
import type { SocketConnection } from './uws-adapter.js';

/** how often each thread takes an admission turn for each opening */
const TICK_MS = 200;
/** how often the list of sessions under fair admission is read again from the book */
const RESCAN_MS = 2000;
/** an opening stays on the dashboard this long after its cutoff */
const KEEP_AFTER_CUTOFF_MS = 10 * 60_000;
/**
 * How long a thread answers a place's status from memory. The place's `seen` (its sign of life for
 * the grace period, lua/queueStatus-3.lua) is then written at most once per window per thread for a
 * poller instead of on every poll: the grace period is minutes (country default 120 s), so a sign of
 * life a second old keeps a place exactly as a fresh one does. A grace period configured shorter
 * than four windows shortens the window to a quarter of it (as the sockets' signs of life are sent).
 */
export const STATUS_CACHE_MS = 1000;

/** A place as the API answers it (`GET /teeka/queue/status`, and the WebSocket's `queue` message). */
export interface QueueStatusBody {
  session_id: string;
  /** prequeue (joined before the opening: no position until the shuffle) | waiting | admitted | used | expired | lapsed | full | closed */
  state: string;
  /** 1 for the next place admitted; null when not waiting */
  position: number | null;
  ahead: number | null;
  /** ahead ÷ admission rate, rounded up; null when not waiting */
  estimated_wait_seconds: number | null;
  /** true when the seats left (less those admitted places hold) are fewer than the places ahead: the seats may be gone before this turn */
  seats_may_run_out: boolean;
  admitted: boolean;
  admission?: string;
  admission_expires_at?: string;
  opens_at: string;
  queue_length: number;
  seats_left: number | null;
  admission_rate: number;
}

/** One opening as the dashboard draws it (`GET /teeka/ops/openings`). */
export interface OpeningNumbers {
  session_id: string;
  center_id: number;
  date: number;
  opens_at: string;
  prequeue_opens_at: string;
  /** prequeue | open | closed */
  phase: string;
  shuffled: boolean;
  queue_length: number;
  admitted: number;
  used: number;
  expired: number;
  lapsed: number;
  outstanding_seats: number;
  seats_left: number;
  /** the configured rate, places a second */
  admission_rate: number;
  /** places admitted a second, measured between this thread's last two turns at least a second apart */
  admitted_per_s: number;
  updated_at: string;
}

interface Subscription {
  accountId: string;
  /** the place's position number once known */
  number: number | null;
  /** the place's state when last read */
  state: string;
  /** the last message sent, to send only changes */
  lastSent: string;
}

type StatusOutcome = Outcome<{ queue: QueueStatus }>;

/** A place's status as this thread last read it, or the read in flight. */
interface CachedStatus {
  read: Promise<StatusOutcome>;
  /** engine clock, ms: when the read started */
  at: number;
  /** the place's change count (PlaceChanges) when the read started: kept only while it stays */
  version: number;
  /** engine clock, ms: answered from memory until then */
  until: number;
  /** the answer once in */
  outcome?: StatusOutcome;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The API's view of a place, from what Redis answered. */
export function queueStatusBody(session: SessionState, status: QueueStatus, now: number): QueueStatusBody {
  const rate = session.fair!.rate;
  let state: string = status.state === 'pre' ? 'prequeue' : status.state;
  if (now >= session.cutoff_at && (state === 'waiting' || state === 'prequeue')) state = 'closed';
  else if (state === 'waiting' && status.seatsLeft === 0) state = 'full';
  const waiting = state === 'waiting';
  const ahead = waiting ? status.ahead : null;
  const free = status.seatsLeft < 0 ? null : Math.max(0, status.seatsLeft - status.outstandingSeats);
  return {
    session_id: session.session_id,
    state,
    position: ahead === null ? null : ahead + 1,
    ahead,
    estimated_wait_seconds: ahead === null ? null : Math.ceil(ahead / rate),
    seats_may_run_out: ahead !== null && free !== null && ahead >= free,
    admitted: status.state === 'admitted',
    ...(status.admission ? { admission: status.admission, admission_expires_at: iso(status.admissionExpiresAt!) } : {}),
    opens_at: iso(session.opens_at),
    queue_length: status.waiting,
    seats_left: status.seatsLeft < 0 ? null : status.seatsLeft,
    admission_rate: rate,
  };
}

export class QueueRoom {
  private fairSessions: SessionState[] = [];
  private readonly summaries = new Map<string, { summary: AdmitSummary; at: number; perSecond: number; rateFrom: { admitted: number; at: number } }>();
  private readonly subscribers = new Map<string, Map<SocketConnection, Subscription>>();
  /** when this thread last told each queue which of its holders are connected */
  private readonly seenSentAt = new Map<string, number>();
  /** the status answers kept per session, then per account (see STATUS_CACHE_MS) */
  private readonly statuses = new Map<string, Map<string, CachedStatus>>();
  private ticker: NodeJS.Timeout | undefined;
  private rescanner: NodeJS.Timeout | undefined;
  private ticking = false;

  constructor(
    private readonly ctx: Pick<GatewayContext, 'engine' | 'book' | 'metrics'>,
    /** changes to places, shared by this process's threads (gateway/thread.ts) */
    private readonly placeChanges: PlaceChanges = new PlaceChanges(),
  ) {}

  start(): void {
    this.rescan();
    this.rescanner = setInterval(() => this.rescan(), RESCAN_MS);
    this.rescanner.unref();
    this.ticker = setInterval(() => void this.tick(), TICK_MS);
    this.ticker.unref();
  }

  stop(): void {
    clearInterval(this.ticker);
    clearInterval(this.rescanner);
  }

  /** The sessions under fair admission in this thread's book (the book follows publications). */
  private rescan(): void {
    const found: SessionState[] = [];
    for (const session of this.ctx.book.sessions.values()) if (session.fair) found.push(session);
    this.fairSessions = found;
  }

  /** The session as the book holds it now (a republication replaces the object). */
  session(sessionId: string): SessionState | undefined {
    return this.ctx.book.sessions.get(sessionId);
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = this.ctx.engine.now();
      for (const listed of this.fairSessions) {
        const session = this.session(listed.session_id) ?? listed;
        if (!session.fair) continue;
        if (!isUnderFairAdmission(session, now)) {
          if (now >= session.cutoff_at + KEEP_AFTER_CUTOFF_MS) this.forgetOpening(session.session_id);
          else this.settleStatuses(session.session_id, null);
          continue;
        }
        try {
          const summary = await this.ctx.engine.fairAdmission.admit(session, this.seenFor(session, now));
          this.record(session, summary);
          this.settleStatuses(session.session_id, summary);
          await this.push(session, summary);
        } catch (err) {
          console.error(`admission turn for session ${session.session_id} failed:`, (err as Error).message);
        }
      }
    } finally {
      this.ticking = false;
    }
  }

  /** The holders connected to this thread, sent once per quarter of the grace period (at least a second apart). */
  private seenFor(session: SessionState, now: number): string[] {
    const subs = this.subscribers.get(session.session_id);
    if (!subs || subs.size === 0 || !session.fair || session.fair.grace_ms === 0) return [];
    const last = this.seenSentAt.get(session.session_id) ?? 0;
    if (Date.now() - last < Math.max(1000, session.fair.grace_ms / 4)) return [];
    this.seenSentAt.set(session.session_id, Date.now());
    return [...new Set([...subs.values()].map((s) => s.accountId))];
  }

  private record(session: SessionState, summary: AdmitSummary): void {
    const at = Date.now();
    const previous = this.summaries.get(session.session_id);
    let rateFrom = previous?.rateFrom ?? { admitted: summary.admitted, at };
    let perSecond = previous?.perSecond ?? 0;
    if (at - rateFrom.at >= 1000) {
      perSecond = ((summary.admitted - rateFrom.admitted) * 1000) / (at - rateFrom.at);
      rateFrom = { admitted: summary.admitted, at };
    }
    this.summaries.set(session.session_id, { summary, at, perSecond, rateFrom });
    this.ctx.metrics.queueOpening(session.session_id, {
      waiting: summary.waiting,
      admitted: summary.admitted,
      seatsLeft: summary.seatsLeft,
      outstandingSeats: summary.outstandingSeats,
      rate: session.fair!.rate,
    });
  }

  private forgetOpening(sessionId: string): void {
    if (this.summaries.delete(sessionId)) this.ctx.metrics.forgetQueueOpening(sessionId);
    this.statuses.delete(sessionId);
  }

  // ---------------------------------------------------------------- the status answers

  /**
   * A place's status (`GET /teeka/queue/status`): from memory within the window unless this thread
   * learnt of a change, else one read (lua/queueStatus-3.lua) that every poll meanwhile shares.
   */
  async status(session: SessionState, accountId: string): Promise<StatusOutcome> {
    // not under fair admission: answered without Redis, and nothing kept (no tick would sweep it)
    if (!session.fair) return this.ctx.engine.fairAdmission.status(session, accountId);
    const now = this.ctx.engine.now();
    const cached = this.statuses.get(session.session_id)?.get(accountId);
    const current = cached && now < cached.until && cached.version === this.placeChanges.version(session.session_id, accountId);
    if (current) return this.fresher(session.session_id, cached, await cached.read);
    return this.read(session, accountId, now).read;
  }

  /** Read a place from Redis, kept for the window (a failed read is not kept). */
  private read(session: SessionState, accountId: string, now: number): CachedStatus {
    const version = this.placeChanges.version(session.session_id, accountId);
    return this.keep(session, accountId, this.ctx.engine.fairAdmission.status(session, accountId), now, version);
  }

  /** `version`: the place's change count taken before the read was sent (a change while it is in flight outdates it) */
  private keep(session: SessionState, accountId: string, read: Promise<StatusOutcome>, now: number, version: number): CachedStatus {
    const grace = session.fair?.grace_ms ?? 0;
    const window = grace > 0 ? Math.min(STATUS_CACHE_MS, grace / 4) : STATUS_CACHE_MS;
    const entry: CachedStatus = { read, at: now, version, until: now + window };
    let byAccount = this.statuses.get(session.session_id);
    if (!byAccount) this.statuses.set(session.session_id, (byAccount = new Map()));
    byAccount.set(accountId, entry);
    read.then(
      (outcome) => {
        entry.outcome = outcome;
        // an admission is not answered past its expiry
        if (outcome.ok && outcome.queue.admissionExpiresAt !== null) entry.until = Math.min(entry.until, outcome.queue.admissionExpiresAt);
      },
      () => this.forgetStatus(session.session_id, accountId, entry),
    );
    return entry;
  }

  /** A waiting place answered from memory moves with the head of the line this thread saw since. */
  private fresher(sessionId: string, cached: CachedStatus, outcome: StatusOutcome): StatusOutcome {
    if (!outcome.ok || outcome.queue.state !== 'waiting' || outcome.queue.number === null) return outcome;
    const latest = this.summaries.get(sessionId);
    if (!latest || latest.at <= cached.at || latest.summary.head <= 0 || outcome.queue.number < latest.summary.head) return outcome;
    const { summary } = latest;
    return {
      ...outcome,
      queue: { ...outcome.queue, ahead: outcome.queue.number - summary.head, waiting: summary.waiting, seatsLeft: summary.seatsLeft, outstandingSeats: summary.outstandingSeats },
    };
  }

  /**
   * A join or a booking under an admission changed the place here: this thread's kept status is
   * dropped, and the other threads of the process read theirs again on their next poll (another
   * gateway's threads see it when their window ends).
   */
  placeChanged(sessionId: string, accountId: string): void {
    this.placeChanges.changed(sessionId, accountId);
    this.forgetStatus(sessionId, accountId);
  }

  /** Drop a kept status. */
  private forgetStatus(sessionId: string, accountId: string, only?: CachedStatus): void {
    const byAccount = this.statuses.get(sessionId);
    if (!byAccount || (only && byAccount.get(accountId) !== only)) return;
    byAccount.delete(accountId);
    if (byAccount.size === 0) this.statuses.delete(sessionId);
  }

  /** After an admit call: drop the kept answers it outdated, and those past their window. */
  private settleStatuses(sessionId: string, summary: AdmitSummary | null): void {
    const byAccount = this.statuses.get(sessionId);
    if (!byAccount) return;
    const now = this.ctx.engine.now();
    if (!summary) {
      for (const [accountId, cached] of byAccount) if (now >= cached.until) byAccount.delete(accountId);
      if (byAccount.size === 0) this.statuses.delete(sessionId);
      return;
    }
    const changed = new Set(summary.changed);
    for (const [accountId, cached] of byAccount) {
      const queue = cached.outcome?.ok ? cached.outcome.queue : null;
      const outdated =
        now >= cached.until ||
        changed.has(accountId) ||
        // the head passed it: admitted (or skipped) by another thread's or gateway's call
        (queue?.state === 'waiting' && queue.number !== null && summary.head > 0 && queue.number < summary.head) ||
        (queue?.state === 'waiting' && summary.head === 0 && summary.waiting === 0) ||
        (queue?.state === 'pre' && summary.shuffled);
      // a read in flight that the call changed may have run before it: dropped too (its callers keep it)
      if (outdated) byAccount.delete(accountId);
    }
    if (byAccount.size === 0) this.statuses.delete(sessionId);
  }

  /** Every opening this thread takes turns for, for the dashboard. */
  openings(): OpeningNumbers[] {
    const now = this.ctx.engine.now();
    const list: OpeningNumbers[] = [];
    for (const [sessionId, { summary, at, perSecond }] of this.summaries) {
      const session = this.session(sessionId);
      if (!session?.fair) continue;
      list.push({
        session_id: sessionId,
        center_id: session.center_id,
        date: session.date,
        opens_at: iso(session.opens_at),
        prequeue_opens_at: iso(prequeueOpensAt(session)!),
        phase: now < session.opens_at ? 'prequeue' : now < session.cutoff_at ? 'open' : 'closed',
        shuffled: summary.shuffled,
        queue_length: summary.waiting,
        admitted: summary.admitted,
        used: summary.used,
        expired: summary.expired,
        lapsed: summary.lapsed,
        outstanding_seats: summary.outstandingSeats,
        seats_left: summary.seatsLeft,
        admission_rate: session.fair.rate,
        admitted_per_s: Math.round(perSecond * 100) / 100,
        updated_at: iso(at),
      });
    }
    return list.sort((a, b) => a.opens_at.localeCompare(b.opens_at) || a.session_id.localeCompare(b.session_id));
  }

  // ---------------------------------------------------------------- the citizens' sockets

  /** Follow a citizen's place on a socket; answers its status at once. */
  async subscribe(socket: SocketConnection, session: SessionState, accountId: string): Promise<void> {
    let subs = this.subscribers.get(session.session_id);
    if (!subs) this.subscribers.set(session.session_id, (subs = new Map()));
    const sub: Subscription = { accountId, number: null, state: '', lastSent: '' };
    subs.set(socket, sub);
    await this.refresh(socket, session, sub);
  }

  unsubscribe(socket: SocketConnection, sessionId: string): void {
    const subs = this.subscribers.get(sessionId);
    subs?.delete(socket);
    if (subs?.size === 0) this.subscribers.delete(sessionId);
  }

  /** A closed socket follows nothing. */
  forget(socket: SocketConnection): void {
    for (const sessionId of [...this.subscribers.keys()]) this.unsubscribe(socket, sessionId);
  }

  /** Read a place from Redis and send it (when it changed). */
  private async refresh(socket: SocketConnection, session: SessionState, sub: Subscription): Promise<void> {
    const version = this.placeChanges.version(session.session_id, sub.accountId);
    const outcome = await this.ctx.engine.fairAdmission.status(session, sub.accountId);
    if (!outcome.ok) {
      socket.send(JSON.stringify({ type: 'error', session_id: session.session_id, ...socketErrorOf(outcome.status) }));
      this.unsubscribe(socket, session.session_id);
      return;
    }
    sub.number = outcome.queue.number;
    sub.state = outcome.queue.state;
    // a fresh read: the status polls of this account answer it too
    this.keep(session, sub.accountId, Promise.resolve(outcome), this.ctx.engine.now(), version);
    this.send(socket, sub, queueStatusBody(session, outcome.queue, this.ctx.engine.now()));
  }

  private send(socket: SocketConnection, sub: Subscription, body: QueueStatusBody): void {
    const text = JSON.stringify({ type: 'queue', ...body });
    if (text === sub.lastSent) return;
    sub.lastSent = text;
    socket.send(text);
  }

  /** After an admit call: tell this thread's subscribers of the session what changed for them. */
  private async push(session: SessionState, summary: AdmitSummary): Promise<void> {
    const subs = this.subscribers.get(session.session_id);
    if (!subs || subs.size === 0) return;
    const changed = new Set(summary.changed);
    const now = this.ctx.engine.now();
    const reads: Promise<void>[] = [];
    for (const [socket, sub] of subs) {
      const waiting = sub.state === 'waiting' && sub.number !== null;
      // in memory: a waiting place behind the head; else (its turn came, the shuffle gave it a number,
      // the call changed it, an admission that may have expired) one read from Redis
      if (waiting && !changed.has(sub.accountId) && summary.head > 0 && sub.number! >= summary.head) {
        const ahead = sub.number! - summary.head;
        this.send(
          socket,
          sub,
          queueStatusBody(
            session,
            { state: 'waiting', number: sub.number, ahead, admission: null, admissionExpiresAt: null, waiting: summary.waiting, seatsLeft: summary.seatsLeft, outstandingSeats: summary.outstandingSeats },
            now,
          ),
        );
      } else if (changed.has(sub.accountId) || waiting || (sub.state === 'pre' && summary.shuffled)) {
        reads.push(this.refresh(socket, session, sub).catch((err: unknown) => console.error('queue push failed:', (err as Error).message)));
      }
    }
    await Promise.all(reads);
  }
}

/** The CoWIN-style pair every HTTP error carries, for a socket's error message. */
export function socketErrorOf(status: Status): { errorCode: string; error: string } {
  const { errorCode, error } = apiErrorFor(status);
  return { errorCode, error };
}
