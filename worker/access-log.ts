/**
 * The access log in PostgreSQL (migrations/1795900000000_access-log.sql): appending a batch's
 * entries to the chain, verifying the chain, and answering "who looked at this person's record" and
 * "what did this operator look at".
 *
 * Why each entry lands exactly once and the chain stays one line: a batch's entries are appended
 * inside the batch's transaction under a transaction-scoped advisory lock (batches of several
 * workers take turns); entries whose id is already in the table (a replayed batch) are dropped
 * before numbering, and the rest are numbered on from the last row, each hashed over the previous.
 */
import type pg from 'pg';
import { accessRowHash, CHAIN_START, type AccessRow } from '../engine/access-log.js';
import type { AccessChange } from '../engine/records.js';

const LOCK_CHAIN = `SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.access_log'))`;
const ALREADY_WRITTEN = `SELECT entry_id FROM access_log WHERE entry_id = ANY($1::text[])`;
const CHAIN_HEAD = `SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1`;
// the objects of each row travel as one JSON array of arrays, zipped by position (ROWS FROM)
const INSERT_ROWS = `
  INSERT INTO access_log (seq, entry_id, at_ms, actor_kind, actor, partner, address, method, route, objects, status, prev_hash, hash)
  SELECT r.seq, r.entry_id, r.at_ms, r.actor_kind, r.actor, r.partner, r.address, r.method, r.route,
         ARRAY(SELECT jsonb_array_elements_text(r.objects)), r.status, r.prev_hash, r.hash
  FROM ROWS FROM (UNNEST($1::bigint[]), UNNEST($2::text[]), UNNEST($3::bigint[]), UNNEST($4::text[]), UNNEST($5::text[]),
                  UNNEST($6::text[]), UNNEST($7::text[]), UNNEST($8::text[]), UNNEST($9::text[]), jsonb_array_elements($10::jsonb),
                  UNNEST($11::smallint[]), UNNEST($12::text[]), UNNEST($13::text[]))
    AS r(seq, entry_id, at_ms, actor_kind, actor, partner, address, method, route, objects, status, prev_hash, hash)`;

/** Append a batch's access entries (in outbox order) to the chain, inside the batch's transaction. Returns rows added. */
export async function appendAccessEntries(client: pg.PoolClient, entries: { eventId: string; change: AccessChange }[]): Promise<number> {
  if (!entries.length) return 0;
  await client.query(LOCK_CHAIN);
  const written = new Set((await client.query<{ entry_id: string }>(ALREADY_WRITTEN, [entries.map((e) => e.eventId)])).rows.map((r) => r.entry_id));
  const fresh = entries.filter((e, i) => !written.has(e.eventId) && entries.findIndex((o) => o.eventId === e.eventId) === i);
  if (!fresh.length) return 0;
  const head = (await client.query<{ seq: string; hash: string }>(CHAIN_HEAD)).rows[0];
  let seq = head ? Number(head.seq) : 0;
  let previous = head?.hash ?? CHAIN_START;
  const rows: (AccessRow & { prev_hash: string; hash: string })[] = fresh.map(({ eventId, change }) => {
    seq += 1;
    const row: AccessRow = { ...change, seq, entry_id: eventId };
    const hash = accessRowHash(previous, row);
    const chained = { ...row, prev_hash: previous, hash };
    previous = hash;
    return chained;
  });
  const column = <T>(pick: (r: (typeof rows)[number]) => T) => rows.map(pick);
  const inserted = await client.query({
    name: 'teeka_insert_access_log',
    text: INSERT_ROWS,
    values: [
      column((r) => r.seq),
      column((r) => r.entry_id),
      column((r) => r.at),
      column((r) => r.actor_kind),
      column((r) => r.actor),
      column((r) => r.partner),
      column((r) => r.address),
      column((r) => r.method),
      column((r) => r.route),
      JSON.stringify(column((r) => r.objects)),
      column((r) => r.status),
      column((r) => r.prev_hash),
      column((r) => r.hash),
    ],
  });
  return inserted.rowCount ?? 0;
}

/** What verifying the chain found: the rows checked, and the first problem (null when none). */
export interface ChainReport {
  rows: number;
  problem: { seq: number; reason: string } | null;
}

/** A row as pg reads it: bigints as text. */
type StoredRow = Omit<AccessRow, 'seq' | 'at'> & { seq: string; at_ms: string; prev_hash: string; hash: string };

const ROW_COLUMNS = 'seq, entry_id, at_ms, actor_kind, actor, partner, address, method, route, objects, status, prev_hash, hash';

/**
 * Walk the whole chain in order: numbering without gaps from 1, each row's previous hash the row
 * before's hash, each row's hash recomputed from its fields. An edited row fails its own hash; a
 * removed row leaves a gap (or, if renumbered, a broken link); a removed tail is what no chain can
 * show by itself: compare `rows` with the count an earlier verify reported.
 */
export async function verifyAccessChain(pool: pg.Pool, chunk = 5000): Promise<ChainReport> {
  let previous = CHAIN_START;
  let expected = 1;
  let rows = 0;
  for (;;) {
    const batch = (
      await pool.query<StoredRow>(
        `SELECT ${ROW_COLUMNS} FROM access_log WHERE seq >= $1 ORDER BY seq LIMIT $2`,
        [expected, chunk],
      )
    ).rows;
    if (!batch.length) return { rows, problem: null };
    for (const stored of batch) {
      const seq = Number(stored.seq);
      if (seq !== expected) return { rows, problem: { seq: expected, reason: `row ${expected} is missing (the next is ${seq})` } };
      if (stored.prev_hash !== previous) return { rows, problem: { seq, reason: 'its previous hash is not the hash of the row before' } };
      const { at_ms, prev_hash: _prev, hash: _hash, ...fields } = stored;
      const row: AccessRow = { ...fields, seq, at: Number(at_ms), status: Number(stored.status) };
      if (accessRowHash(previous, row) !== stored.hash) return { rows, problem: { seq, reason: 'its fields do not match its hash (edited)' } };
      previous = stored.hash;
      expected += 1;
      rows += 1;
    }
  }
}

export interface AccessQuery {
  /** the actor (an account id or an operator id) or the partner whose key the calls carried */
  who?: string;
  /** an object: `beneficiary:<id>`, `account:<id>`, … */
  object?: string;
  /** engine ms */
  since?: number;
  /** rows at most. Default 1000 */
  limit?: number;
}

/** Entries matching every filter given, oldest first. */
export async function queryAccessLog(pool: pg.Pool, query: AccessQuery): Promise<AccessRow[]> {
  const { rows } = await pool.query<StoredRow>(
    `SELECT ${ROW_COLUMNS} FROM access_log
     WHERE ($1::text IS NULL OR actor = $1 OR partner = $1) AND ($2::text IS NULL OR objects @> ARRAY[$2::text]) AND ($3::bigint IS NULL OR at_ms >= $3)
     ORDER BY seq LIMIT $4`,
    [query.who ?? null, query.object ?? null, query.since ?? null, query.limit ?? 1000],
  );
  return rows.map(({ seq, at_ms, prev_hash: _prev, hash: _hash, ...row }) => ({ ...row, seq: Number(seq), at: Number(at_ms), status: Number(row.status) }));
}
