/**
 * The benches' profile summary (loadtest/profile-summary.ts) on a V8 CPU profile written for the test:
 * self time per function, the thread's start left out (before its first sample in the uWS adapter),
 * idle time not counted as busy, a time window, and total time with --inclusive.
 */
import { describe, expect, it } from 'vitest';
import { summarizeProfile } from '../../loadtest/profile-summary.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, scriptId: '0', columnNumber: 0 });

// root → (idle); root → startup; root → handler (uws-adapter.js) → parse (validation.js) → zod
const profile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 4] },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('compile', 'file:///x/node_modules/loader.js', 9) },
    { id: 4, callFrame: frame('', 'file:///x/dist/gateway/uws-adapter.js', 110), children: [5] },
    { id: 5, callFrame: frame('parseBody', 'file:///x/dist/gateway/validation.js', 215), children: [6] },
    { id: 6, callFrame: frame('safeParse', 'file:///x/node_modules/zod/schemas.js', 139) },
  ],
  startTime: 0,
  endTime: 10_000_000,
  // one sample a second (µs deltas): 2 s of start, then the handler, parse, zod, idle, zod, handler…
  samples: [3, 3, 4, 5, 6, 2, 6, 4, 2, 2],
  timeDeltas: Array.from({ length: 10 }, () => 1_000_000),
};

describe('profile summary', () => {
  it('ranks self time from the first request on, busy time without idle', () => {
    const summary = summarizeProfile(profile, 'p.cpuprofile', 10);
    expect(summary.startupMs).toBe(2000);
    // samples 2..9 count (the last one takes its own delta); idle: samples 5, 8 and 9
    expect(summary.busyMs).toBe(5000);
    expect(summary.top.map((t) => [t.name, t.ms])).toEqual([
      ['(anonymous) gateway/uws-adapter.js:111', 2000],
      ['safeParse zod/schemas.js:140', 2000],
      ['parseBody gateway/validation.js:216', 1000],
    ]);
    expect(summary.top[0]!.share).toBeCloseTo(0.4);
  });

  it('keeps one window, and adds callees into their callers with inclusive', () => {
    // seconds after the start: sample i is taken at i + 1 s; 4..7 holds samples 3..6 (parse, zod, idle, zod)
    const summary = summarizeProfile(profile, 'p.cpuprofile', 10, { from: 4, to: 7, inclusive: true });
    expect(summary.busyMs).toBe(3000);
    expect(Object.fromEntries(summary.top.map((t) => [t.name, t.ms]))).toEqual({
      '(anonymous) gateway/uws-adapter.js:111': 3000,
      'parseBody gateway/validation.js:216': 3000,
      'safeParse zod/schemas.js:140': 2000,
    });
  });
});
