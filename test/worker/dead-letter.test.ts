/**
 * No entry stops the pipeline (design.md, invariant 8): an outbox entry PostgreSQL refuses for good
 * is found among the good ones, set aside with the database's error where operators see it, and
 * every other entry is written; the queue drains to zero, and reconcile explains the difference.
 */
import { keys } from '../../engine/keys.js';
import { Status } from '../../engine/status.js';
import { readDeadLetters } from '../../worker/dead-letter.js';
import { readQueueDepth } from '../../worker/queue-depth.js';
import { demoCenterId, everySlot, publishSession, slotsOf } from '../support/booking.js';
import { CowinClient, startGateway } from '../support/gateway.js';
import {
  AcknowledgedChanges,
  builtScript,
  describe,
  expect,
  loggedAppointmentEvents,
  registerAccounts,
  spawnNode,
  startInProcessWorker,
  test,
  waitFor,
} from './support.js';

/** A beneficiary change no booking script would write: a NUL byte in a text field, which PostgreSQL refuses. */
function beneficiaryWithNul(id: string) {
  return {
    id,
    account_id: 'f'.repeat(32),
    name: 'Nul Byte',
    birth_year: 1980,
    gender_id: 1,
    photo_id_type: 1,
    photo_id_last4: '0000',
    photo_id_hash: 'e'.repeat(32),
    comorbidity: 'N',
    consent_version: 'V\u0000',
    registered_at: 1_777_000_000_000,
    version: 1,
    vaccine: '',
    dose1: 0,
    dose2: 0,
    dose3: 0,
  };
}

describe('dead letters', () => {
  test('an entry PostgreSQL refuses, among 1,000 good bookings: all 1,000 written, the bad one set aside and shown, depth back to zero', async ({
    engine,
    redis,
    prefix,
    pool,
    schema,
  }) => {
    const centerId = demoCenterId(engine);
    const slots = slotsOf(engine, centerId);
    const sessionId = await publishSession(engine, { capacity_dose1: 1000, capacity_dose2: 0, slot_capacity: everySlot(engine, centerId, 1000) });
    const citizens = (await registerAccounts(engine, 250, 4)).flatMap(({ accountId, beneficiaryIds }) => beneficiaryIds.map((id) => ({ accountId, id })));
    const acknowledged = new AcknowledgedChanges();
    const book = async (from: number, to: number) => {
      for (let i = from; i < to; i += 50) {
        await Promise.all(
          citizens.slice(i, Math.min(to, i + 50)).map(async ({ accountId, id }, j) => {
            const outcome = await engine.book({ accountId, sessionId, slot: slots[(i + j) % slots.length]!, dose: 1, beneficiaryIds: [id] });
            expect(outcome.status).toBe(Status.OK);
            if (outcome.ok) acknowledged.booked(outcome.appointmentId);
          }),
        );
      }
    };
    // the bad entries go straight into the outbox, in the middle of the bookings (so in the middle of a batch)
    await book(0, 500);
    const nulId = await redis.xadd(keys.outbox(), '*', 'id', 'beneficiary:99999999999:1', 'kind', 'beneficiary', 'data', JSON.stringify(beneficiaryWithNul('99999999999')));
    const strangeId = await redis.xadd(keys.outbox(), '*', 'id', 'mystery:1:1', 'kind', 'mystery', 'data', '{}');
    await book(500, 1000);
    expect(acknowledged.eventIds.size).toBe(1000);

    const gateway = await startGateway({ TEEKA_REDIS_PREFIX: prefix });
    const lines: string[] = [];
    const worker = await startInProcessWorker(redis, prefix, pool, schema, { log: (line) => lines.push(line) });
    try {
      await waitFor('the outbox to drain', async () => (await redis.xlen(keys.outbox())) === 0, 30_000);

      // every good booking is in PostgreSQL, once; the bad beneficiary is not
      const logged = await loggedAppointmentEvents(pool);
      expect(logged.rows).toBe(1000);
      expect(logged.ids).toEqual(acknowledged.eventIds);
      const { rows } = await pool.query<{ appointments: number; beneficiaries: number; bad: number }>(
        `SELECT (SELECT count(*)::int FROM appointments WHERE status = 'booked') AS appointments,
                (SELECT count(*)::int FROM beneficiaries) AS beneficiaries,
                (SELECT count(*)::int FROM beneficiaries WHERE beneficiary_id = 99999999999) AS bad`,
      );
      expect(rows[0]).toEqual({ appointments: 1000, beneficiaries: 1000, bad: 0 });

      // the two bad entries are set aside, with the database's error (or why no script could have written it)
      const deadLetters = await readDeadLetters(redis);
      expect(deadLetters.map(({ outboxId, eventId, kind, code }) => ({ outboxId, eventId, kind, code }))).toEqual([
        { outboxId: nulId, eventId: 'beneficiary:99999999999:1', kind: 'beneficiary', code: '22021' },
        { outboxId: strangeId, eventId: 'mystery:1:1', kind: 'mystery', code: 'malformed' },
      ]);
      expect(deadLetters[0]!.error).toBe('invalid byte sequence for encoding "UTF8": 0x00');
      expect(deadLetters[1]!.error).toMatch(/unknown kind "mystery"/);
      // the entry itself, byte for byte (the NUL included), to be fixed and replayed
      const fields = deadLetters[0]!.entry;
      expect(JSON.parse(fields[fields.indexOf('data') + 1]!).consent_version).toBe('V\u0000');
      expect(lines.join('\n')).toContain(`worker: set aside outbox entry ${nulId} (beneficiary:99999999999:1): 22021 invalid byte sequence`);

      // queue depth is back to zero, and no batch failed or waits for a retry
      const depth = await readQueueDepth(redis, worker.queue);
      expect(depth).toMatchObject({ outboxLength: 0, undelivered: 0, pending: 0, oldestUndrainedAgeMs: 0, deadLetters: 2 });
      expect(depth.bull).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });
      expect(worker.totals).toMatchObject({ setAside: 2, failedAttempts: 0 });

      // operators see them: the queue endpoint (with which change and why) and the metric
      const admin = new CowinClient(gateway.url);
      admin.token = (await admin.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' })).json.token;
      const queue = await waitFor('the gateway to read the dead letters', async () => {
        const answer = (await admin.get('/teeka/ops/queue')).json;
        // the worker publishes its depth each second: wait for one taken after the drain
        return answer?.deadLetters === 2 && answer.outboxLength === 0 ? answer : null;
      });
      expect(queue).toMatchObject({ outboxLength: 0, pending: 0 });
      expect(queue.latestDeadLetters).toEqual([
        expect.objectContaining({ outboxId: strangeId, eventId: 'mystery:1:1', code: 'malformed' }),
        expect.objectContaining({ outboxId: nulId, eventId: 'beneficiary:99999999999:1', code: '22021', error: expect.stringContaining('0x00') }),
      ]);
      // each gateway thread gets the aggregated metrics text once a second
      await waitFor('the dead-letter gauge on /metrics', async () => /^teeka_outbox_dead_letters 2$/m.test((await admin.get('/metrics')).text));

      // reconcile names them; it is not OK (PostgreSQL lacks those changes), and it does not crash
      const run = spawnNode(builtScript('reconcile.js'), { prefix, schema });
      expect((await run.exited).code, run.output).toBe(1);
      expect(run.output).toContain(
        'reconcile: 1 sessions, 1,000 appointments (1,000 seats), 1,000 beneficiaries in 250 accounts match in Redis and PostgreSQL, but for the changes set aside below',
      );
      expect(run.output).toContain('2 changes were set aside as dead letters: PostgreSQL refused them for good');
      expect(run.output).toContain(`outbox entry ${nulId} (beneficiary:99999999999:1): 22021 invalid byte sequence for encoding "UTF8": 0x00`);
      expect(run.output).toContain(`outbox entry ${strangeId} (mystery:1:1): malformed`);
    } finally {
      await worker.stop();
      // (the gateway's stop deletes the prefix's keys: last)
      await gateway.stop();
    }
  });

  test('reconcile --drain writes what is left, sets aside what PostgreSQL refuses, and names it next to the mismatch it explains', async ({
    engine,
    redis,
    prefix,
    schema,
  }) => {
    // a citizen registered a beneficiary whose text PostgreSQL refuses (the API refuses it today;
    // an entry from before that, or from another writer, must still not stop the drain)
    const accountId = engine.accountIdOf('8123456789');
    const added = await engine.addBeneficiary(accountId, {
      name: 'Asha',
      birth_year: 1985,
      gender_id: 2,
      photo_id_type: 1,
      photo_id_number: '2345 6789 0123',
      comorbidity_ind: 'N',
      consent_version: 'V\u0000',
    });
    if (!added.ok) throw new Error(`addBeneficiary: ${added.status}`);
    const good = await engine.addBeneficiary(engine.accountIdOf('8123456790'), {
      name: 'Ravi',
      birth_year: 1975,
      gender_id: 1,
      photo_id_type: 1,
      photo_id_number: '3456 7890 1234',
      comorbidity_ind: 'N',
      consent_version: 'V1',
    });
    expect(good.ok).toBe(true);

    const run = spawnNode(builtScript('reconcile.js'), { prefix, schema }, ['--drain']);
    expect((await run.exited).code, run.output).toBe(1);
    expect(run.output).toMatch(/reconcile: wrote the 3 changes left in the outbox to PostgreSQL/);
    expect(run.output).toMatch(new RegExp(`set aside as a dead letter: outbox entry \\S+ \\(beneficiary:${added.beneficiaryId}:1\\): 22021 invalid byte sequence`));
    expect(run.output).toContain(`beneficiary ${added.beneficiaryId}:\n    in Redis (account ${accountId}), missing in PostgreSQL\n    explained by a dead letter: outbox entry`);
    expect(await redis.xlen(keys.outbox())).toBe(0);
    expect(await redis.xlen(keys.outboxDeadLetters())).toBe(1);
  });
});
