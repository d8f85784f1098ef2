import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Test files that run on a redis-server of their own, which they kill, restart or starve (a Redis
 * restart, AOF loss, Redis down, a Redis memory limit): they never touch the tests' Redis, so on a
 * cluster (`npm run test:cluster`, REDIS_CLUSTER set) they would only repeat `npm test`'s run on
 * the same single node. They are left out there, by name and with a notice, not skipped unseen.
 */
const OWN_REDIS_SERVER = [
  'test/gateway/memory.test.ts',
  'test/gateway/unavailable.test.ts',
  'test/worker/redis-aof.test.ts',
  'test/worker/redis-loss.test.ts',
];

/**
 * Test files that need the machine to themselves: `npm test` runs them after the parallel suite,
 * with TEEKA_RUN_ALONE=1 (which runs only them).
 */
const RUN_ALONE = ['test/gateway/slow-subscriber.test.ts'];
const runAlone = process.env.TEEKA_RUN_ALONE === '1';

const onCluster = Boolean(process.env.REDIS_CLUSTER);
if (onCluster) {
  console.log(`REDIS_CLUSTER=${process.env.REDIS_CLUSTER}: the suite runs on Redis Cluster, except these files on a redis-server of their own (npm test runs them):\n  ${OWN_REDIS_SERVER.join('\n  ')}`);
}

export default defineConfig({
  test: {
    include: runAlone ? RUN_ALONE : ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(onCluster ? OWN_REDIS_SERVER : []), ...(runAlone ? [] : RUN_ALONE)],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // tests start real servers and processes; two cores do not gain from more than two files at once
    maxWorkers: 2,
    reporters: ['default'],
  },
});
