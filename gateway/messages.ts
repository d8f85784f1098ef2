import type { StatsSample } from './stats.js';

/** Messages between the gateway's main thread and its request threads. */
export type ThreadToMain =
  | { type: 'listening'; port: number }
  | { type: 'metrics'; metrics: object[] }
  | { type: 'stopped' };

export type MainToThread =
  | { type: 'metrics-text'; text: string }
  | { type: 'queue-depth'; depth: unknown }
  | { type: 'stats'; samples: StatsSample[] }
  | { type: 'shutdown' };
