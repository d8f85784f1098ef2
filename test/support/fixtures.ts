/**
 * vitest fixtures: each test gets its own Redis key prefix (so tests never see each other's keys
 * and run in parallel), a booking engine on a country (the demo country unless a suite overrides
 * `country`, e.g. `test.override({ country })` inside `describe.each(testCountries())`) with a clock
 * the test can move, starting at that country's working morning, and cleanup afterwards.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { test as base } from 'vitest';
import { BookingEngine, type EngineOptions } from '../../engine/engine.js';
import { loadCountry, type Country } from '../../engine/masterdata.js';
import { projectRoot } from '../../engine/config.js';
import { deleteKeysWithPrefix } from '../../engine/redis.js';
import { join } from 'node:path';
import { MORNING, morningIn, TestClock } from './clock.js';

export { MORNING, morningIn, TestClock };

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

let demo: Country | undefined;
export function demoCountry(): Country {
  demo ??= loadCountry(join(projectRoot(), 'masterdata', 'demo-country.json'));
  return demo;
}


export interface EngineFixtures {
  /** the country the engine runs on. Default the demo country */
  country: Country;
  prefix: string;
  redis: Redis;
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
    await deleteKeysWithPrefix(REDIS_URL, prefix);
  },
  redis: async ({ prefix }, use) => {
    const redis = new Redis(REDIS_URL, { keyPrefix: prefix });
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
