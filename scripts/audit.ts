/**
 * `npm run audit -- COMMAND`: the access log in PostgreSQL (worker/access-log.ts), on DATABASE_URL
 * and TEEKA_PG_SCHEMA.
 *
 *   verify                                   walk the whole chain: exit 0 intact, 1 with the first
 *                                            row that was edited or removed
 *   query [--who ID] [--object OBJ] [--since ISO-TIME] [--limit N]
 *                                            entries, oldest first, one JSON object a line: "who
 *                                            looked at this person's record" (--object
 *                                            beneficiary:<id>), "what did this operator look at" (--who)
 *
 * Exit codes: 0 done (verify: intact), 1 verify found a broken chain, 2 bad usage, 3 failure.
 */
import { parseArgs } from 'node:util';
import { runAsCommand } from '../engine/command.js';
import { loadConfig, settingsOrExit } from '../engine/config.js';
import { queryAccessLog, verifyAccessChain } from '../worker/access-log.js';
import { openPool } from '../worker/database.js';
import { databaseSchema } from '../worker/settings.js';

const USAGE = 'usage: npm run audit -- verify | query [--who ID] [--object OBJ] [--since ISO-TIME] [--limit N]';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { who: { type: 'string' }, object: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' } },
  });
  const [command] = positionals;
  if (command !== 'verify' && command !== 'query') {
    console.error(USAGE);
    return 2;
  }
  const since = values.since === undefined ? undefined : Date.parse(values.since);
  if (since !== undefined && Number.isNaN(since)) {
    console.error(`audit: --since: expected a time like 2026-05-01T10:00:00Z (got "${values.since}")\n${USAGE}`);
    return 2;
  }
  if (values.limit !== undefined && !/^\d{1,7}$/.test(values.limit)) {
    console.error(`audit: --limit: expected a whole number\n${USAGE}`);
    return 2;
  }
  const config = settingsOrExit('audit', () => loadConfig());
  const pool = openPool({ databaseUrl: config.databaseUrl, schema: databaseSchema(), max: 1, onIdleError: () => {} });
  try {
    if (command === 'verify') {
      const report = await verifyAccessChain(pool);
      if (report.problem) {
        console.log(`access log BROKEN at row ${report.problem.seq}: ${report.problem.reason} (${report.rows} rows intact before it)`);
        return 1;
      }
      console.log(`access log intact: ${report.rows} rows, each chained to the one before`);
      return 0;
    }
    const rows = await queryAccessLog(pool, { who: values.who, object: values.object, since, limit: values.limit ? Number(values.limit) : undefined });
    for (const row of rows) console.log(JSON.stringify({ ...row, at: new Date(row.at).toISOString() }));
    return 0;
  } finally {
    await pool.end();
  }
}

runAsCommand(import.meta.url, 'audit', main);
