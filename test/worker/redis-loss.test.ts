/**
 * Redis comes back empty in front of a full PostgreSQL (issue 9 §6): a redis-server of the test's
 * own, whose data directory is wiped between two runs of teeka against the same PostgreSQL schema.
 *
 * Run 1 is `npm start` (dist/scripts/start.js): citizens register and book through the gateway,
 * the worker writes it all to PostgreSQL. Then Redis is killed, its directory wiped, and it starts
 * again, empty. What must happen: the running gateway and worker notice and stop; a bare gateway or
 * worker refuses to start, saying to run `npm run rebuild`; `npm start` rebuilds Redis from
 * PostgreSQL by itself, after which new beneficiaries get ids PostgreSQL never saw, new bookings
 * reach PostgreSQL and `npm run reconcile` passes. Before the fix, teeka served on the empty Redis:
 * it handed out reference ids PostgreSQL already held and those bookings never reached it.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../engine/config.js';
import { BookingEngine } from '../../engine/engine.js';
import { bookingPartitionPattern, isPartitionedBookingRecord, keys, virtualPartitionsPattern } from '../../engine/keys.js';
import { layoutFrom } from '../../engine/config.js';
import { openPool } from '../../worker/database.js';
import { migrate } from '../../worker/migrate.js';
import { allKeys } from '../../engine/redis.js';
import { demoCountry } from '../support/fixtures.js';
import { referenceIdReused } from '../support/partitioned.js';
import { CowinClient, freePort, testMobile, testPhotoId } from '../support/gateway.js';
import { processClock } from '../support/clock.js';
import { builtScript, DATABASE_URL, PrivateRedis, spawnNode, waitFor, type ChildProcessHandle } from './support.js';

const schema = `loss_${randomUUID().slice(0, 8)}`;
const prefix = `loss:${randomUUID().slice(0, 8)}:`;
const START = join(projectRoot(), 'dist', 'scripts', 'start.js');
const GATEWAY = join(projectRoot(), 'dist', 'gateway', 'main.js');

let server: PrivateRedis;
let pool: pg.Pool;
let port: number;
const running = new Set<ChildProcessHandle>();

/** A teeka process on the private Redis and this test's schema (the gateway on `port`, one thread). */
function launch(script: string, args: string[] = []): ChildProcessHandle {
  const handle = spawnNode(script, { prefix, schema, redisUrl: server.url, extra: { PORT: String(port), HOST: '127.0.0.1', GATEWAY_THREADS: '1', TEEKA_ENV: 'demo' } }, args);
  running.add(handle);
  void handle.exited.then(() => running.delete(handle));
  return handle;
}

/** `npm start`, once its gateway answers and its worker reads the outbox. */
async function npmStart(): Promise<ChildProcessHandle> {
  const teeka = launch(START);
  await teeka.waitForOutput(/reading .*outbox/, 60_000);
  await waitFor(`the gateway of npm start\n${teeka.output}`, async () => {
    if (teeka.child.exitCode !== null) throw new Error(`npm start exited with ${teeka.child.exitCode}:\n${teeka.output}`);
    return fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
  }, 30_000, 100);
  return teeka;
}

/** A session three days ahead (bookable at any hour) that npm start published from the country file. */
async function plannedSession(): Promise<{ sessionId: string; slot: string }> {
  const redis = new Redis(server.url, { keyPrefix: prefix });
  try {
    // the clock of the processes npm start runs (spawnNode pins them to a working morning)
    const engine = new BookingEngine(redis, { country: demoCountry(), secret: 'unused', clock: processClock, layout: layoutFrom(process.env) });
    const day = engine.today() + 3;
    // born in 1980: fits an 18+ or 45+ session without an upper limit; both runs book 6 seats into its first slot
    const session = (await engine.loadSessions(day, day)).find((s) => s.min_age <= 45 && s.max_age < 0 && s.slot_caps[0]! >= 20);
    if (!session) throw new Error('no planned session with room three days ahead');
    return { sessionId: session.session_id, slot: session.slots[0]! };
  } finally {
    redis.disconnect();
  }
}

/** A citizen who registers `count` beneficiaries and books them into one appointment. */
async function citizenBooks(
  count: number,
  session: { sessionId: string; slot: string },
): Promise<{ client: CowinClient; mobile: string; ids: string[]; appointmentId: string }> {
  const mobile = testMobile();
  const client = await new CowinClient(`http://127.0.0.1:${port}`).login(mobile);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await client.addBeneficiary(`Citizen ${'ABCDEF'[i]}`, 1980, testPhotoId()));
  const booked = await client.post('/api/v2/appointment/schedule', { dose: 1, session_id: session.sessionId, slot: session.slot, beneficiaries: ids });
  expect(booked.status, booked.text).toBe(200);
  return { client, mobile, ids, appointmentId: booked.json.appointment_confirmation_no };
}

/**
 * The booking partition's keys in the private Redis (the marker included), and the booking records
 * in the partitions, but for empty outbox streams: a worker still running re-creates its consumer
 * group (and so the stream) when Redis comes back.
 */
async function bookingKeys(): Promise<string[]> {
  const redis = new Redis(server.url, { keyPrefix: prefix });
  try {
    const found = [...(await allKeys(redis, bookingPartitionPattern)), ...(await allKeys(redis, virtualPartitionsPattern)).filter(isPartitionedBookingRecord)];
    const kept: string[] = [];
    for (const key of found) if (!key.endsWith(':outbox') || (await redis.xlen(key)) > 0) kept.push(key);
    return kept;
  } finally {
    redis.disconnect();
  }
}

async function bookedInPostgres(appointmentIds: string[]): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM appointments WHERE status = 'booked' AND appointment_id = ANY($1::text[])`, [appointmentIds]);
  return rows[0]!.n;
}

/** Everything the first run booked and registered, as PostgreSQL holds it. */
const firstRun = {
  appointmentIds: [] as string[],
  beneficiaryIds: [] as string[],
  deletedId: '',
  /** the last citizen of run 1, who also registered and deleted one more beneficiary */
  last: null as { client: CowinClient; mobile: string; ids: string[] } | null,
  teeka: null as ChildProcessHandle | null,
};

beforeAll(async () => {
  server = await PrivateRedis.start(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']);
  await migrate(DATABASE_URL, schema);
  pool = openPool({ databaseUrl: DATABASE_URL, schema, max: 2, onIdleError: () => {} });
  port = await freePort();
}, 60_000);

afterAll(async () => {
  await Promise.all([...running].map((p) => p.kill('SIGKILL')));
  await pool?.end();
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
  await server?.destroy();
});

describe('Redis comes back empty in front of a full PostgreSQL', () => {
  it('run 1: npm start marks Redis for the deployment; bookings made through the gateway reach PostgreSQL', async () => {
    const teeka = await npmStart();
    firstRun.teeka = teeka;
    const session = await plannedSession();
    for (let i = 0; i < 3; i++) {
      const { client, mobile, ids, appointmentId } = await citizenBooks(2, session);
      firstRun.last = { client, mobile, ids };
      firstRun.beneficiaryIds.push(...ids);
      firstRun.appointmentIds.push(appointmentId);
    }
    // the last reference id handed out belongs to a beneficiary who was then deleted: still never to be reused
    firstRun.deletedId = await firstRun.last!.client.addBeneficiary('Leaving', 1980, testPhotoId());
    expect((await firstRun.last!.client.post('/api/v2/registration/beneficiary/delete', { beneficiary_reference_id: firstRun.deletedId })).status).toBe(204);

    await waitFor('the first run in PostgreSQL', async () => (await bookedInPostgres(firstRun.appointmentIds)) === 6, 30_000, 100);
    await waitFor('the deleted beneficiary in PostgreSQL', async () => {
      const { rows } = await pool.query(`SELECT 1 FROM beneficiaries WHERE beneficiary_id = $1 AND deleted_at IS NOT NULL`, [firstRun.deletedId]);
      return rows.length === 1;
    }, 30_000, 100);
    const { rows } = await pool.query<{ deployment_id: string }>('SELECT deployment_id::text FROM deployment');
    const redis = new Redis(server.url, { keyPrefix: prefix });
    expect(await redis.get(keys.deployment())).toBe(rows[0]!.deployment_id);
    redis.disconnect();
  });

  it('Redis restarts with its data directory wiped: the running gateway and worker notice and stop, saying to rebuild', async () => {
    const teeka = firstRun.teeka!;
    await server.kill();
    for (const entry of readdirSync(server.dir)) rmSync(join(server.dir, entry), { recursive: true, force: true });
    await server.start();
    expect(await bookingKeys()).toEqual([]);

    const exited = await Promise.race([teeka.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
    expect(exited, `npm start kept serving on the emptied Redis:\n${teeka.output.slice(-3000)}`).not.toBeNull();
    // the gateway exits 2; but while a client holds a keep-alive connection, ending its threads
    // aborts the process (SIGABRT, the same on SIGTERM), so npm start may report either
    expect(exited!.code, teeka.output.slice(-3000)).not.toBe(0);
    expect(teeka.output).toMatch(/gateway: Redis at .* no longer carries deployment .*marker.*npm run rebuild/);
  });

  it('a bare gateway or worker started on the emptied Redis refuses, saying to run npm run rebuild, and books nothing in it', async () => {
    for (const script of [GATEWAY, builtScript('main.js')]) {
      const refused = launch(script);
      const exited = await Promise.race([refused.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
      expect(exited, `${script} started on the emptied Redis:\n${refused.output}`).not.toBeNull();
      expect(exited!.code, refused.output).toBe(2);
      expect(refused.output).toMatch(/not starting: .*holds no bookings, but PostgreSQL \(schema loss_\w+\) holds those of deployment/);
      expect(refused.output).toContain('Run `npm run rebuild`');
    }
    expect(await bookingKeys()).toEqual([]);
  });

  it('npm start rebuilds Redis from PostgreSQL: new beneficiaries get ids PostgreSQL never held, new bookings reach it, reconcile passes', async () => {
    const held = (await pool.query<{ id: string }>('SELECT beneficiary_id::text AS id FROM beneficiaries')).rows.map((r) => BigInt(r.id));
    expect(held).toContain(BigInt(firstRun.deletedId));

    const teeka = await npmStart();
    expect(teeka.output).toMatch(/Redis lost its data; rebuilding it from PostgreSQL/);
    expect(teeka.output).toMatch(/rebuilt \d+ sessions, 3 accounts, 6 beneficiaries, 3 appointments/);
    expect(teeka.output).toMatch(/reconcile: OK/);

    // a first-run citizen logs in again (login sessions are not rebuilt) and finds their booking
    const returning = await new CowinClient(`http://127.0.0.1:${port}`).login(firstRun.last!.mobile);
    const beneficiaries = (await returning.get('/api/v2/appointment/beneficiaries')).json.beneficiaries as { beneficiary_reference_id: string; appointments: unknown[] }[];
    expect(beneficiaries.map((b) => b.beneficiary_reference_id).sort()).toEqual([...firstRun.last!.ids].sort());
    expect(beneficiaries.every((b) => b.appointments.length === 1)).toBe(true);

    // new citizens: ids their counters never handed out (above everything PostgreSQL held, in the
    // partitioned layout above everything of their partition), bookings that reach PostgreSQL
    const session = await plannedSession();
    const second = { appointmentIds: [] as string[], beneficiaryIds: [] as string[] };
    for (let i = 0; i < 3; i++) {
      const { ids, appointmentId } = await citizenBooks(2, session);
      second.beneficiaryIds.push(...ids);
      second.appointmentIds.push(appointmentId);
    }
    for (const id of second.beneficiaryIds) expect(referenceIdReused(layoutFrom(process.env) === 'partitioned', id, held)).toBeNull();
    await waitFor('the second run in PostgreSQL', async () => (await bookedInPostgres(second.appointmentIds)) === 6, 30_000, 100);
    expect(await bookedInPostgres(firstRun.appointmentIds)).toBe(6);

    teeka.child.kill('SIGTERM');
    expect((await teeka.exited).code).toBe(0);
    const reconcile = launch(builtScript('reconcile.js'));
    expect((await reconcile.exited).code, reconcile.output).toBe(0);
    expect(reconcile.output).toMatch(/reconcile: OK: .*6 appointments \(12 seats\)/);
  });
});
