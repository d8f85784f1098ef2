import type { StatsSample } from './stats.js';

/** What the main thread gives each request thread when it starts it. */
export interface ThreadData {
  index: number;
  port: number;
  /** the shared counters of ConnectionsPerAddress */
  socketsPerAddress: SharedArrayBuffer;
  /** the shared counters of PlaceChanges */
  placeChanges: SharedArrayBuffer;
}

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
