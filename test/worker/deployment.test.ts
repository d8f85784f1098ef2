/**
 * How a Redis stands against PostgreSQL (worker/deployment.ts), on the shared servers with a prefix
 * and schema per test: each standing is reached the way it arises in operation, and the processes
 * refuse a Redis of another deployment. The emptied-Redis story end to end, with a redis-server of
 * its own, is test/worker/redis-loss.test.ts.
 */
import { join } from 'node:path';
import { projectRoot } from '../../engine/config.js';
import { keys } from '../../engine/keys.js';
import { Partitions } from '../../engine/partitions.js';
import { openPool } from '../../worker/database.js';
import {
  examineRedis,
  explainStanding,
  markRebuilding,
  mayServe,
  readDeploymentRecord,
  type DeploymentPlace,
} from '../../worker/deployment.js';
import { drainOutboxDirectly } from '../../worker/drain.js';
import { outboxStreams } from '../../worker/outbox.js';
import { rebuildRedis } from '../../worker/rebuild.js';
import { accountWithBeneficiaries, publishSession } from '../support/booking.js';
import { deleteKeysWithPrefix } from '../support/fixtures.js';
import { freePort } from '../support/gateway.js';
import { builtScript, describe, expect, TEST_REDIS, spawnNode, test } from './support.js';

const OTHER_DEPLOYMENT = '00000000-0000-4000-8000-000000000042';
/** the partitions every process of these tests uses (TEEKA_PARTITIONS unset) */
const PARTITIONS = new Partitions();

describe('how Redis stands against PostgreSQL', () => {
  test('a fresh Redis in front of a record without bookings is claimed, and then agrees', async ({ redis, pool }) => {
    const record = (await readDeploymentRecord(pool))!;
    expect(record).toEqual({ deploymentId: expect.stringMatching(/^[0-9a-f-]{36}$/), lastBeneficiaryId: null, holdsBookings: false });
    expect(await examineRedis(redis, pool, PARTITIONS)).toEqual({ kind: 'claimed', deploymentId: record.deploymentId });
    expect(await redis.get(keys.deployment())).toBe(record.deploymentId);
    expect(await examineRedis(redis, pool, PARTITIONS)).toEqual({ kind: 'agrees', deploymentId: record.deploymentId });
  });

  test('a schema never migrated has no record: nothing to compare, nothing written', async ({ redis }) => {
    const unmigrated = openPool({ databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', schema: 'no_teeka_here' });
    try {
      const standing = await examineRedis(redis, unmigrated, PARTITIONS);
      expect(standing).toEqual({ kind: 'unrecorded' });
      expect(mayServe(standing)).toEqual({ watch: null });
      expect(await redis.exists(keys.deployment())).toBe(0);
    } finally {
      await unmigrated.end();
    }
  });

  test('PostgreSQL down: a marked Redis is served (and watched), an unmarked one is refused', async ({ redis }) => {
    const down = openPool({ databaseUrl: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`, connectTimeoutMs: 1000, onIdleError: () => {} });
    try {
      const unmarked = await examineRedis(redis, down, PARTITIONS);
      expect(unmarked).toMatchObject({ kind: 'unverified', redisDeploymentId: null });
      expect(mayServe(unmarked)).toBeNull();
      await redis.set(keys.deployment(), OTHER_DEPLOYMENT);
      const marked = await examineRedis(redis, down, PARTITIONS);
      expect(mayServe(marked)).toEqual({ watch: OTHER_DEPLOYMENT });
      await markRebuilding(redis, OTHER_DEPLOYMENT);
      expect(mayServe(await examineRedis(redis, down, PARTITIONS))).toBeNull();
    } finally {
      await down.end();
    }
  });

  test('PostgreSQL holds bookings: an unmarked Redis with bookings is unclaimed, an empty one was emptied', async ({ engine, redis, pool, prefix }) => {
    await publishSession(engine);
    await accountWithBeneficiaries(engine, 2);
    await drainOutboxDirectly(redis, pool);
    const { deploymentId } = (await readDeploymentRecord(pool))!;

    expect(await examineRedis(redis, pool, PARTITIONS)).toEqual({ kind: 'unclaimed', deploymentId });
    await deleteKeysWithPrefix(TEST_REDIS, prefix);
    const emptied = await examineRedis(redis, pool, PARTITIONS);
    expect(emptied).toEqual({ kind: 'emptied', deploymentId });
    expect(mayServe(emptied)).toBeNull();
    expect(await redis.exists(keys.deployment())).toBe(0); // refusing writes nothing
  });

  test('an older copy of this deployment\'s Redis (a sequence behind PostgreSQL\'s ids) is behind; a rebuild brings it back', async ({ engine, redis, pool, schema, prefix }) => {
    expect((await examineRedis(redis, pool, PARTITIONS)).kind).toBe('claimed');
    await publishSession(engine);
    const { beneficiaryIds } = await accountWithBeneficiaries(engine, 3);
    await drainOutboxDirectly(redis, pool);
    const { deploymentId } = (await readDeploymentRecord(pool))!;
    expect(await examineRedis(redis, pool, PARTITIONS)).toEqual({ kind: 'agrees', deploymentId });

    // Redis restarts from a copy taken before the registrations (an RDB snapshot): the marker is
    // there, the beneficiary sequence is not
    await redis.del(keys.beneficiarySequence());
    const behind = await examineRedis(redis, pool, PARTITIONS);
    expect(behind).toEqual({ kind: 'behind', deploymentId, redisSequence: null, lastBeneficiaryId: beneficiaryIds[2] });
    const place: DeploymentPlace = { redisAddress: TEST_REDIS, redisKeyPrefix: prefix, schema };
    expect(explainStanding(behind, place)).toMatch(/behind the highest reference id in PostgreSQL \(schema \w+\) \(\d+\).*npm run rebuild -- --force/);

    await rebuildRedis(redis, pool);
    expect(await examineRedis(redis, pool, PARTITIONS)).toEqual({ kind: 'agrees', deploymentId });
    expect(await redis.get(keys.beneficiarySequence())).toBe(beneficiaryIds[2]);
  });

  test('a rebuild that has not finished is refused; the finished one agrees', async ({ redis, pool }) => {
    const { deploymentId } = (await readDeploymentRecord(pool))!;
    await markRebuilding(redis, deploymentId);
    const rebuilding = await examineRedis(redis, pool, PARTITIONS);
    expect(rebuilding).toEqual({ kind: 'rebuilding', deploymentId });
    expect(mayServe(rebuilding)).toBeNull();
    expect(await rebuildRedis(redis, pool)).toMatchObject({ deploymentId });
    expect(await examineRedis(redis, pool, PARTITIONS)).toEqual({ kind: 'agrees', deploymentId });
  });

  test('a Redis of another deployment is refused by the gateway, the worker and setup; npm run rebuild will not touch it, even forced', async ({ engine, redis, pool, prefix, schema }) => {
    await publishSession(engine);
    await redis.set(keys.deployment(), OTHER_DEPLOYMENT);
    const { deploymentId } = (await readDeploymentRecord(pool))!;
    expect(await examineRedis(redis, pool, PARTITIONS)).toEqual({ kind: 'foreign', deploymentId, redisDeploymentId: OTHER_DEPLOYMENT, recordHoldsBookings: false });
    const outboxBefore = await redis.xlen(keys.outbox());

    const env = { prefix, schema, extra: { PORT: String(await freePort()), HOST: '127.0.0.1', GATEWAY_THREADS: '1', TEEKA_ENV: 'demo' } };
    const gateway = spawnNode(join(projectRoot(), 'dist', 'gateway', 'main.js'), env);
    const worker = spawnNode(builtScript('main.js'), env);
    const setup = spawnNode(join(projectRoot(), 'dist', 'scripts', 'setup.js'), env);
    for (const [name, child] of [['gateway', gateway], ['worker', worker], ['setup', setup]] as const) {
      expect((await child.exited).code, child.output).toBe(2);
      expect(child.output, name).toContain(`belongs to deployment ${OTHER_DEPLOYMENT}, but PostgreSQL (schema ${schema}) is deployment ${deploymentId}`);
    }
    const rebuild = spawnNode(builtScript('rebuild.js'), { prefix, schema }, ['--force']);
    expect((await rebuild.exited).code, rebuild.output).toBe(2);
    expect(rebuild.output).toMatch(/rebuild: refused\. .*belongs to deployment/);

    // untouched: the other deployment's marker, its session, its outbox (never written into this PostgreSQL)
    expect(await redis.get(keys.deployment())).toBe(OTHER_DEPLOYMENT);
    expect(await redis.xlen(keys.outbox())).toBe(outboxBefore);
    expect((await pool.query('SELECT count(*)::int AS n FROM sessions')).rows[0].n).toBe(0);
  });
});

describe('the partition count Redis was laid out for', () => {
  test('is recorded with the marker; a process configured for another count is refused with what to do, and a rebuild lays Redis out for it', async ({ redis, pool, prefix, schema }) => {
    const { deploymentId } = (await readDeploymentRecord(pool))!;
    expect(await examineRedis(redis, pool, PARTITIONS)).toEqual({ kind: 'claimed', deploymentId });
    expect(await redis.get(keys.partitionCount())).toBe(String(PARTITIONS.count));

    const other = new Partitions(PARTITIONS.count * 2);
    const standing = await examineRedis(redis, pool, other);
    expect(standing).toEqual({ kind: 'repartitioned', deploymentId, redisPartitions: PARTITIONS.count, partitions: other.count });
    expect(mayServe(standing)).toBeNull();

    const env = { prefix, schema, extra: { PORT: String(await freePort()), HOST: '127.0.0.1', GATEWAY_THREADS: '1', TEEKA_ENV: 'demo', TEEKA_PARTITIONS: String(other.count) } };
    const gateway = spawnNode(join(projectRoot(), 'dist', 'gateway', 'main.js'), env);
    expect((await gateway.exited).code, gateway.output).toBe(2);
    expect(gateway.output).toContain(`was laid out for ${PARTITIONS.count} partitions, but this process is configured for ${other.count} (TEEKA_PARTITIONS)`);

    // a Redis laid out before counts were recorded takes the count of the first process that agrees with it
    await redis.del(keys.partitionCount());
    expect(await examineRedis(redis, pool, PARTITIONS)).toEqual({ kind: 'agrees', deploymentId });
    expect(await redis.get(keys.partitionCount())).toBe(String(PARTITIONS.count));

    await rebuildRedis(redis, pool, { partitions: other });
    expect(await examineRedis(redis, pool, other)).toEqual({ kind: 'agrees', deploymentId });
    expect((await examineRedis(redis, pool, PARTITIONS)).kind).toBe('repartitioned');
  });
});

describe('the record layout Redis was laid out for', () => {
  test('is recorded with the marker; a process of the other layout is refused with what to do; a rebuild records the layout it laid out', async ({ redis, pool, prefix, schema }) => {
    const { deploymentId } = (await readDeploymentRecord(pool))!;
    expect(await examineRedis(redis, pool, PARTITIONS, 'partitioned')).toEqual({ kind: 'claimed', deploymentId });
    expect(await redis.get(keys.layout())).toBe('partitioned');
    expect(await examineRedis(redis, pool, PARTITIONS, 'partitioned')).toEqual({ kind: 'agrees', deploymentId });
    const standing = await examineRedis(redis, pool, PARTITIONS, 'single');
    expect(standing).toEqual({ kind: 'relaid', deploymentId, redisLayout: 'partitioned', layout: 'single' });
    expect(mayServe(standing)).toBeNull();

    // a gateway of the default layout refuses it, saying which layout to set
    const env = { prefix, schema, extra: { PORT: String(await freePort()), HOST: '127.0.0.1', GATEWAY_THREADS: '1', TEEKA_ENV: 'demo' } };
    const gateway = spawnNode(join(projectRoot(), 'dist', 'gateway', 'main.js'), env);
    expect((await gateway.exited).code, gateway.output).toBe(2);
    expect(gateway.output).toContain('was laid out for the partitioned record layout, but this process is configured for single (TEEKA_LAYOUT)');
    // a rebuild lays Redis out in the configured layout and records that one
    const rebuild = spawnNode(builtScript('rebuild.js'), { prefix, schema, extra: { TEEKA_LAYOUT: 'partitioned' } }, ['--force']);
    expect((await rebuild.exited).code, rebuild.output).toBe(0);
    expect(rebuild.output).toMatch(/rebuild: done: 0 sessions[\s\S]*reconcile: OK/);
    expect(await redis.mget(keys.deployment(), keys.layout())).toEqual([deploymentId, 'partitioned']);
    await rebuildRedis(redis, pool, { layout: 'single', partitions: PARTITIONS });
    expect(await redis.mget(keys.deployment(), keys.layout())).toEqual([deploymentId, 'single']);
    await rebuildRedis(redis, pool, { layout: 'partitioned', partitions: PARTITIONS });
    expect(await redis.get(keys.layout())).toBe('partitioned');

    // a Redis laid out before layouts were recorded, holding bookings in {bk}, was single
    await redis.del(keys.layout());
    await redis.incr(keys.beneficiarySequence());
    expect(await examineRedis(redis, pool, PARTITIONS, 'partitioned')).toMatchObject({ kind: 'relaid', redisLayout: 'single' });
    expect(await examineRedis(redis, pool, PARTITIONS, 'single')).toEqual({ kind: 'agrees', deploymentId });
    expect(await redis.get(keys.layout())).toBe('single');
  });

  test('partitioned: each partition’s beneficiary counter is checked against PostgreSQL’s highest id of that partition; an unmarked Redis with partitioned bookings is not taken for an emptied one', async ({
    makeEngine,
    redis,
    pool,
    prefix,
  }) => {
    const { deploymentId } = (await readDeploymentRecord(pool))!;
    expect(await examineRedis(redis, pool, PARTITIONS, 'partitioned')).toEqual({ kind: 'claimed', deploymentId });
    const engine = makeEngine({ layout: 'partitioned', partitions: PARTITIONS });
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 2);
    await drainOutboxDirectly(redis, pool, 500, outboxStreams(PARTITIONS));
    expect((await readDeploymentRecord(pool))!.lastBeneficiaryId).toBe(beneficiaryIds[1]);
    expect(await examineRedis(redis, pool, PARTITIONS, 'partitioned')).toEqual({ kind: 'agrees', deploymentId });
    // the single layout's check would call this Redis behind: it has no {bk} sequence at all
    expect(await redis.exists(keys.beneficiarySequence())).toBe(0);

    // an older copy: the account's partition handed out fewer ids than PostgreSQL holds
    const partition = PARTITIONS.of(accountId);
    await redis.decr(keys.partitionBeneficiarySequence(PARTITIONS, partition));
    const behind = await examineRedis(redis, pool, PARTITIONS, 'partitioned');
    expect(behind).toEqual({ kind: 'behind', deploymentId, redisSequence: `1 in partition ${partition}`, lastBeneficiaryId: beneficiaryIds[1] });
    expect(mayServe(behind)).toBeNull();

    // no marker: the partitions' bookings show it is not an emptied Redis
    await redis.del(keys.deployment());
    expect(await examineRedis(redis, pool, PARTITIONS, 'partitioned')).toEqual({ kind: 'unclaimed', deploymentId });
    await deleteKeysWithPrefix(TEST_REDIS, prefix);
    expect(await examineRedis(redis, pool, PARTITIONS, 'partitioned')).toEqual({ kind: 'emptied', deploymentId });
  });
});
