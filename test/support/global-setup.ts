/**
 * Before any test: make sure the real services the tests use answer, and say clearly which one
 * does not (the README's test command starts them; a bare `vitest` does not); then build dist/,
 * from which tests start real gateway and worker processes.
 */
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import pg from 'pg';

export default async function checkServices(): Promise<void> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis at ${redisUrl} does not answer (${(err as Error).message}). Run the tests with \`npm test\`, which starts it.`);
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
