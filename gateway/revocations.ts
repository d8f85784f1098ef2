/**
 * Which citizen logins have ended and which accounts are blocked, known in memory by every gateway
 * thread, so a booking or a search needs no Redis read to check that its token's login session is
 * still live, and a blocked account's searches cost no script.
 *
 * The scripts that end a login session (a newer login replacing it, a quota logout, a block)
 * append its id to the revocation stream in the same atomic step (a block with the account and
 * when it ends); every thread follows the stream (stream-follower.ts) and keeps each revoked id
 * until every token carrying it has expired, each block until it ends.
 *
 * Memory answers for a token only when it is complete for that token:
 * - the thread is current (its last read a moment ago returned everything there was); and
 * - the token was issued after the *horizon*: the instant since which every revocation is in this
 *   thread's memory. A token is revoked after it was issued, so a token issued after the horizon
 *   has its revocation here, if there is one. The horizon is the stream's oldest entry when the
 *   thread started reading it from the start (or the start itself, when there was no stream: nothing
 *   had been revoked, or Redis lost its data, and then no older token's login exists either); it
 *   moves forward when entries are trimmed before this thread read them, and when memory is full
 *   and its oldest revocation is let go.
 * Otherwise the answer is "unknown" and the caller asks Redis (engine.isLoginLive), as before.
 *
 * The window: a revoked token is accepted for at most the time its revocation takes from the XADD
 * to this thread's memory (the lag the follower reports; a few milliseconds, docs/performance.md).
 * The thread that ran the revoking script learns it at once (`revokeHere`).
 */
import type { Redis } from 'ioredis';
import type { BookingEngine } from '../engine/engine.js';
import { keys } from '../engine/keys.js';
import { decodeLoginRevocationEntry, MalformedRecord, type LoginRevocationEntry } from '../engine/records.js';
import { BlockedUntil } from './blocked-until.js';
import { DEFAULT_FOLLOW_OPTIONS, StreamFollower, type StreamEntry, type StreamOwner } from './stream-follower.js';

export interface RevocationOptions {
  /** the citizens' token lifetime, ms: a revocation is kept this long (plus the margin) */
  tokenTtlMs: number;
  /** revocations kept at most; past it the oldest goes and the horizon moves. Default 200000 (about 25 MB) */
  capacity: number;
  /** how long one XREAD blocks. Default 1000 ms */
  blockMs: number;
}

/**
 * How much earlier than a token's `iat` (whole seconds, rounded down: never after the token was
 * signed) its revocation may be stamped: the token is signed a moment after its login, and the
 * clocks of different gateway machines may differ a little. A token is answered from memory when
 * `iat` is at least this much after the horizon.
 */
export const ISSUE_MARGIN_MS = 1000;

/** How often revocations whose tokens have all expired are dropped. */
const SWEEP_EVERY_MS = 10_000;

export class RevocationBook implements StreamOwner {
  /** revoked login session id → when its last token has expired (engine clock, ms), oldest first */
  private readonly revoked = new Map<string, number>();
  /** engine ms since which every revocation is in memory; Infinity until the stream was read */
  private horizon = Number.POSITIVE_INFINITY;
  /** accounts blocked until an instant of the engine's clock */
  private readonly blockedAccounts: BlockedUntil;
  private lastId = '0-0';
  private lastSweep = 0;
  private readonly follower: StreamFollower;

  constructor(
    private readonly engine: BookingEngine,
    /** a connection of its own: XREAD BLOCK holds it */
    private readonly stream: Redis,
    private readonly options: RevocationOptions,
    /** called with each stream entry's age when applied, in seconds */
    observeLag?: (seconds: number) => void,
  ) {
    this.follower = new StreamFollower(stream, keys.loginRevocations(), this, { ...DEFAULT_FOLLOW_OPTIONS, blockMs: options.blockMs, observeLag });
    this.blockedAccounts = new BlockedUntil(options.capacity);
  }

  /** Start reading the stream from its start; until that read has caught up, memory does not answer. */
  async start(): Promise<void> {
    await this.readFromStart();
    this.follower.start();
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }

  /**
   * Whether the login of a token (its session id, issued at `issuedAtSeconds`) is still live, from
   * memory: false when revoked, true when memory is complete for it and holds no revocation,
   * undefined when memory cannot tell (ask Redis).
   */
  loginLive(sid: string, issuedAtSeconds: number): boolean | undefined {
    if (this.revoked.has(sid)) return false;
    // written so that a missing or odd `iat` (NaN) means "cannot tell"
    if (!this.follower.current() || !(issuedAtSeconds * 1000 >= this.horizon + ISSUE_MARGIN_MS)) return undefined;
    return true;
  }

  /** A revocation this thread saw in a script's answer: known here at once, the stream tells the others. */
  revokeHere(sid: string): void {
    if (sid) this.remember(sid, this.engine.now());
  }

  /** ms left of the account's block as far as this thread knows, or 0 (not blocked, or not known here). */
  accountBlockedMs(accountId: string): number {
    return this.blockedAccounts.remainingMs(accountId, this.engine.now());
  }

  /** A block this thread saw in a script's answer (the stream tells the others). */
  blockHere(accountId: string, until: number): void {
    this.blockedAccounts.block(accountId, until);
  }

  position(): string {
    return this.lastId;
  }

  async apply(entries: StreamEntry[]): Promise<void> {
    for (const [id, fields] of entries) {
      this.lastId = id;
      let revocation: LoginRevocationEntry;
      try {
        revocation = decodeLoginRevocationEntry(id, fields);
      } catch (err) {
        if (!(err instanceof MalformedRecord)) throw err;
        console.error(`revocations: skipped: ${err.message}`);
        continue;
      }
      this.remember(revocation.sid, revocation.at);
      if (revocation.block && revocation.block.until > this.engine.now()) this.blockedAccounts.block(revocation.block.accountId, revocation.block.until);
    }
    this.sweep();
  }

  /** Redis was away, and may have come back without the stream: read it again from its start. */
  reconnected(): Promise<void> {
    return this.readFromStart();
  }

  /** Revocations were trimmed before this thread read them: memory is complete only from the oldest left. */
  trimmedPast(): Promise<void> {
    return this.readFromStart();
  }

  /**
   * Read the stream again from its start. What memory holds stays (it is still true); the horizon
   * becomes the oldest entry's time, or now when there is no stream. Never moves the horizon back.
   */
  private async readFromStart(): Promise<void> {
    const first = await this.stream.xrange(keys.loginRevocations(), '-', '+', 'COUNT', 1);
    const from = first[0] ? this.revokedAtOrNow(first[0]) : this.engine.now();
    this.horizon = this.horizon === Number.POSITIVE_INFINITY ? from : Math.max(this.horizon, from);
    this.lastId = '0-0';
  }

  /** When an entry's login session ended; now for an entry no script wrote (the horizon stays safe). */
  private revokedAtOrNow([id, fields]: StreamEntry): number {
    try {
      return decodeLoginRevocationEntry(id, fields).at;
    } catch (err) {
      if (!(err instanceof MalformedRecord)) throw err;
      return this.engine.now();
    }
  }

  private remember(sid: string, revokedAt: number): void {
    const until = revokedAt + this.options.tokenTtlMs + ISSUE_MARGIN_MS;
    // every token of an old entry (read from the start of the stream) has expired already
    if (this.revoked.has(sid) || until <= this.engine.now()) return;
    if (this.revoked.size >= this.options.capacity) {
      // the oldest revocation goes; tokens issued before it are checked in Redis from now on
      const [oldestSid, oldestUntil] = this.revoked.entries().next().value!;
      this.revoked.delete(oldestSid);
      this.horizon = Math.max(this.horizon, oldestUntil - this.options.tokenTtlMs - ISSUE_MARGIN_MS);
    }
    this.revoked.set(sid, until);
  }

  /** Drop revocations whose tokens have all expired (they are refused as expired anyway). */
  private sweep(): void {
    const now = this.engine.now();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    // oldest first: stop at the first one still needed
    for (const [sid, until] of this.revoked) {
      if (until > now) break;
      this.revoked.delete(sid);
    }
  }
}
