/**
 * Before any test: make sure the real services the tests use answer, and say clearly which one
 * does not (the README's test command starts them; a bare `vitest` does not); then build dist/,
 * from which tests start real gateway and worker processes.
 */
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { redisAddressFrom } from '../../engine/config.js';
import { connectRedis, describeRedis, whenReady } from '../../engine/redis.js';

export default async function checkServices(): Promise<void> {
  const address = redisAddressFrom(process.env);
  const redis = connectRedis({ address, keyPrefix: '', role: 'tool', overrides: { maxRetriesPerRequest: 0 } });
  redis.on('error', () => {}); // the readiness check below says what is wrong
  try {
    await whenReady(redis, 5000);
    await redis.ping();
  } catch (err) {
    const command = address.cluster ? 'npm run test:cluster' : 'npm test';
    throw new Error(`${describeRedis(address)} does not answer (${(err as Error).message}). Run the tests with \`${command}\`, which starts it.`);
  } finally {
    redis.disconnect();
  }
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    throw new Error(`PostgreSQL at ${databaseUrl} does not answer (${(err as Error).message}). Run the tests with \`npm test\`, which starts it.`);
  } finally {
    await client.end().catch(() => {});
  }
  // tests run the real processes (gateway, worker) from dist/: build once, before any test file
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
