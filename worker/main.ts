/**
 * The worker process (`npm run worker`; `npm start` runs it beside the gateway): migrates the
 * schema, loads the master data, checks that Redis agrees with PostgreSQL (worker/deployment.ts:
 * it refuses an emptied or foreign Redis, exit 2), then drains the outbox into PostgreSQL until
 * SIGTERM or SIGINT, or until Redis is emptied under it (exit 2): the booking partition's outbox
 * and every partition's (TEEKA_PARTITIONS); and resolves the partitioned booking's expired intents
 * (worker/outbox-worker.ts, TEEKA_WORKER_SWEEP_MS).
 * Settings: engine/config.ts (REDIS_URL, TEEKA_REDIS_PREFIX, DATABASE_URL, TEEKA_COUNTRY) and
 * worker/settings.ts (TEEKA_PG_SCHEMA, TEEKA_WORKER_*).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, settingsOrExit } from '../engine/config.js';
import { BookingEngine } from '../engine/engine.js';
import { loadCountry } from '../engine/masterdata.js';
import { PartitionedBooking } from '../engine/partitioned-booking.js';
import { Partitions } from '../engine/partitions.js';
import { connectRedis } from '../engine/redis.js';
import { openPool } from './database.js';
import { admitRedis, DISAGREEMENT_EXIT_CODE, RedisDisagrees, watchDeploymentMarker } from './deployment.js';
import { saveMasterData } from './masterdata.js';
import { migrate } from './migrate.js';
import { OutboxWorker } from './outbox-worker.js';
import { loadWorkerSettings } from './settings.js';

const log = (line: string) => console.log(line);

async function main(): Promise<void> {
  const config = settingsOrExit('worker', () => loadConfig());
  const settings = settingsOrExit('worker', () => loadWorkerSettings());
  const country = loadCountry(config.countryFile);
  let stopRequested = false;
  let shutdown: () => Promise<void> = async () => {};
  const stop = (exitCode: number) => {
    if (stopRequested) return;
    stopRequested = true;
    shutdown()
      .then(() => process.exit(exitCode))
      .catch((err: Error) => {
        console.error(`worker: shutdown failed: ${err.message}`);
        process.exit(1);
      });
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log(`worker: ${signal}: finishing the batch in progress, then stopping`);
      stop(0);
    });
  }

  // PostgreSQL may still be starting (docker compose, a restart): wait for it rather than exit
  for (let attempt = 1; ; attempt++) {
    try {
      const applied = await migrate(config.databaseUrl, settings.schema, { log: (line) => log(`migrate: ${line}`) });
      log(`worker: schema ${settings.schema} ready${applied.length ? ` (applied ${applied.join(', ')})` : ''}`);
      break;
    } catch (err) {
      if (stopRequested) return;
      log(`worker: PostgreSQL not ready (${(err as Error).message}); attempt ${attempt}, retrying in 2 s`);
      await sleep(2000);
    }
  }
  if (stopRequested) return;

  const pool = openPool({
    databaseUrl: config.databaseUrl,
    schema: settings.schema,
    statementTimeoutMs: settings.statementTimeoutMs,
    onIdleError: (err) => log(`worker: PostgreSQL connection lost (${err.message})`),
  });
  const masterData = await saveMasterData(pool, country);
  log(`worker: master data: ${masterData.states} states, ${masterData.districts} districts, ${masterData.centers} centres`);

  const partitions = new Partitions(config.partitions);
  const redis = connectRedis({ address: config.redis, keyPrefix: config.redisKeyPrefix, role: 'worker' });
  redis.on('error', (err) => log(`worker: Redis: ${err.message}`));
  // never drain an emptied or foreign Redis into this PostgreSQL
  const place = { redisAddress: config.redis, redisKeyPrefix: config.redisKeyPrefix, schema: settings.schema };
  let deploymentId: string | null;
  try {
    deploymentId = await admitRedis(redis, pool, place, partitions, (line) => log(`worker: ${line}`), config.layout);
  } catch (err) {
    if (!(err instanceof RedisDisagrees)) throw err;
    console.error(`worker: not starting: ${err.message}`);
    redis.disconnect();
    await pool.end();
    process.exit(DISAGREEMENT_EXIT_CODE);
  }
  // the engine only for the partitioned booking's recovery (the sweeper's pass): its clock, partitions and durability
  const engine = new BookingEngine(redis, { country, secret: config.secret, clock: config.clock, durability: config.durability, partitions });
  const intents = new PartitionedBooking(engine);
  const worker = new OutboxWorker({
    redis,
    redisAddress: config.redis,
    redisKeyPrefix: config.redisKeyPrefix,
    pool,
    settings,
    durability: config.durability,
    intents,
    partitions,
    log,
  });
  shutdown = async () => {
    await worker.stop();
    await pool.end();
    await redis.quit();
  };
  if (stopRequested) return shutdown();
  await worker.start();
  if (deploymentId) {
    watchDeploymentMarker(redis, deploymentId, place, (message) => {
      console.error(`worker: ${message}`);
      stop(DISAGREEMENT_EXIT_CODE);
    });
  }
}

main().catch((err: Error) => {
  console.error(`worker: ${err.stack ?? err.message}`);
  process.exit(1);
});
