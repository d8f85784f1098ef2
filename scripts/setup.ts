/**
 * Prepares a deployment: migrates PostgreSQL, makes sure Redis agrees with it (rebuilding an emptied
 * Redis from PostgreSQL), and publishes the country file's sessions for the coming days
 * (idempotent). `npm start` runs it before the gateway and worker; docker compose runs it as a
 * one-shot service.
 *
 *   node dist/scripts/setup.js      (TEEKA_SEED_SESSIONS=off skips the sessions)
 */
import { connectRedis, whenReady, type RedisClient } from '../engine/redis.js';
import type pg from 'pg';
import { runAsCommand } from '../engine/command.js';
import { loadConfig, type TeekaConfig } from '../engine/config.js';
import { BookingEngine } from '../engine/engine.js';
import { loadCountry } from '../engine/masterdata.js';
import { Partitions } from '../engine/partitions.js';
import { publishPlannedSessions } from '../engine/seed.js';
import { openPool } from '../worker/database.js';
import {
  DISAGREEMENT_EXIT_CODE,
  examineRedis,
  explainStanding,
  markRebuilding,
  RedisDisagrees,
  type DeploymentPlace,
} from '../worker/deployment.js';
import { migrate } from '../worker/migrate.js';
import { rebuildRedis } from '../worker/rebuild.js';
import type { Layout } from '../engine/keys.js';
import { formatReconcileReport, reconcile } from '../worker/reconcile.js';
import { loadWorkerSettings } from '../worker/settings.js';

export async function setup(config: TeekaConfig, log: (line: string) => void = console.log): Promise<void> {
  const country = loadCountry(config.countryFile);
  log(`teeka: ${config.env} deployment, country file ${config.countryFile} (${country.data.country.name})`);

  const settings = loadWorkerSettings();
  log(`teeka: migrating PostgreSQL (schema ${settings.schema})…`);
  const applied = await migrate(config.databaseUrl, settings.schema, { log: (line) => log(`  ${line}`) });
  log(`teeka: schema up to date${applied.length ? ` (applied ${applied.join(', ')})` : ''}`);

  const redis = connectRedis({ address: config.redis, keyPrefix: config.redisKeyPrefix, role: 'tool' });
  const pool = openPool({ databaseUrl: config.databaseUrl, schema: settings.schema, max: 2, statementTimeoutMs: 600_000 });
  try {
    await whenReady(redis, 30_000);
    const partitions = new Partitions(config.partitions);
    await bringRedisInLine(redis, pool, { redisAddress: config.redis, redisKeyPrefix: config.redisKeyPrefix, schema: settings.schema }, partitions, config.layout, log);
    if (process.env.TEEKA_SEED_SESSIONS === 'off') return;
    const engine = new BookingEngine(redis, { country, secret: config.secret, clock: config.clock, partitions, layout: config.layout });
    const days = country.rules.calendar_days + 1;
    let shownAt = 0;
    const report = await publishPlannedSessions(engine, engine.today(), days, (done, total) => {
      if (done === total || Date.now() - shownAt > 1000) {
        shownAt = Date.now();
        log(`teeka: publishing the planned sessions of the next ${days} days: ${done}/${total}`);
      }
    });
    log(`teeka: sessions: ${report.published} new or changed, ${report.unchanged} unchanged, ${report.refused.length} refused`);
    for (const { input, status } of report.refused.slice(0, 5)) log(`  refused (status ${status}): ${JSON.stringify(input)}`);
  } finally {
    redis.disconnect();
    await pool.end();
  }
}

/**
 * Redis must agree with PostgreSQL before anything is published or served. An emptied Redis is laid
 * out again from PostgreSQL here, without asking: it holds nothing a rebuild could lose. Anything
 * else that disagrees (another deployment's Redis, an older copy, bookings nobody claimed, a
 * rebuild under way) is for the operator to decide: RedisDisagrees says what to run.
 */
async function bringRedisInLine(
  redis: RedisClient,
  pool: pg.Pool,
  place: DeploymentPlace,
  partitions: Partitions,
  layout: Layout,
  log: (line: string) => void,
): Promise<void> {
  const standing = await examineRedis(redis, pool, partitions, layout);
  if (standing.kind === 'agrees') return;
  if (standing.kind === 'claimed') {
    log(`teeka: Redis marked for deployment ${standing.deploymentId}`);
    return;
  }
  if (standing.kind !== 'emptied') throw new RedisDisagrees(standing, explainStanding(standing, place));

  // SET NX: if another setup saw the same empty Redis, only one of them rebuilds it
  if (!(await markRebuilding(redis, standing.deploymentId, { onlyIfUnmarked: true }))) {
    throw new RedisDisagrees(standing, 'another process began rebuilding Redis meanwhile; start again once it has finished');
  }
  log(`teeka: Redis holds no bookings but PostgreSQL does (deployment ${standing.deploymentId}): Redis lost its data; rebuilding it from PostgreSQL`);
  const report = await rebuildRedis(redis, pool, { log: (line) => log(`  ${line}`), partitions, layout });
  log(
    `teeka: rebuilt ${report.sessions} sessions, ${report.accounts} accounts, ${report.beneficiaries} beneficiaries, ` +
      `${report.appointments} appointments, ${report.quotas} daily quota keys`,
  );
  const check = await reconcile(redis, pool, partitions);
  log(`teeka: ${formatReconcileReport(check)}`);
  if (!check.ok) throw new Error('Redis does not reconcile with PostgreSQL after the rebuild (see above); not starting');
}

runAsCommand(import.meta.url, 'setup', () =>
  setup(loadConfig()).catch((err: Error) => {
    if (!(err instanceof RedisDisagrees)) throw err;
    console.error(`setup: refused: ${err.message}`);
    return DISAGREEMENT_EXIT_CODE;
  }),
);
