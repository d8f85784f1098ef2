/**
 * Outbox entries PostgreSQL refuses for good: one of them must never hold back the others
 * (design.md, invariant 8).
 *
 * A batch that fails with a data error, one that retrying cannot fix, is split in halves and each
 * half written on its own, down to the single entries PostgreSQL refuses. Every other entry is
 * written; the refused ones move, with the database's error, from the outbox to the dead-letter
 * stream beside it (`keys.deadLettersOf(outbox)`; the booking partition's is `keys.outboxDeadLetters()`), where /metrics, /teeka/ops/queue, the dashboard and
 * `npm run reconcile` show them. Any other failure (PostgreSQL down, a timeout, a deadlock, the
 * documented out-of-order rebooking) fails the batch as before, and Bull retries it.
 *
 * An entry no booking script could have written (`MalformedOutboxEntry`) is set aside the same
 * way, without asking PostgreSQL. worker/README.md says why the dead letters live in Redis and what
 * an operator does with them.
 */
import type { RedisClient } from '../engine/redis.js';
import pg from 'pg';
import { keys } from '../engine/keys.js';
import { decodeDeadLetter, encodeDeadLetterEntry, outboxEntryHeader, type DeadLetter, type DeadLetterSummary } from '../engine/records.js';
import { LuaScripts } from '../engine/scripts.js';
import {
  acknowledgeOutboxEntries,
  MalformedOutboxEntry,
  OUTBOX_GROUP,
  parseOutboxEntry,
  type OutboxEvent,
  type StreamEntry,
} from './outbox.js';
import { writeBatch, type BatchWriteReport } from './persist.js';

/** Why an entry cannot be written, as the database (or the entry's shape) said it. */
export interface Refusal {
  /** the SQLSTATE, e.g. `22021`, or `malformed` for an entry no script could have written */
  code: string;
  error: string;
  /** the database's detail line, when it gave one (may quote the row: it stays in Redis, beside the entry) */
  detail: string;
}

/**
 * SQLSTATE classes that the rows themselves cause, so the same entry fails the same way however
 * often it is retried: 22 data exception (a NUL byte in text, a number out of range, a malformed
 * value) and 23 integrity constraint violation. Class 42 (syntax, undefined table, permissions)
 * is left to retries on purpose: it comes from the statements or the schema, fails every entry
 * alike, and setting everything aside would empty the outbox into the dead letters.
 */
const DATA_ERROR_CLASSES = new Set(['22', '23']);

/**
 * Constraint violations that retrying does fix: a rebooking whose batch overtook the batch with the
 * cancellation before it succeeds once that batch has landed (worker/README.md).
 */
const RETRIED_CONSTRAINTS = new Set(['appointments_one_live_per_dose']);

/** The refusal in a PostgreSQL error that retrying cannot fix, or null for one that retrying may. */
export function permanentRefusal(err: unknown): Refusal | null {
  if (!(err instanceof pg.DatabaseError) || !err.code) return null;
  if (!DATA_ERROR_CLASSES.has(err.code.slice(0, 2))) return null;
  if (RETRIED_CONSTRAINTS.has(err.constraint ?? '')) return null;
  return { code: err.code, error: err.message, detail: err.detail ?? '' };
}

/** An outbox entry set aside. */
export interface SetAsideEntry {
  outboxId: string;
  eventId: string;
  kind: string;
  refusal: Refusal;
}

export interface OutboxWriteResult {
  /** what the entries PostgreSQL took changed */
  written: BatchWriteReport;
  /** the entries it refused for good, now in the dead-letter stream */
  setAside: SetAsideEntry[];
}

function emptyReport(): BatchWriteReport {
  return { events: 0, rows: 0, accounts: 0, sessions: 0, beneficiaries: 0, appointmentEvents: 0, appointmentRows: 0, expired: 0, operators: 0, certificates: 0, accessEntries: 0 };
}

function addReport(total: BatchWriteReport, more: BatchWriteReport): void {
  for (const name of Object.keys(total) as (keyof BatchWriteReport)[]) total[name] += more[name];
}

/**
 * Write `events` (in stream order); when PostgreSQL refuses them for good, write each half on its
 * own, in order (so a cancellation still lands before the rebooking after it), until the refused
 * entries stand alone. Each written part is its own transaction; a retry of the whole batch after
 * a crash rewrites them harmlessly (persist.ts).
 */
async function writeIsolatingRefusals(
  pool: pg.Pool,
  events: OutboxEvent[],
  written: BatchWriteReport,
  refused: (event: OutboxEvent, refusal: Refusal) => void,
): Promise<void> {
  if (!events.length) return;
  try {
    addReport(written, await writeBatch(pool, events));
  } catch (err) {
    const refusal = permanentRefusal(err);
    if (!refusal) throw err;
    if (events.length === 1) {
      refused(events[0]!, refusal);
      return;
    }
    const half = Math.ceil(events.length / 2);
    await writeIsolatingRefusals(pool, events.slice(0, half), written, refused);
    await writeIsolatingRefusals(pool, events.slice(half), written, refused);
  }
}

/** Stream ids (`<ms>-<seq>`) in the order Redis gave them. */
function compareStreamIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bMs, bSeq] = b.split('-').map(BigInt) as [bigint, bigint];
  return aMs === bMs ? Number(aSeq - bSeq) : aMs < bMs ? -1 : 1;
}

/**
 * Write outbox entries to PostgreSQL and take every one of them out of the outbox: those written
 * are acknowledged, those refused for good are moved to the dead-letter stream with the error.
 * The commit comes first, so a crash at any point leaves each entry written or still in the outbox.
 */
export async function persistOutboxEntries(redis: RedisClient, pool: pg.Pool, entries: StreamEntry[], stream = keys.outbox()): Promise<OutboxWriteResult> {
  const byId = new Map(entries.map((entry) => [entry[0], entry]));
  const refused: { entry: StreamEntry; refusal: Refusal }[] = [];
  const events: OutboxEvent[] = [];
  for (const entry of entries) {
    try {
      events.push(parseOutboxEntry(entry));
    } catch (err) {
      if (!(err instanceof MalformedOutboxEntry)) throw err;
      refused.push({ entry, refusal: { code: 'malformed', error: err.message, detail: '' } });
    }
  }
  const written = emptyReport();
  await writeIsolatingRefusals(pool, events, written, (event, refusal) => refused.push({ entry: byId.get(event.streamId)!, refusal }));

  // in stream order, however they were found: the dead letters read in the order the changes were made
  refused.sort((a, b) => compareStreamIds(a.entry[0], b.entry[0]));
  const setAside = refused.map(({ entry: [outboxId, fields], refusal }) => ({ outboxId, ...outboxEntryHeader(fields), refusal }));
  if (refused.length) {
    const args: string[] = [OUTBOX_GROUP];
    refused.forEach(({ entry: [, fields] }, i) => {
      const { outboxId, eventId, kind, refusal } = setAside[i]!;
      args.push(outboxId, eventId, kind, refusal.code, refusal.error, refusal.detail, encodeDeadLetterEntry(fields));
    });
    await new LuaScripts(redis).run('setAsideOutboxEntries', [stream, keys.deadLettersOf(stream)], args);
  }
  const refusedIds = new Set(setAside.map((s) => s.outboxId));
  await acknowledgeOutboxEntries(
    redis,
    entries.map(([id]) => id).filter((id) => !refusedIds.has(id)),
    stream,
  );
  return { written, setAside };
}

/** A one-line account of a set-aside entry, for logs and tools. */
export function describeSetAside({ outboxId, eventId, kind, refusal }: SetAsideEntry): string {
  return `outbox entry ${outboxId} (${eventId || kind || 'no id'}): ${refusal.code} ${refusal.error}`;
}

// ------------------------------------------------------------------ reading the dead letters

// a dead letter's layout is engine/records.ts's
export type { DeadLetter, DeadLetterSummary } from '../engine/records.js';

/** Dead-letter ids are stream ids of several streams: order by when they were set aside. */
const bySetAside = (a: DeadLetter, b: DeadLetter) => compareStreamIds(a.id, b.id);

/** The dead letters of these outbox streams (default: the booking partition's), oldest first, at most `limit` of them. */
export async function readDeadLetters(redis: RedisClient, limit = 1000, streams: readonly string[] = [keys.outbox()]): Promise<DeadLetter[]> {
  const perStream = await Promise.all(streams.map((stream) => redis.xrange(keys.deadLettersOf(stream), '-', '+', 'COUNT', limit) as Promise<StreamEntry[]>));
  return perStream.flat().map(decodeDeadLetter).sort(bySetAside).slice(0, limit);
}

async function deadLetterCounts(redis: RedisClient, streams: readonly string[]): Promise<number[]> {
  return Promise.all(streams.map((stream) => redis.xlen(keys.deadLettersOf(stream))));
}

/** How many dead letters these outbox streams have (default: the booking partition's). */
export async function deadLetterCount(redis: RedisClient, streams: readonly string[] = [keys.outbox()]): Promise<number> {
  return (await deadLetterCounts(redis, streams)).reduce((sum, n) => sum + n, 0);
}

/** How many dead letters these outbox streams have (default: the booking partition's), and the newest `latest` of them. */
export async function deadLetterBacklog(redis: RedisClient, latest = 5, streams: readonly string[] = [keys.outbox()]): Promise<{ count: number; latest: DeadLetterSummary[] }> {
  const counts = await deadLetterCounts(redis, streams);
  const count = counts.reduce((sum, n) => sum + n, 0);
  if (count === 0) return { count, latest: [] };
  const withLetters = streams.filter((_, i) => counts[i]! > 0);
  const perStream = await Promise.all(withLetters.map((stream) => redis.xrevrange(keys.deadLettersOf(stream), '+', '-', 'COUNT', latest) as Promise<StreamEntry[]>));
  const newest = perStream.flat().map(decodeDeadLetter).sort(bySetAside).reverse().slice(0, latest);
  return { count, latest: newest.map(({ id, outboxId, eventId, kind, code, error }) => ({ id, outboxId, eventId, kind, code, error })) };
}
