/**
 * Each gateway thread keeps every session of the coming weeks in memory and follows the
 * availability streams (XREAD BLOCK, stream-follower.ts), which every booking script appends to:
 * the booking partition's (`{bk}:availability`, the single-slot scripts) and every partition's
 * (`{p:<n>}:availability`, the partitioned booking's steps and publications: engine/partitioned-booking.md).
 * On one Redis one XREAD reads them all; on Redis Cluster one per slot, each on a connection of its own.
 * Searches are answered from memory — no Redis read per centre per request — and are as fresh as
 * the stream: a booking shows up here within milliseconds. The same feed drives the WebSocket pushes,
 * and lets a thread refuse a booking into a full dose or slot without Redis (`knownFull`).
 *
 * Memory may refuse, never accept: `knownFull` says yes only while the thread is current on the
 * session's stream (its last read of it a moment ago returned everything: a session's seats change
 * only through its own stream, so one slow master does not stop refusals for the others' sessions)
 * and what it holds says the seats asked for are not there; any doubt sends the request to the
 * booking script, which decides every acceptance.
 *
 * Safety nets: a full reload when a stream was trimmed past our position (a gap), after a
 * reconnect, and every `fullReloadMs` (which also rolls the date window forward).
 */
import type { BookingEngine } from '../engine/engine.js';
import { keys } from '../engine/keys.js';
import { PartitionedBooking } from '../engine/partitioned-booking.js';
import { decodeAvailabilityEntry, MalformedRecord, type AvailabilityEntry } from '../engine/records.js';
import { capacityBucket, type SessionState } from '../engine/sessions.js';
import { DEFAULT_FOLLOW_OPTIONS, StreamFollower, streamGroups, type StreamConnection, type StreamEntry, type StreamOwner } from './stream-follower.js';

export interface SessionAvailability {
  session_id: string;
  district_id: number;
  date: number;
  available_capacity_dose1: number;
  available_capacity_dose2: number;
  /** when the change happened, ms by Redis's clock (the stream entry's id) */
  changed_at: number;
}

export interface AvailabilityOptions {
  /** days before today kept (yesterday's sessions stay visible until the reload) */
  daysBack: number;
  /** days after today kept */
  daysAhead: number;
  /** full reload period */
  fullReloadMs: number;
  /** how long one XREAD blocks */
  blockMs: number;
}

export const DEFAULT_AVAILABILITY_OPTIONS: AvailabilityOptions = {
  daysBack: 1,
  daysAhead: 60,
  fullReloadMs: 300_000,
  blockMs: 1000,
};

type ChangeListener = (changes: SessionAvailability[]) => void;

/** One availability stream as the book follows it: its position, and where its sessions are read. */
class AvailabilityStream implements StreamOwner {
  lastId = '0-0';

  constructor(
    private readonly book: AvailabilityBook,
    readonly key: string,
    /** a session of this stream's, read whole (a new one, or one whose definition changed) */
    readonly readSession: (sessionId: string) => Promise<SessionState | null>,
  ) {}

  position(): string {
    return this.lastId;
  }

  apply(entries: StreamEntry[], readFrom: string): Promise<void> {
    return this.book.applyFrom(this, entries, readFrom);
  }

  /** Redis was away: whatever changed meanwhile is read whole. */
  reconnected(): Promise<void> {
    return this.book.reload();
  }

  trimmedPast(): Promise<void> {
    return this.book.reload();
  }
}

export class AvailabilityBook {
  /** every known session by id */
  readonly sessions = new Map<string, SessionState>();
  private readonly byCenter = new Map<number, SessionState[]>();
  /** bumped on every change in a district: response caches compare it */
  private readonly districtVersions = new Map<number, number>();
  private readonly listeners: ChangeListener[] = [];
  private reloadTimer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  /** a reload queued that has not started yet */
  private waitingReload: Promise<void> | undefined;
  /** the booking partition's stream first, then each partition's */
  private readonly streams: AvailabilityStream[];
  private readonly followers: StreamFollower[];
  /** each stream's follower, by the stream's key */
  private readonly followerOf = new Map<string, StreamFollower>();
  /**
   * the followers whose streams a session's changes arrive on, by session id: found once, not per
   * refused attempt (a hash of the id and two key strings); emptied with each full reload
   */
  private readonly sessionFollowers = new Map<string, readonly StreamFollower[]>();
  private readonly partitioned: PartitionedBooking;

  constructor(
    private readonly engine: BookingEngine,
    /**
     * a connection of its own: XREAD BLOCK holds it. On Redis Cluster the streams of other slots
     * are read on duplicates of it, each followed by its own XREAD
     */
    connection: StreamConnection,
    private readonly options: AvailabilityOptions = DEFAULT_AVAILABILITY_OPTIONS,
    /** called with each stream entry's age when applied, in seconds */
    observeLag?: (seconds: number) => void,
  ) {
    this.partitioned = new PartitionedBooking(engine);
    const partitions = engine.partitions;
    this.streams = [
      new AvailabilityStream(this, keys.availability(), (id) => engine.getSession(id)),
      ...partitions.all().map((partition) => new AvailabilityStream(this, keys.partitionAvailability(partitions, partition), (id) => this.partitioned.getSession(id))),
    ];
    const byKey = new Map(this.streams.map((stream) => [stream.key, stream]));
    const followOptions = { ...DEFAULT_FOLLOW_OPTIONS, blockMs: options.blockMs, observeLag };
    this.followers = streamGroups(connection, [...byKey.keys()]).map((group) => {
      const follower = new StreamFollower(group.connection, group.keys.map((key) => ({ key, owner: byKey.get(key)! })), followOptions);
      for (const key of group.keys) this.followerOf.set(key, follower);
      return follower;
    });
  }

  /** Load the sessions and start following the streams. */
  async start(): Promise<void> {
    await this.reload();
    for (const follower of this.followers) follower.start();
    this.reloadTimer = setInterval(() => {
      this.reload().catch((err: unknown) => console.error('availability reload failed:', (err as Error).message));
    }, this.options.fullReloadMs);
    this.reloadTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.reloadTimer);
    await Promise.all(this.followers.map((follower) => follower.stop()));
  }

  /**
   * Whether the followers of the streams a session's changes can arrive on are current
   * (stream-follower.ts): memory may refuse only then. Those are `{bk}`'s (the single layout's
   * scripts) and the session's partition's (the partitioned layout's); on one Redis one follower
   * reads both, on a cluster two of the 17.
   */
  private currentFor(sessionId: string): boolean {
    let followers = this.sessionFollowers.get(sessionId);
    if (!followers) {
      const partitions = this.engine.partitions;
      const streams = [keys.availability(), keys.partitionAvailability(partitions, partitions.of(sessionId))];
      followers = [...new Set(streams.map((stream) => this.followerOf.get(stream)!))];
      this.sessionFollowers.set(sessionId, followers);
    }
    return followers.every((follower) => follower.current());
  }

  /**
   * True only when this thread knows that `seats` seats of `dose` in `slot` of the session are not
   * there: its book is current, the session is open for booking now, the slot is one of its slots,
   * and the dose's bucket or the slot has fewer seats left. On any doubt (an unknown session, a
   * closed one, a thread behind or just started) false: the booking script answers.
   */
  knownFull(sessionId: string, dose: number, slot: string, seats: number): boolean {
    // known sessions only: the followers are remembered per session, and an unknown id asked by a
    // bot must not add to that memory
    const session = this.sessions.get(sessionId);
    if (!session || !this.currentFor(sessionId)) return false;
    // the script checks these before capacity and answers something else: leave it to the script
    const now = this.engine.now();
    if (session.status !== 'open' || now < session.opens_at || now >= session.cutoff_at) return false;
    const slotIndex = session.slots.indexOf(slot);
    if (slotIndex < 0) return false;
    const left = capacityBucket(dose) === 1 ? session.cap1 - session.booked1 : session.cap2 - session.booked2;
    return seats > left || session.slot_booked[slotIndex]! + seats > session.slot_caps[slotIndex]!;
  }

  /** Entries of one stream, read after `readFrom`. */
  applyFrom(stream: AvailabilityStream, entries: StreamEntry[], readFrom: string): Promise<void> {
    // skip the batch if a reload moved the position while this read was in flight
    return this.exclusive(() => (stream.lastId === readFrom ? this.applyEntries(stream, entries) : Promise.resolve()));
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  sessionsOfCenter(centerId: number): readonly SessionState[] {
    return this.byCenter.get(centerId) ?? [];
  }

  districtVersion(districtId: number): number {
    return this.districtVersions.get(districtId) ?? 0;
  }

  /**
   * Reload every session in the window; remember the streams' positions first so nothing is missed.
   * Requests made while one waits for its turn share it (a reconnection asks once per stream, 17
   * times with 16 partitions): it has not read anything yet, so it reads all they would.
   */
  reload(): Promise<void> {
    this.waitingReload ??= this.exclusive(() => {
      this.waitingReload = undefined;
      return this.reloadNow();
    });
    return this.waitingReload;
  }

  /** Reloads and stream entries mutate the same maps: one at a time, in order. */
  private exclusive(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => {});
    return next;
  }

  private async reloadNow(): Promise<void> {
    // on the engine's connection: the followers' ones sit in their blocking reads
    const latest = await Promise.all(this.streams.map((stream) => this.engine.redis.xrevrange(stream.key, '+', '-', 'COUNT', 1)));
    const today = this.engine.today();
    const [from, to] = [today - this.options.daysBack, today + this.options.daysAhead];
    const [single, partitioned] = await Promise.all([this.engine.loadSessions(from, to), this.partitioned.loadSessions(from, to)]);
    this.sessions.clear();
    this.sessionFollowers.clear();
    this.byCenter.clear();
    for (const session of single) this.index(session);
    // a session is in one place; one found in both (published both ways) shows as the booking partition has it
    for (const session of partitioned) if (!this.sessions.has(session.session_id)) this.index(session);
    for (const list of this.byCenter.values()) list.sort((a, b) => a.date - b.date || a.session_id.localeCompare(b.session_id));
    // every cached search answer may be stale now, also for districts that never changed before
    for (const district of this.engine.country.data.districts) this.bump(district.district_id);
    // read on from the positions: entries carry absolute values, so one applied twice is harmless,
    // and an entry applied while the load ran is applied again on top of what the load read
    this.streams.forEach((stream, i) => (stream.lastId = latest[i]![0]?.[0] ?? '0-0'));
  }

  private index(session: SessionState): void {
    this.sessions.set(session.session_id, session);
    const list = this.byCenter.get(session.center_id);
    if (list) list.push(session);
    else this.byCenter.set(session.center_id, [session]);
  }

  private bump(districtId: number): void {
    this.districtVersions.set(districtId, (this.districtVersions.get(districtId) ?? 0) + 1);
  }

  private async applyEntries(stream: AvailabilityStream, entries: StreamEntry[]): Promise<void> {
    const changes: SessionAvailability[] = [];
    for (const [id, fields] of entries) {
      stream.lastId = id;
      let entry: AvailabilityEntry;
      try {
        entry = decodeAvailabilityEntry(id, fields);
      } catch (err) {
        // no script wrote it: memory learns nothing from it (the next reload reads the sessions whole)
        if (!(err instanceof MalformedRecord)) throw err;
        console.error(`availability: skipped: ${err.message}`);
        continue;
      }
      const { sessionId } = entry;
      let session = this.sessions.get(sessionId);
      if (!session || session.version !== entry.version) {
        // new to us, or its definition changed: read it whole
        const fresh = await stream.readSession(sessionId);
        if (!fresh) continue;
        if (session) this.replace(session, fresh);
        else if (this.inWindow(fresh)) this.insert(fresh);
        else continue;
        session = fresh;
      } else {
        session.booked1 = session.cap1 - entry.available1;
        session.booked2 = session.cap2 - entry.available2;
        // seats left in each slot the change touched
        for (const [slot, left] of entry.slotsLeft) {
          const slotIndex = session.slots.indexOf(slot);
          if (slotIndex >= 0) session.slot_booked[slotIndex] = session.slot_caps[slotIndex]! - left;
        }
      }
      this.bump(session.district_id);
      changes.push({
        session_id: sessionId,
        district_id: session.district_id,
        date: session.date,
        available_capacity_dose1: session.cap1 - session.booked1,
        available_capacity_dose2: session.cap2 - session.booked2,
        changed_at: Number(id.slice(0, id.indexOf('-'))),
      });
    }
    if (changes.length) for (const listener of this.listeners) listener(changes);
  }

  private inWindow(session: SessionState): boolean {
    const today = this.engine.today();
    return session.date >= today - this.options.daysBack && session.date <= today + this.options.daysAhead;
  }

  private insert(session: SessionState): void {
    this.index(session);
    this.byCenter.get(session.center_id)!.sort((a, b) => a.date - b.date || a.session_id.localeCompare(b.session_id));
  }

  private replace(old: SessionState, fresh: SessionState): void {
    this.sessions.set(fresh.session_id, fresh);
    const list = this.byCenter.get(old.center_id)!;
    list[list.indexOf(old)] = fresh;
  }
}
