/**
 * What the worker tests share: a PostgreSQL schema per test (migrated, dropped afterwards), the
 * worker and its tools as child processes (from dist/), and private Redis and PostgreSQL
 * servers a test may kill or stop without disturbing tests running beside it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { projectRoot } from '../../engine/config.js';
import { freePort } from '../../loadtest/bench-processes.js';
import type { BookingEngine } from '../../engine/engine.js';
import { keys } from '../../engine/keys.js';
import { openPool } from '../../worker/database.js';
import { migrate } from '../../worker/migrate.js';
import { OutboxWorker } from '../../worker/outbox-worker.js';
import { loadWorkerSettings, type WorkerSettings } from '../../worker/settings.js';
import { accountWithBeneficiaries, nextMobile } from '../support/booking.js';
import { PROCESS_CLOCK_ENV, realTimeEnv } from '../support/clock.js';
import type { Partitions } from '../../engine/partitions.js';
import type { RedisClient } from '../../engine/redis.js';
import { ownRedisServerEnv, TEST_REDIS, test as engineTest } from '../support/fixtures.js';

const run = promisify(execFile);
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export { TEST_REDIS } from '../support/fixtures.js';

/** Worker settings for tests: a dead worker's job and entries are taken over within about 2 s. */
export const FAST_WORKER_ENV: Record<string, string> = {
  TEEKA_WORKER_LOCK_MS: '2000',
  TEEKA_WORKER_STALLED_CHECK_MS: '500',
  TEEKA_WORKER_HEARTBEAT_MS: '1500',
  TEEKA_WORKER_CLAIM_INTERVAL_MS: '500',
  TEEKA_WORKER_RETRY_BASE_MS: '200',
  TEEKA_WORKER_RETRY_CAP_MS: '1000',
  TEEKA_WORKER_ORPHAN_IDLE_MS: '10000',
  TEEKA_WORKER_LOG_MS: '500',
  TEEKA_QUOTA_SNAPSHOT_MS: '1000',
};

export function fastWorkerSettings(schema: string, overrides: Record<string, string> = {}): WorkerSettings {
  return loadWorkerSettings({ ...FAST_WORKER_ENV, TEEKA_PG_SCHEMA: schema, ...overrides });
}

export interface WorkerFixtures {
  /** a fresh PostgreSQL schema, migrated, dropped after the test */
  schema: string;
  pool: pg.Pool;
}

export const test = engineTest.extend<WorkerFixtures>({
  schema: async ({}, use) => {
    const schema = `test_${randomUUID().slice(0, 8)}`;
    await migrate(DATABASE_URL, schema);
    await use(schema);
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA ${schema} CASCADE`);
    await client.end();
  },
  pool: async ({ schema }, use) => {
    const pool = openPool({ databaseUrl: DATABASE_URL, schema, onIdleError: () => {} });
    await use(pool);
    await pool.end();
  },
});

export { describe, expect } from '../support/fixtures.js';

/** Poll until `check` returns a truthy value, or fail naming what was awaited. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function outboxLength(redis: RedisClient): Promise<number> {
  return redis.xlen(keys.outbox());
}

// ---------------------------------------------------------------- the worker as a child process

/**
 * A compiled tool or the worker (`main.js`, `reconcile.js`, ...) in dist/worker, which the global
 * setup (test/support/global-setup.ts) builds before any test file runs.
 */
export function builtScript(name: string): string {
  const path = join(projectRoot(), 'dist', 'worker', name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run the tests with vitest (its global setup builds dist/) or \`npm run build\``);
  return path;
}

export class ChildProcessHandle {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Wait until the output matches `pattern` (counting from `fromIndex` of the output). */
  waitForOutput(pattern: RegExp, timeoutMs = 20_000, fromIndex = 0): Promise<string> {
    return waitFor(`output ${pattern} from ${this.child.spawnfile}\n--- output so far:\n${this.output}`, () => {
      const match = pattern.exec(this.output.slice(fromIndex));
      return match ? match[0] : null;
    }, timeoutMs);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

export interface WorkerEnv {
  prefix: string;
  schema: string;
  databaseUrl?: string;
  redisUrl?: string;
  extra?: Record<string, string>;
}

export function spawnNode(script: string, { prefix, schema, databaseUrl = DATABASE_URL, redisUrl, extra = {} }: WorkerEnv, args: string[] = []): ChildProcessHandle {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: projectRoot(),
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      TEEKA_REDIS_PREFIX: prefix,
      TEEKA_PG_SCHEMA: schema,
      // the tests' Redis (REDIS_URL or REDIS_CLUSTER, inherited), or a redis-server of the test's own
      ...(redisUrl ? ownRedisServerEnv(redisUrl) : {}),
      ...FAST_WORKER_ENV,
      ...PROCESS_CLOCK_ENV,
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ChildProcessHandle(child);
}

/** Start the worker process and wait until it reads the outbox. */
export async function startWorkerProcess(env: WorkerEnv): Promise<ChildProcessHandle> {
  const worker = spawnNode(builtScript('main.js'), env);
  await worker.waitForOutput(/reading .*outbox/, 30_000);
  return worker;
}

/** An in-process worker on the test's prefix and schema (for tests that do not need to kill it). */
export async function startInProcessWorker(
  redis: RedisClient,
  prefix: string,
  pool: pg.Pool,
  schema: string,
  { settings = {}, log = () => {}, partitions }: { settings?: Record<string, string>; log?: (line: string) => void; partitions?: Partitions } = {},
): Promise<OutboxWorker> {
  const worker = new OutboxWorker({
    redis,
    redisAddress: TEST_REDIS,
    redisKeyPrefix: prefix,
    pool,
    settings: fastWorkerSettings(schema, settings),
    partitions,
    log,
  });
  await worker.start();
  return worker;
}

// ---------------------------------------------------------------- private servers

/** A redis-server of the test's own, on its own port and directory, that the test may SIGKILL. */
export class PrivateRedis {
  private process: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'teeka-redis-'));

  constructor(
    readonly port: number,
    private readonly args: string[],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(args: string[]): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), args);
    await redis.start();
    return redis;
  }

  async start(): Promise<void> {
    this.process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', ...this.args], {
      stdio: 'ignore',
      env: realTimeEnv(),
    });
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {}); // refused until the server listens: expected while waiting
    try {
      await waitFor(`redis-server on port ${this.port}`, async () => {
        try {
          if (probe.status !== 'ready') await probe.connect();
          // loading the AOF answers LOADING until done
          return (await probe.ping()) === 'PONG';
        } catch {
          probe.disconnect();
          return false;
        }
      }, 15_000, 50);
    } finally {
      probe.disconnect();
    }
  }

  /** SIGSTOP: the server stops answering and replicating, its connections stay open */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP link between two local servers (a replica and its master) that the test can cut: from the
 * cut on, bytes in either direction are dropped while both connections stay open, as on a network
 * that stopped carrying packets. Nothing sent after the cut reaches the other side, not even from
 * socket buffers, which a paused process would still read when it resumes.
 */
export class CuttableLink {
  private cutOff = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async to(targetPort: number): Promise<CuttableLink> {
    const port = await freePort();
    const link: CuttableLink = new CuttableLink(
      createServer((inbound) => {
        const outbound = connect(targetPort, '127.0.0.1');
        for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
          link.sockets.add(from);
          from.on('data', (chunk) => {
            if (!link.cutOff) to.write(chunk);
          });
          from.on('error', () => to.destroy());
          from.on('close', () => to.destroy());
        }
      }),
      port,
    );
    await new Promise<void>((resolve) => link.server.listen(port, '127.0.0.1', resolve));
    return link;
  }

  cut(): void {
    this.cutOff = true;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

/** A PostgreSQL cluster of the test's own (initdb in a temporary directory), that the test may stop. */
export class PrivatePostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** PostgreSQL refuses to run as root: as root, its tools run as the postgres user. */
  private static async asPostgres(command: string, args: string[]): Promise<void> {
    const root = process.getuid?.() === 0;
    await run(root ? 'runuser' : command, root ? ['-u', 'postgres', '--', command, ...args] : args, { timeout: 60_000, env: realTimeEnv() });
  }

  static async create(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'teeka-pg-'));
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await PrivatePostgres.asPostgres(join(PG_BIN, 'initdb'), ['-D', dir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    const server = new PrivatePostgres(dir, await freePort());
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    await PrivatePostgres.asPostgres(join(PG_BIN, 'pg_ctl'), [
      '-D', this.dir, '-w', '-l', join(this.dir, 'server.log'),
      '-o', `-p ${this.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40`,
      'start',
    ]); // prettier-ignore
  }

  /** Stop at once: open connections are cut, as when a database server goes away. */
  async stop(): Promise<void> {
    await PrivatePostgres.asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', this.dir, '-w', '-m', 'fast', 'stop']);
  }

  async destroy(): Promise<void> {
    await PrivatePostgres.asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', this.dir, '-w', '-m', 'immediate', 'stop']).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- booking load

/** Accounts of `perAccount` beneficiaries each, registered `concurrency` accounts at a time. */
export async function registerAccounts(
  engine: BookingEngine,
  accounts: number,
  perAccount: number,
  concurrency = 50,
): Promise<{ accountId: string; beneficiaryIds: string[] }[]> {
  const result: { accountId: string; beneficiaryIds: string[] }[] = [];
  for (let i = 0; i < accounts; i += concurrency) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(concurrency, accounts - i) }, () => accountWithBeneficiaries(engine, perAccount, 1990, nextMobile())),
    );
    result.push(...batch);
  }
  return result;
}

/** The appointment events the engine acknowledged, by id `appointment:<id>:<version>`. */
export class AcknowledgedChanges {
  readonly eventIds = new Set<string>();
  booked(appointmentId: string): void {
    this.eventIds.add(`appointment:${appointmentId}:1`);
  }
  changed(appointmentId: string, version: number): void {
    this.eventIds.add(`appointment:${appointmentId}:${version}`);
  }
}

/** The appointment event ids PostgreSQL holds, and how many rows (a duplicate would be a second row). */
export async function loggedAppointmentEvents(pool: pg.Pool): Promise<{ ids: Set<string>; rows: number }> {
  const { rows } = await pool.query<{ event_id: string }>('SELECT event_id FROM appointment_events');
  return { ids: new Set(rows.map((r) => r.event_id)), rows: rows.length };
}
