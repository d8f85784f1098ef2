/**
 * Prepares a deployment: migrates PostgreSQL and publishes the country file's sessions for the
 * coming days (idempotent). `npm start` runs it before the gateway and worker; docker compose runs
 * it as a one-shot service.
 *
 *   node dist/scripts/setup.js      (TEEKA_SEED_SESSIONS=off skips the sessions)
 */
import { runAsCommand } from '../engine/command.js';
import { loadConfig, type TeekaConfig } from '../engine/config.js';
import { BookingEngine } from '../engine/engine.js';
import { loadCountry } from '../engine/masterdata.js';
import { connectRedis, whenReady } from '../engine/redis.js';
import { publishPlannedSessions } from '../engine/seed.js';
import { migrate } from '../worker/migrate.js';
import { loadWorkerSettings } from '../worker/settings.js';

export async function setup(config: TeekaConfig, log: (line: string) => void = console.log): Promise<void> {
  const country = loadCountry(config.countryFile);
  log(`teeka: ${config.env} deployment, country file ${config.countryFile} (${country.data.country.name})`);

  const { schema } = loadWorkerSettings();
  log(`teeka: migrating PostgreSQL (schema ${schema})…`);
  const applied = await migrate(config.databaseUrl, schema, { log: (line) => log(`  ${line}`) });
  log(`teeka: schema up to date${applied.length ? ` (applied ${applied.join(', ')})` : ''}`);

  if (process.env.TEEKA_SEED_SESSIONS === 'off') return;
  const redis = connectRedis({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, role: 'tool' });
  try {
    await whenReady(redis, 30_000);
    const engine = new BookingEngine(redis, { country, secret: config.secret, clock: config.clock });
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
  }
}

runAsCommand(import.meta.url, 'setup', () => setup(loadConfig()));
