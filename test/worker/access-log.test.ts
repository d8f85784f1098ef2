/**
 * The access log in real PostgreSQL: entries from the outbox land once each (a replayed batch adds
 * nothing), numbered and chained; the database refuses to edit or delete a row, the application's
 * role holds only SELECT and INSERT; a superuser who edits or deletes a row anyway (triggers off)
 * is caught by `npm run audit -- verify`; `audit query` answers by who, by whose data and since when;
 * a citizen's booking's entry, carried by its appointment entry, lands like any other.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AccessLog, type AccessEntry } from '../../engine/access-log.js';
import { projectRoot } from '../../engine/config.js';
import { keys } from '../../engine/keys.js';
import { LuaScripts } from '../../engine/scripts.js';
import type { RedisClient } from '../../engine/redis.js';
import { verifyAccessChain, queryAccessLog } from '../../worker/access-log.js';
import { parseOutboxEntry, type StreamEntry } from '../../worker/outbox.js';
import { writeBatch } from '../../worker/persist.js';
import { accountWithBeneficiaries, demoCenterId, publishSession, slotsOf } from '../support/booking.js';
import { DATABASE_URL, describe, expect, test } from './support.js';

const run = promisify(execFile);

const entry = (overrides: Partial<AccessEntry> = {}): AccessEntry => ({
  at: 1_777_600_000_000,
  actor_kind: 'vaccinator',
  actor: 'vax-1',
  partner: '',
  address: '192.0.2.7',
  method: 'GET',
  route: '/teeka/vaccinator/appointments/:appointment_id',
  objects: ['appointment:a1', 'beneficiary:101'],
  status: 200,
  ...overrides,
});

async function outbox(redis: RedisClient) {
  return ((await redis.xrange(keys.outbox(), '-', '+')) as StreamEntry[]).map(parseOutboxEntry);
}

/** `npm run audit -- …` (the built script) on this test's schema: its exit code and output. */
async function auditCli(schema: string, ...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [join(projectRoot(), 'dist', 'scripts', 'audit.js'), ...args], {
      env: { ...process.env, DATABASE_URL, TEEKA_PG_SCHEMA: schema, TEEKA_ENV: 'demo' },
    });
    return { code: 0, stdout };
  } catch (err) {
    const failed = err as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

describe('access log', () => {
  test('entries land once each, chained; edits and deletes are refused; a superuser\'s edit or delete is caught by verify', async ({ redis, pool, schema }) => {
    const log = new AccessLog(new LuaScripts(redis), () => 1_777_600_000_000);
    for (let i = 0; i < 5; i++) await log.append(entry({ at: 1_777_600_000_000 + i, objects: [`beneficiary:${100 + i}`] }));
    const events = await outbox(redis);
    expect(events.map((e) => e.kind)).toEqual(Array(5).fill('access'));

    // a batch written twice, and a later batch overlapping it: each entry once, numbered on
    expect((await writeBatch(pool, events.slice(0, 3))).accessEntries).toBe(3);
    expect((await writeBatch(pool, events.slice(0, 3))).accessEntries).toBe(0);
    expect((await writeBatch(pool, events)).accessEntries).toBe(2);
    const { rows } = await pool.query<{ seq: string; objects: string[] }>('SELECT seq, objects FROM access_log ORDER BY seq');
    expect(rows.map((r) => [Number(r.seq), r.objects])).toEqual([0, 1, 2, 3, 4].map((i) => [i + 1, [`beneficiary:${100 + i}`]]));
    expect(await verifyAccessChain(pool)).toEqual({ rows: 5, problem: null });
    expect(await auditCli(schema, 'verify')).toEqual({ code: 0, stdout: 'access log intact: 5 rows, each chained to the one before\n' });

    // the database refuses, whoever asks through the application
    await expect(pool.query(`UPDATE access_log SET actor = 'someone-else' WHERE seq = 2`)).rejects.toThrow(/append-only/);
    await expect(pool.query('DELETE FROM access_log WHERE seq = 2')).rejects.toThrow(/append-only/);
    await expect(pool.query('TRUNCATE access_log')).rejects.toThrow(/append-only/);
    const grants = await pool.query<{ privilege: string; granted: boolean }>(
      `SELECT p AS privilege, has_table_privilege('teeka_app', $1, p) AS granted FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p`,
      [`${schema}.access_log`],
    );
    expect(Object.fromEntries(grants.rows.map((r) => [r.privilege, r.granted]))).toEqual({ SELECT: true, INSERT: true, UPDATE: false, DELETE: false, TRUNCATE: false });

    // a superuser turns the guard off and edits a row: verify names it
    await pool.query('ALTER TABLE access_log DISABLE TRIGGER access_log_no_update');
    await pool.query(`UPDATE access_log SET actor = 'someone-else' WHERE seq = 2`);
    expect(await verifyAccessChain(pool)).toEqual({ rows: 1, problem: { seq: 2, reason: 'its fields do not match its hash (edited)' } });
    const broken = await auditCli(schema, 'verify');
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^access log BROKEN at row 2: its fields do not match its hash/);
    await pool.query(`UPDATE access_log SET actor = 'vax-1' WHERE seq = 2`);
    expect((await verifyAccessChain(pool)).problem).toBeNull();
    // … or deletes one
    await pool.query('DELETE FROM access_log WHERE seq = 3');
    expect((await verifyAccessChain(pool)).problem).toEqual({ seq: 3, reason: 'row 3 is missing (the next is 4)' });
    // … and renumbers to hide the gap: the next row's link no longer fits
    await pool.query('UPDATE access_log SET seq = seq - 1 WHERE seq > 3');
    expect((await verifyAccessChain(pool)).problem).toEqual({ seq: 3, reason: 'its previous hash is not the hash of the row before' });
    await pool.query('ALTER TABLE access_log ENABLE TRIGGER access_log_no_update');
  });

  test('query: who looked at this person\'s record, what did this operator look at, since when', async ({ redis, pool, schema }) => {
    const log = new AccessLog(new LuaScripts(redis), () => 1_777_600_000_000);
    await log.append(entry({ actor: 'vax-1', objects: ['beneficiary:7'], at: 1_777_600_000_000 }));
    await log.append(entry({ actor: 'vax-2', objects: ['beneficiary:7', 'beneficiary:8'], at: 1_777_600_060_000 }));
    await log.append(entry({ actor_kind: 'citizen', actor: 'acc-1', partner: 'slotbot', objects: ['account:acc-1'], route: '/api/v2/appointment/beneficiaries', at: 1_777_600_120_000 }));
    await writeBatch(pool, await outbox(redis));

    expect((await queryAccessLog(pool, { object: 'beneficiary:7' })).map((r) => r.actor)).toEqual(['vax-1', 'vax-2']);
    expect((await queryAccessLog(pool, { who: 'vax-2' })).map((r) => r.objects)).toEqual([['beneficiary:7', 'beneficiary:8']]);
    expect((await queryAccessLog(pool, { object: 'beneficiary:7', since: 1_777_600_030_000 })).map((r) => r.actor)).toEqual(['vax-2']);
    // a partner's calls on citizens' behalf answer to the partner's name too
    expect((await queryAccessLog(pool, { who: 'slotbot' })).map((r) => r.actor)).toEqual(['acc-1']);

    const cli = await auditCli(schema, 'query', '--object', 'beneficiary:7', '--since', new Date(1_777_600_030_000).toISOString());
    expect(cli.code).toBe(0);
    const lines = cli.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toEqual([expect.objectContaining({ actor: 'vax-2', at: new Date(1_777_600_060_000).toISOString(), objects: ['beneficiary:7', 'beneficiary:8'] })]);
    expect((await auditCli(schema, 'query', '--since', 'yesterday')).code).toBe(2);
  });

  test("a citizen's booking: its appointment entry carries its access entry, which lands once, chained, beside the appointment", async ({ engine, redis, pool }) => {
    const sessionId = await publishSession(engine);
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 2);
    const access = { route: 'POST /api/v2/appointment/schedule', address: '198.51.100.4' };
    const booked = await engine.book({ accountId, sessionId, slot: slotsOf(engine, demoCenterId(engine))[0]!, dose: 1, beneficiaryIds, access });
    if (!booked.ok || !booked.accessLogged) throw new Error(`booking refused or not logged: ${booked.status}`);
    // and an entry of its own after it (a vaccinator's lookup): the chain keeps outbox order
    await new AccessLog(new LuaScripts(redis), () => engine.now()).append(entry({ objects: [`appointment:${booked.appointmentId}`] }));
    const events = await outbox(redis);

    expect((await writeBatch(pool, events)).accessEntries).toBe(2);
    expect((await writeBatch(pool, events)).accessEntries).toBe(0);
    const { rows } = await pool.query('SELECT seq, entry_id, actor_kind, actor, partner, address, method, route, objects, status FROM access_log ORDER BY seq');
    expect(rows.map((r) => ({ ...r, seq: Number(r.seq) }))).toEqual([
      {
        seq: 1,
        entry_id: `access:booking:${booked.appointmentId}`,
        actor_kind: 'citizen',
        actor: accountId,
        partner: '',
        address: '198.51.100.4',
        method: 'POST',
        route: '/api/v2/appointment/schedule',
        objects: [`account:${accountId}`, ...beneficiaryIds.map((id) => `beneficiary:${id}`), `appointment:${booked.appointmentId}`],
        status: 200,
      },
      expect.objectContaining({ seq: 2, actor: 'vax-1', objects: [`appointment:${booked.appointmentId}`] }),
    ]);
    expect(await verifyAccessChain(pool)).toEqual({ rows: 2, problem: null });
    // the appointment itself is written too, a row per person
    expect((await pool.query('SELECT 1 FROM appointments WHERE appointment_id = $1', [booked.appointmentId])).rowCount).toBe(beneficiaryIds.length);
  });
});
