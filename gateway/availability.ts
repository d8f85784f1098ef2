/**
 * Each gateway thread keeps every session of the coming weeks in memory and follows the
 * availability stream (XREAD BLOCK), which every booking script appends to. Searches are answered
 * from memory — no Redis read per centre per request — and are as fresh as the stream: a booking
 * shows up here within milliseconds. The same feed drives the WebSocket pushes.
 *
 * Safety nets: a full reload when the stream may have been trimmed past our position (a gap),
 * after a reconnect, and every `fullReloadMs` (which also rolls the date window forward).
 */
import type { Redis } from 'ioredis';
import type { BookingEngine } from '../engine/engine.js';
import { keys } from '../engine/keys.js';
import type { SessionState } from '../engine/sessions.js';

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

export class AvailabilityBook {
  /** every known session by id */
  readonly sessions = new Map<string, SessionState>();
  private readonly byCenter = new Map<number, SessionState[]>();
  /** bumped on every change in a district: response caches compare it */
  private readonly districtVersions = new Map<number, number>();
  private readonly listeners: ChangeListener[] = [];
  private lastId = '0-0';
  private running = false;
  private loop: Promise<void> | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private lastGapCheck = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly engine: BookingEngine,
    /** a connection of its own: XREAD BLOCK holds it */
    private readonly stream: Redis,
    private readonly options: AvailabilityOptions = DEFAULT_AVAILABILITY_OPTIONS,
  ) {}

  /** Load the sessions and start following the stream. */
  async start(): Promise<void> {
    await this.reload();
    this.running = true;
    this.loop = this.follow();
    this.reloadTimer = setInterval(() => {
      this.reload().catch((err: unknown) => console.error('availability reload failed:', (err as Error).message));
    }, this.options.fullReloadMs);
    this.reloadTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.reloadTimer);
    this.stream.disconnect();
    await this.loop?.catch(() => {});
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

  /** Reload every session in the window; remember the stream position first so nothing is missed. */
  reload(): Promise<void> {
    return this.exclusive(() => this.reloadNow());
  }

  /** Reloads and stream entries mutate the same maps: one at a time, in order. */
  private exclusive(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => {});
    return next;
  }

  private async reloadNow(): Promise<void> {
    const latest = await this.stream.xrevrange(keys.availability(), '+', '-', 'COUNT', 1);
    const position = latest[0]?.[0] ?? '0-0';
    const today = this.engine.today();
    const loaded = await this.engine.loadSessions(today - this.options.daysBack, today + this.options.daysAhead);
    this.sessions.clear();
    this.byCenter.clear();
    for (const session of loaded) this.index(session);
    for (const list of this.byCenter.values()) list.sort((a, b) => a.date - b.date || a.session_id.localeCompare(b.session_id));
    for (const district of this.districtVersions.keys()) this.bump(district);
    // read on from `position`: entries carry absolute values, so one applied twice is harmless,
    // and an entry applied while the load ran is applied again on top of what the load read
    this.lastId = position;
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

  private async follow(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const readFrom = this.lastId;
        const reply = (await this.stream.xread('COUNT', 1000, 'BLOCK', this.options.blockMs, 'STREAMS', keys.availability(), readFrom)) as
          | [string, [string, string[]][]][]
          | null;
        if (failures > 0) {
          failures = 0;
          await this.reload(); // we may have missed entries while disconnected
        }
        // skip the batch if a reload moved the position while this read was in flight
        if (reply) await this.exclusive(() => (this.lastId === readFrom ? this.apply(reply[0]![1]) : Promise.resolve()));
        await this.checkForGap();
      } catch (err) {
        if (!this.running) return;
        failures += 1;
        if (failures === 1) console.error('availability stream read failed, retrying:', (err as Error).message);
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * failures)));
      }
    }
  }

  /** If the capped stream's oldest entry is newer than our position, entries were trimmed unseen. */
  private async checkForGap(): Promise<void> {
    const now = Date.now();
    if (now - this.lastGapCheck < 10_000) return;
    this.lastGapCheck = now;
    const first = await this.stream.xrange(keys.availability(), '-', '+', 'COUNT', 1);
    const firstId = first[0]?.[0];
    if (firstId && this.lastId !== '0-0' && compareIds(firstId, this.lastId) > 0) {
      const stillThere = await this.stream.xrange(keys.availability(), this.lastId, this.lastId);
      if (!stillThere.length) await this.reload();
    }
  }

  private async apply(entries: [string, string[]][]): Promise<void> {
    const changes: SessionAvailability[] = [];
    for (const [id, fields] of entries) {
      this.lastId = id;
      const entry: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
      const sessionId = entry.s!;
      let session = this.sessions.get(sessionId);
      if (!session || String(session.version) !== entry.v) {
        // new to us, or its definition changed: read it whole
        const fresh = await this.engine.getSession(sessionId);
        if (!fresh) continue;
        if (session) this.replace(session, fresh);
        else if (this.inWindow(fresh)) this.insert(fresh);
        else continue;
        session = fresh;
      } else {
        session.booked1 = session.cap1 - Number(entry.a1);
        session.booked2 = session.cap2 - Number(entry.a2);
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

/** Order two stream ids (`ms-seq`). */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}
