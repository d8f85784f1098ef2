/**
 * The worker drains every partition's outbox stream (worker/outbox-worker.ts), not only the booking
 * partition's: the partitioned booking's sessions, bookings, cancels and reschedules, and the
 * vaccinations and certificates recorded in the account's partition, reach PostgreSQL; an entry PostgreSQL refuses is set aside beside its own stream; a dead consumer's
 * entries in a partition's stream are taken over; the depth and reconcile count every stream.
 */
import { Certificates } from '../../engine/certificates.js';
import { keys } from '../../engine/keys.js';
import { PartitionedBooking } from '../../engine/partitioned-booking.js';
import { Status } from '../../engine/status.js';
import { readDeadLetters } from '../../worker/dead-letter.js';
import { ensureOutboxGroup, OUTBOX_GROUP, outboxStreams, readTotalBacklog } from '../../worker/outbox.js';
import { readQueueDepth } from '../../worker/queue-depth.js';
import { reconcile } from '../../worker/reconcile.js';
import { slotsOf, demoCenterId } from '../support/booking.js';
import { partitionedSessions, registeredAccount, vaccinatedInPartition } from '../support/partitioned.js';
import { describe, expect, startInProcessWorker, startWorkerProcess, test, waitFor } from './support.js';

describe('the partitions’ outbox streams', () => {
  test('a real worker writes the partitioned booking’s sessions, bookings, cancels, reschedules, vaccinations and certificates to PostgreSQL', async ({ engine, prefix, schema, pool, clock }) => {
    const booking = new PartitionedBooking(engine);
    const [first, second] = await partitionedSessions(booking, 2);
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    // registered in their partitions (nothing in {bk}): the beneficiaries reach PostgreSQL from there too
    const [moved, family, cancelled] = await Promise.all([registeredAccount(engine, 1), registeredAccount(engine, 2), registeredAccount(engine, 1)]);
    const book = async (account: { accountId: string; beneficiaryIds: string[] }, sessionId: string) => {
      const outcome = await booking.book({ accountId: account.accountId, sessionId: sessionId!, slot, dose: 1, beneficiaryIds: account.beneficiaryIds });
      if (!outcome.ok) throw new Error(`booking refused: ${outcome.status}`);
      return outcome.appointmentId;
    };
    const movedId = await book(moved!, first!);
    const familyId = await book(family!, second!);
    const cancelledId = await book(cancelled!, first!);
    expect((await booking.reschedule(moved!.accountId, movedId, second!, slot)).status).toBe(Status.OK);
    expect((await booking.cancel(cancelled!.accountId, cancelledId)).status).toBe(Status.OK);
    // the vaccinator's action in the account's partition: a dose recorded, its certificate revoked
    const vaccinated = await vaccinatedInPartition(booking);
    const certificates = new Certificates(engine.redis, engine.scripts, clock.now, engine.certificates.ring, engine.certificates.issuer, engine.partitions);
    expect(await certificates.revoke(vaccinated.certificateId, 'admin', 'recorded for the wrong person')).toEqual({ ok: true, version: 2 });

    // the changes sit in several partitions' streams (sessions in p(S); accounts, beneficiaries and
    // appointments in p(A)), none in the booking partition's
    const streams = outboxStreams(engine.partitions);
    const lengths = await Promise.all(streams.map((stream) => engine.redis.xlen(stream)));
    expect(lengths[0]).toBe(0);
    expect(lengths.slice(1).filter((length) => length > 0).length).toBeGreaterThanOrEqual(3);

    const worker = await startWorkerProcess({ prefix, schema });
    try {
      expect(worker.output).toMatch(new RegExp(`and the ${engine.partitions.count} partitions' outbox streams`));
      await waitFor('every outbox stream to drain', async () => (await readTotalBacklog(engine.redis, streams)).length === 0, 30_000);
      const { rows: sessions } = await pool.query<{ session_id: string }>('SELECT session_id FROM sessions WHERE session_id = ANY($1) ORDER BY session_id', [[first, second]]);
      expect(sessions.map((row) => row.session_id)).toEqual([first, second].sort());
      const { rows } = await pool.query<{ appointment_id: string; session_id: string; status: string; n: number }>(
        `SELECT appointment_id, session_id, status, count(*)::int AS n FROM appointments
         WHERE appointment_id = ANY($1) GROUP BY appointment_id, session_id, status ORDER BY appointment_id`,
        [[movedId, familyId, cancelledId]],
      );
      expect(rows).toEqual(
        [
          { appointment_id: movedId, session_id: second, status: 'booked', n: 1 },
          { appointment_id: familyId, session_id: second, status: 'booked', n: 2 },
          { appointment_id: cancelledId, session_id: first, status: 'cancelled', n: 1 },
        ].sort((a, b) => a.appointment_id.localeCompare(b.appointment_id)),
      );
      // the depth the worker publishes counts every stream
      const depth = await waitFor('a published depth after the drain', async () => {
        const record = await engine.redis.get(keys.workerQueueDepth());
        const published = record ? (JSON.parse(record) as { outboxLength: number; streams: Record<string, unknown> }) : null;
        return published?.outboxLength === 0 ? published : null;
      });
      expect(Object.keys(depth.streams)).toEqual([keys.outbox()]);
      // Redis and PostgreSQL agree on the partitioned records: sessions and their seats, appointments, dose pointers
      const report = await reconcile(engine.redis, pool, engine.partitions);
      expect(report.problems).toEqual([]);
      expect(report).toMatchObject({ ok: true, counts: { appointments: 4, seats: 4, beneficiaries: 5, accounts: 4, certificates: 1 } });
      const { rows: beneficiaryRows } = await pool.query('SELECT count(*)::int AS n FROM beneficiaries WHERE account_id = ANY($1)', [[moved, family, cancelled, vaccinated].map((a) => a!.accountId)]);
      expect(beneficiaryRows[0].n).toBe(5);
      const { rows: certificateRows } = await pool.query('SELECT certificate_id, status, version FROM certificates');
      expect(certificateRows).toEqual([{ certificate_id: vaccinated.certificateId, status: 'revoked', version: 2 }]);
      const { rows: vaccinatedRows } = await pool.query('SELECT status FROM appointments WHERE appointment_id = $1', [vaccinated.appointmentId]);
      expect(vaccinatedRows).toEqual([{ status: 'vaccinated' }]);
    } finally {
      await worker.kill('SIGTERM');
    }
  });

  test('a refused entry is set aside beside its partition’s stream, a dead consumer’s entries are taken over, and the depth and reconcile count them', async ({
    engine,
    redis,
    prefix,
    pool,
    schema,
  }) => {
    const booking = new PartitionedBooking(engine);
    const [sessionId] = await partitionedSessions(booking, 1);
    const partitions = engine.partitions;
    const streams = outboxStreams(partitions);
    const stream = keys.partitionOutbox(partitions, partitions.of(sessionId!));
    const strangeId = await redis.xadd(stream, '*', 'id', 'mystery:1:1', 'kind', 'mystery', 'data', '{}');
    // a consumer that read the stream and died (no heartbeat key): its two entries wait for a live one
    await ensureOutboxGroup(redis, stream);
    const read = (await redis.xreadgroup('GROUP', OUTBOX_GROUP, 'dead-consumer', 'COUNT', 10, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    expect(read[0]![1].map(([id]) => id)).toHaveLength(2);
    expect(await readQueueDepth(redis, null, streams)).toMatchObject({ outboxLength: 2, pending: 2, streams: { [stream]: { length: 2, pending: 2 } } });
    expect(await reconcile(redis, pool, partitions)).toMatchObject({ ok: false, drained: false, outboxBefore: { length: 2 } });

    const lines: string[] = [];
    const worker = await startInProcessWorker(redis, prefix, pool, schema, { partitions, log: (line) => lines.push(line) });
    try {
      await waitFor('the partition’s stream to drain', async () => (await redis.xlen(stream)) === 0, 20_000);
      expect(lines.join('\n')).toContain(`claimed 2 entries of dead consumer dead-consumer in ${stream}`);
      const { rows } = await pool.query('SELECT 1 FROM sessions WHERE session_id = $1', [sessionId]);
      expect(rows).toHaveLength(1);
      // set aside beside its own stream, not the booking partition's
      expect(await redis.xlen(keys.deadLettersOf(stream))).toBe(1);
      expect(await redis.xlen(keys.outboxDeadLetters())).toBe(0);
      expect((await readDeadLetters(redis, 10, streams)).map(({ outboxId, code }) => ({ outboxId, code }))).toEqual([{ outboxId: strangeId, code: 'malformed' }]);
      expect(await readQueueDepth(redis, worker.queue, streams)).toMatchObject({ outboxLength: 0, pending: 0, deadLetters: 1, latestDeadLetters: [{ outboxId: strangeId }] });
      expect(worker.totals).toMatchObject({ claimed: 2, setAside: 1 });
      // reconcile: drained everywhere, and the dead letter is what it reports
      const report = await reconcile(redis, pool, partitions);
      expect(report).toMatchObject({ drained: true, deadLetterCount: 1, problems: [] });
      // without the partitions it sees only the booking partition's records, stream and dead letters
      const blind = await reconcile(redis, pool);
      expect(blind).toMatchObject({ ok: false, deadLetterCount: 0 });
      expect(blind.problems).toEqual([{ scope: expect.stringContaining(`session ${sessionId}`), detail: 'in PostgreSQL, missing in Redis' }]);
    } finally {
      await worker.stop();
    }
  });
});
