/**
 * PostgreSQL connections of the worker and its tools: one pool per process, every connection
 * pinned to the deployment's schema (tests use a schema each), with timeouts so that a database
 * that hangs fails a batch (which Bull retries) instead of holding it forever.
 */
import pg from 'pg';
import { checkedSchema } from './settings.js';

export interface PoolOptions {
  databaseUrl: string;
  /** schema every statement runs in. Default `public` */
  schema?: string;
  /** connections in the pool. Default 4 */
  max?: number;
  /** a statement running longer is cancelled by the server. Default 30000 ms */
  statementTimeoutMs?: number;
  /** how long to wait for a connection to open. Default 5000 ms */
  connectTimeoutMs?: number;
  /** called when an idle connection breaks (the database restarted); the pool replaces it. Default: a log line */
  onIdleError?: (err: Error) => void;
}

export function openPool({
  databaseUrl,
  schema = 'public',
  max = 4,
  statementTimeoutMs = 30_000,
  connectTimeoutMs = 5000,
  onIdleError = (err) => console.error(`postgres: idle connection lost (${err.message})`),
}: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    options: `-c search_path=${checkedSchema(schema)}`,
    statement_timeout: statementTimeoutMs,
    // the client-side bound covers a server that stopped answering at all
    query_timeout: statementTimeoutMs + 5000,
    connectionTimeoutMillis: connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: 'teeka-worker',
  });
  // without a listener, an idle connection dropped by a PostgreSQL restart would crash the process
  pool.on('error', onIdleError);
  return pool;
}

/** Run `work` in one transaction on one connection; roll back if it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  // A connection cut mid-transaction (PostgreSQL stopped) fails the query in progress and then also
  // emits 'error' on the client; the pool only listens while a client is idle, so without this
  // listener that second report would crash the process instead of failing one batch.
  const onError = () => {
    broken = true;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    client.off('error', onError);
    // a broken connection, or one that could not even roll back, is not given to the next batch
    client.release(broken);
  }
}

/**
 * Read a large result in chunks through a server-side cursor, so rebuilding or reconciling millions
 * of rows never holds them all in memory at once.
 */
export async function forEachChunk<Row extends pg.QueryResultRow>(
  pool: pg.Pool,
  sql: string,
  params: unknown[],
  chunkSize: number,
  onChunk: (rows: Row[]) => Promise<void> | void,
): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SET TRANSACTION READ ONLY');
    await client.query(`DECLARE teeka_chunks NO SCROLL CURSOR FOR ${sql}`, params);
    for (;;) {
      const { rows } = await client.query<Row>(`FETCH FORWARD ${chunkSize} FROM teeka_chunks`);
      if (rows.length) await onChunk(rows);
      if (rows.length < chunkSize) break;
    }
    await client.query('CLOSE teeka_chunks');
  });
}
