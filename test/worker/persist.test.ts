import type { RedisClient } from '../../engine/redis.js';
import type pg from 'pg';
import { keys } from '../../engine/keys.js';
import { Certificates } from '../../engine/certificates.js';
import { Operators } from '../../engine/operators.js';
import { Status } from '../../engine/status.js';
import { drainOutboxDirectly } from '../../worker/drain.js';
import { saveMasterData } from '../../worker/masterdata.js';
import { migrate } from '../../worker/migrate.js';
import { parseOutboxEntry, readOutboxBacklog, type OutboxEvent, type StreamEntry } from '../../worker/outbox.js';
import { writeBatch } from '../../worker/persist.js';
import { readQueueDepth } from '../../worker/queue-depth.js';
import { reconcile } from '../../worker/reconcile.js';
import { accountWithBeneficiaries, demoCenterId, publishSession, slotsOf } from '../support/booking.js';
import { demoCountry } from '../support/fixtures.js';
import { DATABASE_URL, describe, expect, startInProcessWorker, test, waitFor } from './support.js';
import { showsSecret } from '../support/secrets.js';

/** Everything the booking scripts have appended so far, parsed, oldest first. */
async function outboxEvents(redis: RedisClient): Promise<OutboxEvent[]> {
  return ((await redis.xrange(keys.outbox(), '-', '+')) as StreamEntry[]).map(parseOutboxEntry);
}

async function appointmentRows(pool: pg.Pool, appointmentId: string) {
  const { rows } = await pool.query<{ beneficiary_id: string; status: string; version: number; session_id: string; slot: string }>(
    'SELECT beneficiary_id::text, status, version, session_id, slot FROM appointments WHERE appointment_id = $1 ORDER BY position',
    [appointmentId],
  );
  return rows;
}

describe('schema', () => {
  test('migrations and master data can run again at every start without changing anything', async ({ schema, pool }) => {
    expect(await migrate(DATABASE_URL, schema)).toEqual([]);
    const country = demoCountry();
    const first = await saveMasterData(pool, country);
    await saveMasterData(pool, country);
    const { rows } = await pool.query<{ states: number; districts: number; centers: number }>(
      'SELECT (SELECT count(*)::int FROM states) AS states, (SELECT count(*)::int FROM districts) AS districts, (SELECT count(*)::int FROM centers) AS centers',
    );
    expect(rows[0]).toEqual(first);
    expect(first.centers).toBe(country.data.centers.length);
  });

  test('the appointment event log refuses updates and deletes', async ({ engine, redis, pool }) => {
    const sessionId = await publishSession(engine);
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
    await engine.book({ accountId, sessionId, slot: slotsOf(engine, demoCenterId(engine))[0]!, dose: 1, beneficiaryIds });
    await writeBatch(pool, await outboxEvents(redis));
    await expect(pool.query(`UPDATE appointment_events SET action = 'cancelled'`)).rejects.toThrow(/append-only/);
    await expect(pool.query('DELETE FROM appointment_events')).rejects.toThrow(/append-only/);
  });
});

describe('exactly once: replays and out-of-order batches', () => {
  test('the same batch written twice leaves one row per change and the latest state', async ({ engine, redis, pool }) => {
    const slots = slotsOf(engine, demoCenterId(engine));
    const sessionId = await publishSession(engine, { capacity_dose1: 10 });
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 2);
    const booked = await engine.book({ accountId, sessionId, slot: slots[0]!, dose: 1, beneficiaryIds });
    if (!booked.ok) throw new Error(`booking refused: ${booked.status}`);
    expect(await engine.cancel(accountId, booked.appointmentId, [beneficiaryIds[1]!])).toMatchObject({ ok: true });
    const events = await outboxEvents(redis);

    const first = await writeBatch(pool, events);
    const replay = await writeBatch(pool, events);
    expect(first.appointmentEvents).toBe(2);
    expect(first.appointmentRows).toBe(2);
    // the replay adds nothing and changes nothing
    expect(replay).toMatchObject({ appointmentEvents: 0, appointmentRows: 0, sessions: 0, beneficiaries: 0, accounts: 0 });
    expect(await appointmentRows(pool, booked.appointmentId)).toEqual([
      { beneficiary_id: beneficiaryIds[0], status: 'booked', version: 2, session_id: sessionId, slot: slots[0] },
      { beneficiary_id: beneficiaryIds[1], status: 'cancelled', version: 2, session_id: sessionId, slot: slots[0] },
    ]);
    const { rows } = await pool.query('SELECT event_id FROM appointment_events ORDER BY version');
    expect(rows.map((r) => r.event_id)).toEqual([`appointment:${booked.appointmentId}:1`, `appointment:${booked.appointmentId}:2`]);
  });

  test('an earlier batch written after a later one never takes a row back to an older version', async ({ engine, redis, pool }) => {
    const slots = slotsOf(engine, demoCenterId(engine));
    const sessionId = await publishSession(engine, { capacity_dose1: 10 });
    const otherSession = await publishSession(engine, { center_id: demoCenterId(engine, 1), capacity_dose1: 10 });
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
    const earlier = await outboxEvents(redis);
    const booked = await engine.book({ accountId, sessionId, slot: slots[0]!, dose: 1, beneficiaryIds });
    if (!booked.ok) throw new Error(`booking refused: ${booked.status}`);
    const bookedBatch = (await outboxEvents(redis)).slice(earlier.length);
    expect(await engine.reschedule(accountId, booked.appointmentId, otherSession, slotsOf(engine, demoCenterId(engine, 1))[1]!)).toMatchObject({
      ok: true,
    });
    const rescheduledBatch = (await outboxEvents(redis)).slice(earlier.length + bookedBatch.length);

    await writeBatch(pool, earlier);
    await writeBatch(pool, rescheduledBatch);
    await writeBatch(pool, bookedBatch); // late: version 1 after version 2
    const rows = await appointmentRows(pool, booked.appointmentId);
    expect(rows).toEqual([
      { beneficiary_id: beneficiaryIds[0], status: 'booked', version: 2, session_id: otherSession, slot: slotsOf(engine, demoCenterId(engine, 1))[1] },
    ]);
    const events = await pool.query<{ action: string }>('SELECT action FROM appointment_events ORDER BY version');
    expect(events.rows.map((r) => r.action)).toEqual(['booked', 'rescheduled']);
    expect((await reconcile(redis, pool)).problems).toEqual([]);
  });

  test('security codes reach PostgreSQL with the appointment, whichever of its versions lands first; reconcile compares them', async ({
    engine,
    redis,
    pool,
  }) => {
    const slots = slotsOf(engine, demoCenterId(engine));
    const sessionId = await publishSession(engine, { capacity_dose1: 10 });
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 2);
    const earlier = await outboxEvents(redis);
    const booked = await engine.book({ accountId, sessionId, slot: slots[0]!, dose: 1, beneficiaryIds });
    if (!booked.ok) throw new Error(`booking refused: ${booked.status}`);
    const bookedBatch = (await outboxEvents(redis)).slice(earlier.length);
    expect(await engine.cancel(accountId, booked.appointmentId, [beneficiaryIds[1]!])).toMatchObject({ ok: true });
    const cancelledBatch = (await outboxEvents(redis)).slice(earlier.length + bookedBatch.length);

    await writeBatch(pool, earlier);
    await writeBatch(pool, cancelledBatch); // version 2 first: it carries the codes too
    await writeBatch(pool, bookedBatch);
    const { rows } = await pool.query<{ security_code: string }>(
      'SELECT security_code FROM appointments WHERE appointment_id = $1 ORDER BY position',
      [booked.appointmentId],
    );
    expect(rows.map((r) => r.security_code)).toEqual(booked.securityCodes.map((c) => c.code));
    expect((await reconcile(redis, pool)).problems).toEqual([]);

    const another = String((Number(booked.securityCodes[0]!.code) + 1) % 10_000).padStart(4, '0');
    await pool.query('UPDATE appointments SET security_code = $2 WHERE appointment_id = $1 AND position = 1', [booked.appointmentId, another]);
    const check = await reconcile(redis, pool);
    expect(check.problems).toEqual([
      { scope: `appointment ${booked.appointmentId}`, detail: `beneficiary ${beneficiaryIds[0]}: the security codes differ between Redis and PostgreSQL` },
    ]);
    // the code itself is never printed
    expect(showsSecret(check.problems, booked.securityCodes[0]!.code)).toBe(false);
  });

  test('operators reach PostgreSQL as issued and revoked, the latest version winning in any order; reconcile compares them', async ({
    engine,
    redis,
    pool,
    clock,
  }) => {
    const operators = new Operators(engine.redis, engine.scripts, clock.now);
    const before = await outboxEvents(redis);
    const issued = await operators.issue('vax-9', 'vaccinator', [demoCenterId(engine, 1), demoCenterId(engine)], 'admin');
    if (!issued.ok) throw new Error('issue refused');
    const issuedBatch = (await outboxEvents(redis)).slice(before.length);
    expect(await operators.revoke('vax-9', 'admin-2')).toEqual({ ok: true, version: 2 });
    const revokedBatch = (await outboxEvents(redis)).slice(before.length + issuedBatch.length);
    await writeBatch(pool, before);
    expect((await writeBatch(pool, revokedBatch)).operators).toBe(1);
    expect((await writeBatch(pool, issuedBatch)).operators).toBe(0); // late, older: changes nothing
    const { rows } = await pool.query('SELECT operator_id, role, center_ids, status, issued_by, revoked_by, version, secret_hash FROM operators');
    expect(rows).toEqual([
      {
        operator_id: 'vax-9',
        role: 'vaccinator',
        center_ids: [demoCenterId(engine), demoCenterId(engine, 1)].sort((a, b) => a - b),
        status: 'revoked',
        issued_by: 'admin',
        revoked_by: 'admin-2',
        version: 2,
        secret_hash: expect.stringMatching(/^scrypt\$/),
      },
    ]);
    expect(rows[0].secret_hash).not.toContain(issued.secret);
    expect((await reconcile(redis, pool)).problems).toEqual([]);
    await pool.query(`UPDATE operators SET status = 'active'`);
    expect((await reconcile(redis, pool)).problems).toEqual([{ scope: 'operator vax-9', detail: 'status: Redis revoked, PostgreSQL active' }]);
  });

  test('a certificate lands once with its vaccination, and its revocation wins whichever batch comes first', async ({ engine, redis, pool, clock }) => {
    const center = demoCenterId(engine);
    const sessionId = await publishSession(engine, { date: engine.today(), capacity_dose1: 10 });
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
    const booked = await engine.book({ accountId, sessionId, slot: slotsOf(engine, center)[0]!, dose: 1, beneficiaryIds });
    if (!booked.ok) throw new Error(`booking refused: ${booked.status}`);
    const before = await outboxEvents(redis);
    const vaccinated = await engine.markVaccinated({
      appointmentId: booked.appointmentId,
      beneficiaryId: beneficiaryIds[0]!,
      securityCode: booked.securityCodes[0]!.code,
      vaccinatorId: 'vax-1',
      centerIds: [center],
    });
    if (!vaccinated.ok) throw new Error(`vaccination refused: ${vaccinated.status}`);
    const vaccinationBatch = (await outboxEvents(redis)).slice(before.length);
    // the vaccination, the beneficiary's dose and the certificate are one script's changes
    expect(vaccinationBatch.map((e) => e.kind)).toEqual(['appointment', 'beneficiary', 'certificate']);
    const certificates = new Certificates(engine.redis, engine.scripts, clock.now, engine.certificates.ring, engine.certificates.issuer);
    expect(await certificates.revoke(vaccinated.certificateId, 'admin', 'wrong person')).toEqual({ ok: true, version: 2 });
    expect(await certificates.revoke(vaccinated.certificateId, 'admin', 'again')).toEqual({ ok: true, version: 2 }); // nothing changes
    const revocationBatch = (await outboxEvents(redis)).slice(before.length + vaccinationBatch.length);
    expect(revocationBatch).toHaveLength(1);

    await writeBatch(pool, before);
    expect((await writeBatch(pool, revocationBatch)).certificates).toBe(1);
    expect((await writeBatch(pool, vaccinationBatch)).certificates).toBe(0); // late, older
    expect((await writeBatch(pool, vaccinationBatch)).certificates).toBe(0); // replayed
    const { rows } = await pool.query('SELECT certificate_id, beneficiary_id::text, dose, status, version, revoked_by, revocation_reason, jws FROM certificates');
    expect(rows).toEqual([
      {
        certificate_id: vaccinated.certificateId,
        beneficiary_id: beneficiaryIds[0],
        dose: 1,
        status: 'revoked',
        version: 2,
        revoked_by: 'admin',
        revocation_reason: 'wrong person',
        jws: (await certificates.get(vaccinated.certificateId))!.jws,
      },
    ]);
    expect((await reconcile(redis, pool)).problems).toEqual([]);
    // reconcile notices a revocation list that PostgreSQL does not back
    await pool.query(`UPDATE certificates SET status = 'issued'`);
    const problems = (await reconcile(redis, pool)).problems.map((p) => p.scope);
    expect(problems).toEqual([`certificate ${vaccinated.certificateId}`, expect.stringMatching(/^revocation list /)]);
  });

  test('an appointment superseded by a later booking stays expired even when its own rows arrive last', async ({
    engine,
    redis,
    pool,
    clock,
  }) => {
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    const tomorrow = await publishSession(engine, { date: engine.today() + 1 });
    const later = await publishSession(engine, { date: engine.today() + 5 });
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
    const first = await engine.book({ accountId, sessionId: tomorrow, slot, dose: 1, beneficiaryIds });
    if (!first.ok) throw new Error(`booking refused: ${first.status}`);
    const beforeSecond = (await outboxEvents(redis)).length;
    // the appointment day passes without a vaccination: the beneficiary may book dose 1 again
    clock.advance(2 * 86_400_000);
    const second = await engine.book({ accountId, sessionId: later, slot, dose: 1, beneficiaryIds });
    if (!second.ok) throw new Error(`second booking refused: ${second.status}`);
    const all = await outboxEvents(redis);
    const secondBatch = all.slice(beforeSecond);
    expect(secondBatch[0]!.kind === 'appointment' && secondBatch[0]!.change.expired).toEqual([
      { appointment_id: first.appointmentId, beneficiary_id: beneficiaryIds[0] },
    ]);

    await writeBatch(pool, secondBatch);
    await writeBatch(pool, all.slice(0, beforeSecond));
    expect((await appointmentRows(pool, first.appointmentId))[0]!.status).toBe('expired');
    expect((await appointmentRows(pool, second.appointmentId))[0]!.status).toBe('booked');
    // the superseded seat stays counted, as the session counter in Redis keeps it
    const report = await reconcile(redis, pool);
    expect(report.problems).toEqual([]);
    expect(report.counts.seats).toBe(2);
  });

  test('a booking written before the cancellation it followed is refused by PostgreSQL until the cancellation lands', async ({
    engine,
    redis,
    pool,
  }) => {
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    const sessionId = await publishSession(engine);
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
    const first = await engine.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds });
    if (!first.ok) throw new Error(`booking refused: ${first.status}`);
    const booked = await outboxEvents(redis);
    await engine.cancel(accountId, first.appointmentId);
    const cancelled = (await outboxEvents(redis)).slice(booked.length);
    const again = await engine.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds });
    if (!again.ok) throw new Error(`rebooking refused: ${again.status}`);
    const rebooked = (await outboxEvents(redis)).slice(booked.length + cancelled.length);

    await writeBatch(pool, booked);
    // two live appointments of one beneficiary and dose: the batch fails whole (the worker retries it)
    await expect(writeBatch(pool, rebooked)).rejects.toThrow(/appointments_one_live_per_dose/);
    await writeBatch(pool, cancelled);
    await writeBatch(pool, rebooked);
    expect((await appointmentRows(pool, first.appointmentId))[0]!.status).toBe('cancelled');
    expect((await appointmentRows(pool, again.appointmentId))[0]!.status).toBe('booked');
    expect((await reconcile(redis, pool)).problems).toEqual([]);
  });

  test('a batch committed but never acknowledged (the worker died in between) is written again by the worker as a no-op', async ({
    engine,
    redis,
    pool,
    prefix,
    schema,
  }) => {
    const slots = slotsOf(engine, demoCenterId(engine));
    const sessionId = await publishSession(engine, { capacity_dose1: 50 });
    const accounts = await Promise.all(Array.from({ length: 10 }, () => accountWithBeneficiaries(engine, 2)));
    for (const [i, { accountId, beneficiaryIds }] of accounts.entries()) {
      const outcome = await engine.book({ accountId, sessionId, slot: slots[i % slots.length]!, dose: 1, beneficiaryIds });
      expect(outcome.status).toBe(Status.OK);
    }
    // committed in PostgreSQL, still in the outbox: exactly the state a crash before XACK leaves
    const committed = await writeBatch(pool, await outboxEvents(redis));
    expect(committed.appointmentRows).toBe(20);

    const depth = await readQueueDepth(redis, null);
    expect(depth.outboxLength).toBeGreaterThan(0);
    expect(depth.undelivered).toBe(depth.outboxLength);
    expect(depth.oldestUndrainedAgeMs).toBeGreaterThanOrEqual(0);

    const worker = await startInProcessWorker(redis, prefix, pool, schema);
    try {
      await waitFor('the outbox to drain', async () => (await redis.xlen(keys.outbox())) === 0);
      await waitFor('the batch job to complete', async () => (await worker.queue.getJobCounts()).completed > 0);
      expect(worker.totals.events).toBe(committed.events);
      // the second write found every change already there
      expect(worker.totals.rows).toBe(0);
      const depthAfter = await readQueueDepth(redis, worker.queue);
      expect(depthAfter).toMatchObject({ outboxLength: 0, undelivered: 0, pending: 0, oldestUndrainedAgeMs: 0 });
      expect(depthAfter.bull).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    } finally {
      await worker.stop();
    }
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM appointments');
    expect(rows[0]!.n).toBe(20);
    expect(await reconcile(redis, pool)).toMatchObject({ ok: true, problems: [] });
  });

  test('the direct drain used by the tools writes everything left in the outbox and empties it', async ({ engine, redis, pool }) => {
    const sessionId = await publishSession(engine);
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 3);
    await engine.book({ accountId, sessionId, slot: slotsOf(engine, demoCenterId(engine))[2]!, dose: 1, beneficiaryIds });
    const expected = (await outboxEvents(redis)).length;
    const report = await drainOutboxDirectly(redis, pool, 2);
    expect(report.events).toBe(expected);
    expect(report.batches).toBe(Math.ceil(expected / 2));
    expect(await redis.xlen(keys.outbox())).toBe(0);
    expect(await reconcile(redis, pool)).toMatchObject({ ok: true });
  });
});

describe('failed batches', () => {
  test('a batch that gave up is kept as failed for inspection, and its entries are written once the cause is gone', async ({
    engine,
    redis,
    pool,
    prefix,
    schema,
  }) => {
    const sessionId = await publishSession(engine);
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 2);
    const booked = await engine.book({ accountId, sessionId, slot: slotsOf(engine, demoCenterId(engine))[0]!, dose: 1, beneficiaryIds });
    expect(booked.ok).toBe(true);
    // a cause no retry can fix by itself, with a single attempt allowed
    await pool.query('ALTER TABLE appointment_events RENAME TO appointment_events_away');
    const lines: string[] = [];
    const worker = await startInProcessWorker(redis, prefix, pool, schema, {
      settings: { TEEKA_WORKER_ATTEMPTS: '1', TEEKA_WORKER_ORPHAN_IDLE_MS: '3500' },
      log: (line) => lines.push(line),
    });
    try {
      await waitFor('the batch to fail', async () => (await worker.queue.getJobCounts()).failed === 1);
      expect(lines.join('\n')).toMatch(/FAILED for good after 1 attempts, kept for inspection: .*appointment_events/);
      const [failed] = await worker.queue.getFailed();
      expect(failed!.failedReason).toMatch(/relation "appointment_events" does not exist/);
      // nothing was acknowledged: the changes are still in the outbox
      expect((await readOutboxBacklog(redis)).pending).toBe(5);

      await pool.query('ALTER TABLE appointment_events_away RENAME TO appointment_events');
      await waitFor('the outbox to drain', async () => (await redis.xlen(keys.outbox())) === 0, 15_000);
      expect(lines.join('\n')).toMatch(/5 entries pending longer than 3500 ms; enqueued again/);
      // the failed job is still there to be looked at
      expect((await worker.queue.getJobCounts()).failed).toBe(1);
    } finally {
      await worker.stop();
    }
    expect(await reconcile(redis, pool)).toMatchObject({ ok: true });
  });
});
