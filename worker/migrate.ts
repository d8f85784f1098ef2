/**
 * Schema migrations: the SQL files in migrations/, applied with node-pg-migrate's runner by
 * `npm start`, the worker and the tools at startup, and by the tests (one schema each).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runner } from 'node-pg-migrate';
import { projectRoot } from '../engine/config.js';
import { checkedSchema } from './settings.js';

export interface MigrateOptions {
  /** where progress lines go. Default: nowhere (errors still throw) */
  log?: (line: string) => void;
  /** how long to wait for another process migrating the same schema. Default 60000 ms */
  waitForOthersMs?: number;
}

/**
 * node-pg-migrate takes one advisory lock for every schema alike; a lock per schema lets the tests
 * (a schema each) migrate in parallel, while two processes starting together on one schema (the
 * gateway and the worker) still take turns.
 */
function lockValueOf(schema: string): number {
  return Number.parseInt(createHash('sha1').update(`teeka-migrate:${schema}`).digest('hex').slice(0, 12), 16);
}

/** Apply every migration not yet applied to `schema` (created when missing). Returns the names applied. */
export async function migrate(databaseUrl: string, schema = 'public', options: MigrateOptions = {}): Promise<string[]> {
  const { log = () => {}, waitForOthersMs = 60_000 } = options;
  const deadline = Date.now() + waitForOthersMs;
  for (;;) {
    try {
      const applied = await runner({
        databaseUrl,
        schema: checkedSchema(schema),
        createSchema: true,
        dir: join(projectRoot(), 'migrations'),
        migrationsTable: 'pgmigrations',
        direction: 'up',
        count: Infinity,
        checkOrder: true,
        lockValue: lockValueOf(schema),
        logger: { debug: () => {}, info: log, warn: log, error: log },
      });
      return applied.map((m) => m.name);
    } catch (err) {
      if (/Another migration is already running/.test((err as Error).message) && Date.now() < deadline) {
        await sleep(200);
        continue;
      }
      throw err;
    }
  }
}
