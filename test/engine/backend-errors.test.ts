/**
 * Outage or bug: the errors the real client libraries throw when Redis, PostgreSQL or a webhook
 * cannot be reached are outages (503), and errors of bugs are not, even when their message says
 * "connect", "terminated" or "timeout" (which the gateway once matched, turning such bugs into
 * silent 503s).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBackendUnavailable } from '../../engine/backend-errors.js';
import { ReplicaAcknowledgement } from '../../engine/durability.js';
import { connectRedis } from '../../engine/redis.js';
import { freePort } from '../../loadtest/bench-processes.js';
import { connectTestRedis, TEST_REDIS } from '../support/fixtures.js';
import { DATABASE_URL, PrivateRedis } from '../worker/support.js';

/** What a promise rejected with (the test fails if it resolved). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  return outcome.error as Error;
}

let deadPort: number; // nothing listens there
let silent: Server; // accepts connections and never answers
let silentPort: number;
const silentSockets = new Set<Socket>();
beforeAll(async () => {
  deadPort = await freePort();
  silentPort = await freePort();
  silent = createServer((socket) => silentSockets.add(socket)).listen(silentPort, '127.0.0.1');
});
afterAll(() => {
  for (const socket of silentSockets) socket.destroy();
  silent.close();
});

describe('outages, as the libraries report them', () => {
  it('Redis down, as the gateway connects (no offline queue): "Stream isn\'t writeable"', async () => {
    const redis = connectRedis({ address: { url: `redis://127.0.0.1:${deadPort}` }, keyPrefix: 't:', role: 'gateway' });
    redis.on('error', () => {});
    const error = await rejection(redis.get('k'));
    redis.disconnect();
    expect(error.message).toMatch(/enableOfflineQueue/);
    expect(isBackendUnavailable(error)).toBe(true);
  });

  it('Redis Cluster down, as the gateway connects (REDIS_CLUSTER): "Cluster isn\'t ready" or "None of startup nodes"', async () => {
    const redis = connectRedis({ address: { cluster: [{ host: '127.0.0.1', port: deadPort }] }, keyPrefix: 't:', role: 'gateway' });
    redis.on('error', () => {});
    const error = await rejection(redis.get('k'));
    redis.disconnect();
    // which of the two depends on whether the failed connect or the command comes first
    expect(error.message).toMatch(/^(Cluster isn't ready and enableOfflineQueue options is false|None of startup nodes is available)$/);
    expect(isBackendUnavailable(error)).toBe(true);
  });

  it('Redis down while a command waits in the offline queue: MaxRetriesPerRequestError', async () => {
    const redis = new Redis(`redis://127.0.0.1:${deadPort}`, { maxRetriesPerRequest: 1, retryStrategy: () => 10 });
    redis.on('error', () => {});
    const error = await rejection(redis.get('k'));
    redis.disconnect();
    expect(error.name).toBe('MaxRetriesPerRequestError');
    expect(isBackendUnavailable(error)).toBe(true);
  });

  it('a command on a closed Redis connection: "Connection is closed."', async () => {
    // one server's connection: the message is ioredis's own (a cluster's closed client says the same)
    const redis = new Redis(TEST_REDIS.url ?? TEST_REDIS.cluster.map((n) => `redis://${n.host}:${n.port}`)[0]!);
    await redis.ping();
    redis.disconnect();
    const error = await rejection(redis.get('k'));
    expect(error.message).toBe('Connection is closed.');
    expect(isBackendUnavailable(error)).toBe(true);
  });

  it('Redis busy running a script: the BUSY reply', async () => {
    const server = await PrivateRedis.start(['--busy-reply-threshold', '50']);
    const busy = new Redis(server.url);
    const other = new Redis(server.url);
    try {
      await Promise.all([busy.ping(), other.ping()]);
      // a script that spins for about a second (a private server: nobody else waits on it)
      const spinning = busy.eval("local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] while true do local n = redis.call('TIME') if n[1] * 1000000 + n[2] - s > 1000000 then break end end return 1", 0);
      await new Promise((r) => setTimeout(r, 300));
      const error = await rejection(other.ping());
      expect(error.message).toMatch(/^BUSY /);
      expect(isBackendUnavailable(error)).toBe(true);
      await spinning;
    } finally {
      busy.disconnect();
      other.disconnect();
      await server.kill();
    }
  });

  it('a change no Redis replica confirms in time: ReplicationShortfallError', async () => {
    const server = await PrivateRedis.start([]); // a server of its own, with no replica
    const redis = new Redis(server.url);
    try {
      const acknowledgement = new ReplicaAcknowledgement(redis, { replicas: 1, timeoutMs: 50 });
      const error = await rejection(acknowledgement.afterChange('{test}:any-key'));
      expect(error).toMatchObject({ name: 'ReplicationShortfallError', required: 1, confirmed: 0 });
      expect(isBackendUnavailable(error)).toBe(true);
    } finally {
      redis.disconnect();
      await server.kill();
    }
  });

  it('PostgreSQL unreachable: ECONNREFUSED', async () => {
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${deadPort}/postgres` });
    const error = await rejection(client.connect());
    expect((error as { code?: string }).code).toBe('ECONNREFUSED');
    expect(isBackendUnavailable(error)).toBe(true);
  });

  it('PostgreSQL not answering within the pool\'s connect timeout', async () => {
    const pool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${silentPort}/postgres`, connectionTimeoutMillis: 200 });
    pool.on('error', () => {});
    const error = await rejection(pool.query('select 1'));
    await pool.end().catch(() => {});
    expect(isBackendUnavailable(error)).toBe(true);
  });

  it('a PostgreSQL connection ended by the server (pg_terminate_backend)', async () => {
    const victim = new pg.Client({ connectionString: DATABASE_URL });
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    victim.on('error', () => {});
    await Promise.all([victim.connect(), admin.connect()]);
    try {
      const { rows } = await victim.query<{ pid: number }>('select pg_backend_pid() as pid');
      await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
      await new Promise((r) => setTimeout(r, 100));
      const error = await rejection(victim.query('select 1'));
      expect(isBackendUnavailable(error)).toBe(true);
    } finally {
      await admin.end();
      await victim.end().catch(() => {});
    }
  });

  it('a webhook unreachable, or not answering in time', async () => {
    const refused = await rejection(fetch(`http://127.0.0.1:${deadPort}/sms`, { method: 'POST' }));
    expect(isBackendUnavailable(refused)).toBe(true); // TypeError "fetch failed", caused by ECONNREFUSED
    const late = await rejection(fetch(`http://127.0.0.1:${silentPort}/sms`, { method: 'POST', signal: AbortSignal.timeout(200) }));
    expect(late.name).toBe('TimeoutError');
    expect(isBackendUnavailable(late)).toBe(true);
  });
});

describe('bugs, whatever their message says', () => {
  it('errors from Redis and PostgreSQL about the request itself', async () => {
    const redis = connectTestRedis('');
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const notAScript = await rejection(redis.eval('return redis.call("connect")', 0)); // "Unknown Redis command called from script"
      const wrongType = await rejection(redis.eval('return redis.call("INCR", "x") + nil', 0));
      const syntax = await rejection(client.query('selec 1'));
      const timeoutColumn = await rejection(client.query('select connect_timeout from nowhere'));
      for (const error of [notAScript, wrongType, syntax, timeoutColumn]) expect(isBackendUnavailable(error), error.message).toBe(false);
    } finally {
      redis.disconnect();
      await client.end();
    }
  });

  it('plain programming errors that mention connecting, terminating or timing out', () => {
    const bugs: unknown[] = [
      new Error('could not connect the dots'),
      new TypeError("Cannot read properties of undefined (reading 'connect')"),
      new Error('session terminated before it started'),
      new RangeError('timeout must be positive'),
      new Error('Connection is closed. And so is this bug'),
      'ECONNREFUSED', // a string thrown is not a socket error
      { code: 'ECONNREFUSED' }, // nor is an object that is not an Error
    ];
    for (const bug of bugs) expect(isBackendUnavailable(bug), String((bug as Error).message ?? bug)).toBe(false);
  });
});
