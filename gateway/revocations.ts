/**
 * Which citizen logins have ended and which accounts are blocked, known in memory by every gateway
 * thread, so a booking or a search needs no Redis read to check that its token's login session is
 * still live, and a blocked account's searches cost no script.
 *
 * The scripts that end a login session (a newer login replacing it, a quota logout, a block)
 * append its id to the revocation stream of the account's partition (engine/partitions.ts) in the
 * same atomic step (a block with the account and when it ends); every thread follows every
 * partition's stream (stream-follower.ts: one XREAD for all of them on one Redis, one per slot on
 * Redis Cluster) and keeps each revoked id until every token carrying it has expired, each block
 * until it ends.
 *
 * Memory answers for a token only when it is complete for that token, which is a question about
 * the stream of the token's account's partition:
 * - the thread is current on it (its last read a moment ago returned everything there was); and
 * - the token was issued after the partition's *horizon*: the instant since which every revocation
 *   of the partition is in this thread's memory. A token is revoked after it was issued, so a token issued after the horizon
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
import type { BookingEngine } from '../engine/engine.js';
import { keys } from '../engine/keys.js';
import { decodeLoginRevocationEntry, MalformedRecord, type LoginRevocationEntry } from '../engine/records.js';
import { BlockedUntil } from './blocked-until.js';
import {
  DEFAULT_FOLLOW_OPTIONS,
  StreamFollower,
  streamGroups,
  type StreamConnection,
  type StreamEntry,
  type StreamOwner,
} from './stream-follower.js';

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

/** One partition's revocation stream as this thread follows it. */
class PartitionRevocations implements StreamOwner {
  /** engine ms since which every revocation of this partition is in memory; Infinity until read */
  horizon = Number.POSITIVE_INFINITY;
  private lastId = '0-0';
  follower!: StreamFollower;

  constructor(
    private readonly book: RevocationBook,
    readonly key: string,
    /** the connection its follower reads on (for reading the stream from its start) */
    private readonly connection: StreamConnection,
  ) {}

  position(): string {
    return this.lastId;
  }

  async apply(entries: StreamEntry[]): Promise<void> {
    this.lastId = entries[entries.length - 1]![0];
    this.book.applyEntries(entries);
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
  async readFromStart(): Promise<void> {
    const first = await this.connection.xrange(this.key, '-', '+', 'COUNT', 1);
    this.moveHorizon(first[0] ? this.revokedAtOrNow(first[0]) : this.book.now());
    this.lastId = '0-0';
  }

  moveHorizon(to: number): void {
    this.horizon = this.horizon === Number.POSITIVE_INFINITY ? to : Math.max(this.horizon, to);
  }

  /** When an entry's login session ended; now for an entry no script wrote (the horizon stays safe). */
  private revokedAtOrNow([id, fields]: StreamEntry): number {
    try {
      return decodeLoginRevocationEntry(id, fields).at;
    } catch (err) {
      if (!(err instanceof MalformedRecord)) throw err;
      return this.book.now();
    }
  }
}

export class RevocationBook {
  /** revoked login session id → when its last token has expired (engine clock, ms), oldest first */
  private readonly revoked = new Map<string, number>();
  /** accounts blocked until an instant of the engine's clock */
  private readonly blockedAccounts: BlockedUntil;
  private lastSweep = 0;
  /** each partition's stream, by partition number */
  private readonly partitions: PartitionRevocations[] = [];
  private readonly followers: StreamFollower[];

  constructor(
    private readonly engine: BookingEngine,
    /**
     * a connection of its own: XREAD BLOCK holds it. On Redis Cluster the streams of other slots
     * are read on duplicates of it, each followed by its own XREAD
     */
    connection: StreamConnection,
    private readonly options: RevocationOptions,
    /** called with each stream entry's age when applied, in seconds */
    observeLag?: (seconds: number) => void,
  ) {
    const streamKeys = engine.partitions.all().map((partition) => keys.loginRevocations(engine.partitions, partition));
    const followOptions = { ...DEFAULT_FOLLOW_OPTIONS, blockMs: options.blockMs, observeLag };
    this.followers = streamGroups(connection, streamKeys).map((group) => {
      const streams = group.keys.map((key) => new PartitionRevocations(this, key, group.connection));
      const follower = new StreamFollower(group.connection, streams.map((owner) => ({ key: owner.key, owner })), followOptions);
      for (const stream of streams) {
        stream.follower = follower;
        this.partitions[streamKeys.indexOf(stream.key)] = stream;
      }
      return follower;
    });
    this.blockedAccounts = new BlockedUntil(options.capacity);
  }

  /** Start reading every stream from its start; until that read has caught up, memory does not answer. */
  async start(): Promise<void> {
    await Promise.all(this.partitions.map((partition) => partition.readFromStart()));
    for (const follower of this.followers) follower.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.followers.map((follower) => follower.stop()));
  }

  /** the engine's clock */
  now(): number {
    return this.engine.now();
  }

  /**
   * Whether the login of a token (its account, its session id, issued at `issuedAtSeconds`) is
   * still live, from memory: false when revoked, true when memory is complete for it and holds no
   * revocation, undefined when memory cannot tell (ask Redis).
   */
  loginLive(accountId: string, sid: string, issuedAtSeconds: number): boolean | undefined {
    if (this.revoked.has(sid)) return false;
    const partition = this.partitions[this.engine.partitions.of(accountId)]!;
    // written so that a missing or odd `iat` (NaN) means "cannot tell"
    if (!partition.follower.current() || !(issuedAtSeconds * 1000 >= partition.horizon + ISSUE_MARGIN_MS)) return undefined;
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

  /** Entries of any partition's stream, in order; an entry no script wrote is skipped, not guessed at. */
  applyEntries(entries: StreamEntry[]): void {
    for (const [id, fields] of entries) {
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

  private remember(sid: string, revokedAt: number): void {
    const until = revokedAt + this.options.tokenTtlMs + ISSUE_MARGIN_MS;
    // every token of an old entry (read from the start of the stream) has expired already
    if (this.revoked.has(sid) || until <= this.engine.now()) return;
    if (this.revoked.size >= this.options.capacity) {
      // the oldest revocation goes; tokens issued before it are checked in Redis from now on
      const [oldestSid, oldestUntil] = this.revoked.entries().next().value!;
      this.revoked.delete(oldestSid);
      // it may be any partition's: memory is complete from just after it in every partition
      for (const partition of this.partitions) partition.moveHorizon(oldestUntil - this.options.tokenTtlMs - ISSUE_MARGIN_MS);
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
