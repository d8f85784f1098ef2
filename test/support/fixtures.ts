/**
 * vitest fixtures: each test gets its own Redis key prefix (so tests never see each other's keys
 * and run in parallel), a booking engine on a country (the demo country unless a suite overrides
 * `country`, e.g. `test.override({ country })` inside `describe.each(testCountries())`) with a clock
 * the test can move, starting at that country's working morning, and cleanup afterwards.
 */
import { randomUUID } from 'node:crypto';
import { test as base } from 'vitest';
import { BookingEngine, type EngineOptions } from '../../engine/engine.js';
import { loadCountry, type Country } from '../../engine/masterdata.js';
import { layoutFrom, projectRoot, redisAddressFrom } from '../../engine/config.js';
import { connectRedis, deleteKeysWithPrefix, type RedisAddress, type RedisClient } from '../../engine/redis.js';
import { join } from 'node:path';
import { MORNING, morningIn, TestClock } from './clock.js';

export { MORNING, morningIn, TestClock };

/**
 * The tests' Redis, read as every teeka process reads it: REDIS_URL, or the Redis Cluster named by
 * REDIS_CLUSTER (`npm run test:cluster`). Processes the tests start inherit the same variables.
 */
export const TEST_REDIS: RedisAddress = redisAddressFrom(process.env);

/** A connection to the tests' Redis whose keys go under `keyPrefix` (each test has its own). */
export function connectTestRedis(keyPrefix: string): RedisClient {
  return connectRedis({ address: TEST_REDIS, keyPrefix, role: 'tool', overrides: { maxRetriesPerRequest: 20, connectTimeout: 10_000 } });
}

/**
 * The environment that points a process the tests start at a redis-server of its own (a test that
 * kills or restarts it) instead of the tests' Redis, whether that is one server or a cluster.
 */
export function ownRedisServerEnv(url: string): { REDIS_URL: string; REDIS_CLUSTER: string } {
  return { REDIS_URL: url, REDIS_CLUSTER: '' };
}

let demo: Country | undefined;
export function demoCountry(): Country {
  demo ??= loadCountry(join(projectRoot(), 'masterdata', 'demo-country.json'));
  return demo;
}


export interface EngineFixtures {
  /** the country the engine runs on. Default the demo country */
  country: Country;
  prefix: string;
  redis: RedisClient;
  clock: TestClock;
  engine: BookingEngine;
  makeEngine: (options?: Partial<EngineOptions>) => BookingEngine;
}


export const test = base.extend<EngineFixtures>({
  country: async ({}, use) => {
    await use(demoCountry());
  },
  prefix: async ({}, use) => {
    const prefix = `test:${randomUUID().slice(0, 8)}:`;
    await use(prefix);
    await deleteKeysWithPrefix(TEST_REDIS, prefix);
  },
  redis: async ({ prefix }, use) => {
    const redis = connectTestRedis(prefix);
    await use(redis);
    redis.disconnect();
  },
  // the country's working morning (10:00 in its time zone)
  clock: async ({ country }, use) => {
    await use(new TestClock(morningIn(country.timeZone)));
  },
  makeEngine: async ({ redis, clock, country }, use) => {
    await use(
      (options = {}) =>
        new BookingEngine(redis, {
          country,
          secret: 'test-secret',
          // the demo's test numbers of the country (demo.test_mobile_prefix: India 9999, Guyana 699)
          testMobiles: { prefix: country.data.demo?.test_mobile_prefix ?? '9999', otp: '123456' },
          clock: clock.now,
          // TEEKA_LAYOUT=partitioned runs the tests that use it on the partitioned layout (npm run test:partitioned)
          layout: layoutFrom(process.env),
          ...options,
        }),
    );
  },
  engine: async ({ makeEngine }, use) => {
    await use(makeEngine());
  },
});

export { expect, describe } from 'vitest';
export { deleteKeysWithPrefix };
