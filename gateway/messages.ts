import type { StatsSample } from './stats.js';

/** What the main thread gives each request thread when it starts it. */
export interface ThreadData {
  index: number;
  port: number;
  /** the shared counters of ConnectionsPerAddress */
  socketsPerAddress: SharedArrayBuffer;
}

/** Messages between the gateway's main thread and its request threads. */
export type ThreadToMain =
  | { type: 'listening'; port: number }
  | { type: 'metrics'; metrics: object[] }
  | { type: 'stopped' }
  /** a place's kept status answers are outdated (a booking under its admission, a join): relayed to every thread */
  | { type: 'queue-place-changed'; sessionId: string; accountId: string };

export type MainToThread =
  | { type: 'metrics-text'; text: string }
  | { type: 'queue-depth'; depth: unknown }
  | { type: 'stats'; samples: StatsSample[] }
  | { type: 'queue-place-changed'; sessionId: string; accountId: string }
  | { type: 'shutdown' };
