/**
 * Baseline: the booking service a team would write without teeka — a Node HTTP server that books by
 *
 *   UPDATE sessions SET available = available - 1 WHERE id = $1 AND available > 0
 *
 * and records the booking in the same transaction (one row per beneficiary, unique, so a
 * beneficiary cannot book twice). The bench runs it on the same hot-session rush as teeka.
 * It runs one process per gateway thread (node:cluster), like the gateway's threads.
 *
 *   node dist/loadtest/baseline/pg-booking-server.js <port> <processes> <database url> <schema>
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import pg from 'pg';

const [port = '9002', processes = '2', databaseUrl = 'postgres://postgres@127.0.0.1:5432/postgres', schema = 'baseline_bench'] = process.argv.slice(2);

if (cluster.isPrimary) {
  const setup = new pg.Client({ connectionString: databaseUrl });
  await setup.connect();
  await setup.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};`);
  await setup.query(`
    CREATE TABLE ${schema}.sessions (id text PRIMARY KEY, available integer NOT NULL CHECK (available >= 0));
    CREATE TABLE ${schema}.bookings (beneficiary_id text PRIMARY KEY, session_id text NOT NULL REFERENCES ${schema}.sessions, booked_at timestamptz NOT NULL DEFAULT now());
  `);
  await setup.end();
  let ready = 0;
  for (let i = 0; i < Number(processes); i++) {
    cluster.fork().on('message', () => {
      ready += 1;
      if (ready === Number(processes)) console.log(`pg-booking-server listening on ${port} with ${processes} processes`);
    });
  }
} else {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 20 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const send = (status: number, body: object) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      try {
        if (req.url === '/sessions' && req.method === 'POST') {
          const { id, available } = JSON.parse(Buffer.concat(chunks).toString()) as { id: string; available: number };
          await pool.query(`INSERT INTO ${schema}.sessions (id, available) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET available = $2`, [id, available]);
          return send(200, { id });
        }
        if (req.url !== '/book' || req.method !== 'POST') return send(404, { error: 'not found' });
        const { session_id, beneficiary_id } = JSON.parse(Buffer.concat(chunks).toString()) as { session_id: string; beneficiary_id: string };
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const seat = await client.query(`UPDATE ${schema}.sessions SET available = available - 1 WHERE id = $1 AND available > 0 RETURNING available`, [session_id]);
          if (seat.rowCount === 0) {
            await client.query('ROLLBACK');
            return send(409, { errorCode: 'APPOIN0040', error: 'full' });
          }
          await client.query(`INSERT INTO ${schema}.bookings (beneficiary_id, session_id) VALUES ($1, $2)`, [beneficiary_id, session_id]);
          await client.query('COMMIT');
          return send(200, { available: seat.rows[0].available });
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          if ((err as { code?: string }).code === '23505') return send(409, { error: 'already booked' });
          throw err;
        } finally {
          client.release();
        }
      } catch (err) {
        send(500, { error: (err as Error).message });
      }
    });
  });
  server.listen(Number(port), '127.0.0.1', () => process.send?.('listening'));
}
