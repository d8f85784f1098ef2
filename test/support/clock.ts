/**
 * Time in tests is an input (design.md, invariant 9): nothing a test checks may depend on the hour,
 * the date or the machine's time zone.
 * - Engine tests get a `TestClock` they set and move (fixtures.ts).
 * - Processes a test starts (gateway, worker, tools) run on the system clock shifted to `MORNING`
 *   by `TEEKA_CLOCK_OFFSET_MS` (engine/clock.ts); the test's own engines use `processClock`, the
 *   same shift, so a test and the processes it talks to agree on "now" and on "today".
 */
import { offsetClock } from '../../engine/clock.js';

/** 2026-05-01 04:30 UTC = 10:00 in Asia/Kolkata: a working morning for the demo country. */
export const MORNING = Date.UTC(2026, 4, 1, 4, 30);

/** A clock a test sets and moves. */
export class TestClock {
  constructor(public ms: number) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** The shift that makes the moment this test file loaded read as MORNING; time then runs on. */
export const PROCESS_CLOCK_OFFSET_MS = MORNING - Date.now();

/** The clock of the processes this test file starts. */
export const processClock = offsetClock(PROCESS_CLOCK_OFFSET_MS);

/** The environment that puts a started process on `processClock`. */
export const PROCESS_CLOCK_ENV = { TEEKA_CLOCK_OFFSET_MS: String(PROCESS_CLOCK_OFFSET_MS) };

/**
 * The environment without libfaketime, for the servers a test starts (redis-server, PostgreSQL):
 * `faketime` fakes the Node processes of a run, and redis-server cannot run under it.
 */
export function realTimeEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('FAKETIME') || name === 'DONT_FAKE_MONOTONIC') continue;
    if (name === 'LD_PRELOAD' && value?.includes('faketime')) {
      const others = value.split(/[: ]/).filter((lib) => lib && !lib.includes('faketime'));
      if (others.length) clean[name] = others.join(':');
      continue;
    }
    clean[name] = value;
  }
  return clean;
}
