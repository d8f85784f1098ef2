import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // tests start real servers and processes; two cores do not gain from more than two files at once
    maxWorkers: 2,
    reporters: ['default'],
  },
});
