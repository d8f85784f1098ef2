/**
 * Time in tests is an input (design.md, invariant 9): nothing a test checks may depend on the hour,
 * the date or the machine's time zone.
 * - Engine tests get a `TestClock` they set and move (fixtures.ts).
 * - Processes a test starts (gateway, worker, tools) run on the system clock shifted to `MORNING`
 *   by `TEEKA_CLOCK_OFFSET_MS` (engine/clock.ts); the test's own engines use `processClock`, the
 *   same shift, so a test and the processes it talks to agree on "now" and on "today".
 * - "Morning" is the country's: a test of another country (test/support/countries.ts) starts at
 *   10:00 in that country's time zone (`morningIn`, `processClockFor`).
 */
import { spawnSync } from 'node:child_process';
import { offsetClock, type Clock } from '../../engine/clock.js';
import { localInstant } from '../../engine/dates.js';

/** 2026-05-01, a Friday: the working day every test's "now" starts on (an epoch day). */
export const WORKING_DAY = Date.UTC(2026, 4, 1) / 86_400_000;

/**
 * 10:00 on WORKING_DAY in `timeZone`: a working morning wherever the country is, well before its
 * booking cutoff. Asia/Kolkata's is 04:30 UTC; America/Guyana's 14:00 UTC.
 */
export function morningIn(timeZone: string): number {
  return localInstant(WORKING_DAY, 10 * 60, timeZone);
}

/** 2026-05-01 04:30 UTC = 10:00 in Asia/Kolkata: a working morning for the demo country. */
export const MORNING = morningIn('Asia/Kolkata');

/** A clock a test sets and moves. */
export class TestClock {
  constructor(public ms: number) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** When this test file loaded: every process clock of the file shifts from the same moment. */
const LOADED_AT = Date.now();

/** The shift that makes the moment this test file loaded read as the instant `at`; time then runs on. */
export function processClockOffsetAt(at: number): number {
  return at - LOADED_AT;
}

/** The shift that makes the moment this test file loaded read as the morning in `timeZone`; time then runs on. */
export function processClockOffset(timeZone: string): number {
  return processClockOffsetAt(morningIn(timeZone));
}

/** The shift that makes the moment this test file loaded read as MORNING; time then runs on. */
export const PROCESS_CLOCK_OFFSET_MS = MORNING - LOADED_AT;

/**
 * How far this process's wall clock is from the real one: zero, unless a run moves it with
 * libfaketime (test:any-hour, `faketime -f '@2026-12-31 18:35:00' npx vitest run …`). Read once, at
 * load: the faked clock runs at the real rate, so the difference stays.
 */
const FAKED_CLOCK_SKEW_MS = process.env.FAKETIME ? measureFakedClockSkew() : 0;

function measureFakedClockSkew(): number {
  const before = Date.now();
  const real = spawnSync('date', ['+%s%3N'], { env: realTimeEnv(), encoding: 'utf8' });
  const after = Date.now();
  const realMs = Number(real.stdout.trim());
  if (real.status !== 0 || !Number.isFinite(realMs)) throw new Error(`reading the real clock under libfaketime failed: ${real.stderr || real.error}`);
  return Math.round((before + after) / 2 - realMs);
}

/**
 * What keeps a started process (a gateway, a worker, Chromium) on this process's faked clock.
 * libfaketime's "start at" form (`-f '@<instant>'`) starts every process's clock at that instant
 * *when the process starts*: a gateway started 5 s after the test file ran 5 s behind it, and
 * openings timed seconds apart disagreed. As an offset from the real clock, every process of the
 * run reads the same time.
 */
export const SAME_FAKED_CLOCK_ENV: Record<string, string> = process.env.FAKETIME
  ? { FAKETIME: `${FAKED_CLOCK_SKEW_MS >= 0 ? '+' : '-'}${(Math.abs(FAKED_CLOCK_SKEW_MS) / 1000).toFixed(3)}` }
  : {};

/** The clock of the processes this test file starts (for the demo country). */
export const processClock = offsetClock(PROCESS_CLOCK_OFFSET_MS);

/** The environment that puts a started process on `processClock`. */
export const PROCESS_CLOCK_ENV = { TEEKA_CLOCK_OFFSET_MS: String(PROCESS_CLOCK_OFFSET_MS), ...SAME_FAKED_CLOCK_ENV };

/** The clock of processes started for a country in `timeZone`: its working morning. */
export function processClockFor(timeZone: string): Clock {
  return offsetClock(processClockOffset(timeZone));
}

/** The environment that puts a started process on `processClockFor(timeZone)`. */
export function processClockEnvFor(timeZone: string): Record<string, string> {
  return { TEEKA_CLOCK_OFFSET_MS: String(processClockOffset(timeZone)), ...SAME_FAKED_CLOCK_ENV };
}

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
