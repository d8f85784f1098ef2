/**
 * `npm run reconcile` as an operator runs it: the compiled command against Redis and PostgreSQL,
 * its exit status and what it prints.
 */
import { keys } from '../../engine/keys.js';
import { drainOutboxDirectly } from '../../worker/drain.js';
import { accountWithBeneficiaries, demoCenterId, publishSession, slotsOf } from '../support/booking.js';
import { builtScript, describe, expect, spawnNode, test } from './support.js';

describe('npm run reconcile', () => {
  test('exits 2 while the outbox holds changes, and with --drain writes them first and exits 0 with one summary line', async ({
    engine,
    prefix,
    schema,
  }) => {
    const sessionId = await publishSession(engine);
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 2);
    await engine.book({ accountId, sessionId, slot: slotsOf(engine, demoCenterId(engine))[0]!, dose: 1, beneficiaryIds });

    const undrained = spawnNode(builtScript('reconcile.js'), { prefix, schema });
    expect((await undrained.exited).code).toBe(2);
    expect(undrained.output).toMatch(/the outbox is not drained: 5 changes not yet in PostgreSQL/);

    const drained = spawnNode(builtScript('reconcile.js'), { prefix, schema }, ['--drain']);
    expect((await drained.exited).code, drained.output).toBe(0);
    expect(drained.output.trim().split('\n').at(-1)).toBe(
      'reconcile: OK: 1 sessions, 1 appointments (2 seats), 2 beneficiaries in 1 accounts match in Redis and PostgreSQL; outbox drained',
    );
  });

  test('exits 1 with a readable diff naming the session, the counters and the appointment that disagree', async ({
    engine,
    redis,
    pool,
    prefix,
    schema,
  }) => {
    const slot = slotsOf(engine, demoCenterId(engine))[1]!;
    const sessionId = await publishSession(engine);
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 1);
    const booked = await engine.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds });
    if (!booked.ok) throw new Error(`booking refused: ${booked.status}`);
    await drainOutboxDirectly(redis, pool);
    // PostgreSQL lost the booking's row, and Redis counts one seat too many
    await pool.query('DELETE FROM appointments WHERE appointment_id = $1', [booked.appointmentId]);
    await redis.hincrby(keys.session(sessionId), 'booked1', 1);

    const run = spawnNode(builtScript('reconcile.js'), { prefix, schema });
    expect((await run.exited).code).toBe(1);
    const output = run.output;
    expect(output).toMatch(/^reconcile: \d+ mismatches/m);
    expect(output).toContain(`session ${sessionId} (centre ${demoCenterId(engine)}, `);
    expect(output).toContain('dose 1 seats: Redis counter 2, Redis appointments 1, PostgreSQL 0');
    expect(output).toContain(`slot ${slot} seats: Redis counter 1, Redis appointments 1, PostgreSQL 0`);
    expect(output).toContain(`appointment ${booked.appointmentId}:\n    in Redis (session ${sessionId}`);
    expect(output).toContain(`beneficiary ${beneficiaryIds[0]}:\n    live dose 1 appointment: Redis ${booked.appointmentId}, PostgreSQL none`);
  });
});
