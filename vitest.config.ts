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
  // a cluster of its own, whose master it kills
  'test/faults/cluster-failover.test.ts',
];

const onCluster = Boolean(process.env.REDIS_CLUSTER);
if (onCluster) {
  console.log(`REDIS_CLUSTER=${process.env.REDIS_CLUSTER}: the suite runs on Redis Cluster, except these files on Redis servers of their own (npm test runs them):\n  ${OWN_REDIS_SERVER.join('\n  ')}`);
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(onCluster ? OWN_REDIS_SERVER : [])],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // tests start real servers and processes; two cores do not gain from more than two files at once
    maxWorkers: 2,
    reporters: ['default'],
  },
});
