/**
 * The access log: one entry per read or change of personal data, who, from where, what, outcome.
 * The gateway appends each entry to the outbox (kind `access`) before it answers, so an answer that
 * carried personal data always has its entry (a citizen's accepted booking carries its entry inside
 * its own appointment entry, written by the booking script: engine.book's `access`, and
 * `bookingAccessEntry`), and the worker writes it to PostgreSQL's append-only
 * `access_log` exactly once (by entry id), chained: each row's hash covers the previous row's hash
 * and its own fields (`accessRowHash`), which `npm run audit -- verify` recomputes.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from './clock.js';
import { keys } from './keys.js';
import type { AccessChange, AppointmentChange, OutboxEvent } from './records.js';
import type { LuaScripts } from './scripts.js';

export const ACCESS_ACTOR_KINDS = ['citizen', 'vaccinator', 'admin', 'anonymous'] as const;
export type AccessActorKind = (typeof ACCESS_ACTOR_KINDS)[number];

/** One entry, as the outbox carries it (`data` of an `access` entry). */
export interface AccessEntry {
  /** when, engine ms */
  at: number;
  actor_kind: AccessActorKind;
  /** the account id, the operator id, or '' */
  actor: string;
  /** the partner whose key the call carried, or '' */
  partner: string;
  /** the client's address */
  address: string;
  method: string;
  /** the route's pattern */
  route: string;
  /** whose data: `account:<id>`, `beneficiary:<id>`, `appointment:<id>`, `certificate:<id>` */
  objects: string[];
  /** the HTTP status answered */
  status: number;
}

/** The first row's previous hash. */
export const CHAIN_START = '0'.repeat(64);

/** A row of `access_log` as the chain covers it. */
export interface AccessRow extends AccessEntry {
  seq: number;
  entry_id: string;
}

/**
 * sha256 hex of the previous row's hash and this row's fields, in a fixed order, as JSON (so no
 * field's text can run into the next one's). The worker computes it when it appends the row; audit
 * verify computes it again from what the table holds.
 */
export function accessRowHash(previous: string, row: AccessRow): string {
  const fields = [row.seq, row.entry_id, row.at, row.actor_kind, row.actor, row.partner, row.address, row.method, row.route, row.objects, row.status];
  return createHash('sha256').update(previous).update('\n').update(JSON.stringify(fields)).digest('hex');
}

/** An operator or partner whose distinct readings are counted, and over which window. */
export interface CountedReader {
  /** `operator:<id>` or `partner:<id>` */
  reader: string;
  windowMs: number;
}

/** The people an entry names: its accounts and beneficiaries. */
export function peopleOf(entry: AccessEntry): string[] {
  return entry.objects.filter((o) => o.startsWith('beneficiary:') || o.startsWith('account:'));
}

/**
 * A new entry's id in the outbox (the worker writes each id once). A booking's entry, which its
 * appointment entry carries, is named by the booking's appointment id: one per booking however
 * often the outbox entry is read, and the entry names its booking.
 */
export function accessEntryId(appointmentId?: string): string {
  return appointmentId === undefined ? `access:${randomUUID()}` : `access:booking:${appointmentId}`;
}

/**
 * What a citizen's booking call gives its booking script for the access log: the route that books
 * (`METHOD pattern`) and the client's address. Everything else the entry holds, the booking knows.
 */
export interface BookingAccess {
  route: string;
  address: string;
}

/**
 * The access log entry of a citizen's accepted booking, read from its appointment entry (version 1,
 * with `access`; includes/booking.lua): who is the account, what are the account, the people booked
 * and the new appointment, and the outcome is the booked answer's 200. It is the entry the gateway's
 * wrapper would make of that call and its answer (gateway/access-log.ts entryOf;
 * test/gateway/access-log.test.ts holds the two equal), made without costing the rush a JSON
 * entry per booking. Undefined for any other appointment change.
 */
export function bookingAccessEntry(change: AppointmentChange): AccessEntry | undefined {
  if (!change.access || change.version !== 1) return undefined;
  const space = change.access.route.indexOf(' ');
  return {
    at: change.at,
    actor_kind: 'citizen',
    actor: change.account_id,
    partner: '',
    address: change.access.address,
    method: change.access.route.slice(0, space),
    route: change.access.route.slice(space + 1),
    objects: [`account:${change.account_id}`, ...change.beneficiaries.map((b) => `beneficiary:${b.id}`), `appointment:${change.appointment_id}`],
    status: 200,
  };
}

/** Every access log entry in outbox events, in outbox order: `access` entries, and those bookings carry. */
export function accessEntriesOf(events: readonly OutboxEvent[]): { eventId: string; change: AccessChange }[] {
  const entries: { eventId: string; change: AccessChange }[] = [];
  for (const event of events) {
    if (event.kind === 'access') entries.push({ eventId: event.eventId, change: event.change });
    if (event.kind !== 'appointment') continue;
    const booked = bookingAccessEntry(event.change);
    if (booked) entries.push({ eventId: accessEntryId(event.change.appointment_id), change: booked });
  }
  return entries;
}

/** Entries sent in one script call at most. */
const BATCH_MAX = 500;

/**
 * Appends access entries to the outbox. An entry of a counted reader (an operator, a partner) is
 * one script with its count (lua/appendAccessEntry-2.lua). Other entries (citizens') that arrive in
 * the same turn of the event loop go together in one script (lua/appendAccessEntries-1.lua), as the
 * answers of a coalesced booking batch do: a rush pays one extra call per batch, not per booking.
 */
export class AccessLog {
  private pending: { data: string; resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(
    private readonly scripts: LuaScripts,
    private readonly clock: Clock,
  ) {}

  /**
   * One entry, in the outbox before this resolves (a Redis failure throws: the caller must not
   * answer). With `counted`, `objects` (by default the people the entry names) are counted for that
   * reader; the answer is the distinct ones it read in its current window (0 when not counted).
   */
  async append(entry: AccessEntry, counted?: CountedReader, objects: readonly string[] = peopleOf(entry)): Promise<number> {
    if (!counted) {
      await new Promise<void>((resolve, reject) => {
        this.pending.push({ data: JSON.stringify(entry), resolve, reject });
        if (this.pending.length === 1) setImmediate(() => this.flush());
        else if (this.pending.length >= BATCH_MAX) this.flush();
      });
      return 0;
    }
    const reply = await this.scripts.run(
      'appendAccessEntry',
      [keys.outbox(), keys.accessReader(counted.reader)],
      [accessEntryId(), JSON.stringify(entry), this.clock(), counted.windowMs, ...objects],
    );
    return reply[1] as number;
  }

  /** Send the entries waiting (none when a full batch already went). */
  private flush(): void {
    const batch = this.pending;
    if (!batch.length) return;
    this.pending = [];
    this.scripts.run('appendAccessEntries', [keys.outbox()], batch.flatMap((e) => [accessEntryId(), e.data])).then(
      () => batch.forEach((e) => e.resolve()),
      (err: unknown) => batch.forEach((e) => e.reject(err)),
    );
  }
}
