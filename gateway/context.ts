/** What every route module gets: the engine and the thread's shared parts. */
import type { TeekaConfig } from '../engine/config.js';
import type { BookingEngine } from '../engine/engine.js';
import type { Country } from '../engine/masterdata.js';
import type { Operators } from '../engine/operators.js';
import type { Certificates } from '../engine/certificates.js';
import type pg from 'pg';
import type { Authenticator } from './auth.js';
import type { AvailabilityBook } from './availability.js';
import type { GatewayMetrics } from './metrics.js';
import type { OtpSender } from './otp-sender.js';
import type { PartnerGate } from './partner-gate.js';
import type { AccessWatch } from './access-log.js';
import type { Partners } from '../engine/partners.js';
import type { QueueRoom } from './queue-room.js';
import type { QuotaGate } from './quota-gate.js';
import type { RevocationBook } from './revocations.js';
import type { SessionSearch } from './search.js';
import type { StatsSample } from './stats.js';
import type { BodySchemas } from './validation.js';

export interface HealthReport {
  redis: 'ok' | string;
  postgres: 'ok' | string;
}

export interface GatewayContext {
  config: TeekaConfig;
  country: Country;
  engine: BookingEngine;
  /** vaccinators and admins: credentials, login sessions */
  operators: Operators;
  /** the partner registry: partners, their API keys, their limits (an admin's side) */
  partnerRegistry: Partners;
  /** calls carrying a partner's API key: its scopes and limits, the keys this thread verified */
  partners: PartnerGate;
  /** the access log's watch on operators and partners reading too many people */
  accessWatch: AccessWatch;
  /** vaccination certificates issued, revoked, and what verifiers download */
  certificates: Certificates;
  /** PostgreSQL, the system of record, for the few reads Redis has no index for (a centre's day) */
  database: pg.Pool;
  book: AvailabilityBook;
  /** the logins this thread knows have ended */
  revocations: RevocationBook;
  /** the search quota and the public limit, with the blocks they answered kept in memory */
  quotas: QuotaGate;
  search: SessionSearch;
  /** fair admission: the admission ticker, the citizens' queue pushes, the openings' numbers */
  queueRoom: QueueRoom;
  metrics: GatewayMetrics;
  auth: Authenticator;
  schemas: BodySchemas;
  sendOtp: OtpSender;
  health: () => Promise<HealthReport>;
  /** the whole gateway's metrics in Prometheus text, as last aggregated by the main thread */
  metricsText: () => string;
  /** the operator's view of persistence (queue depth) the worker last published, null while unknown */
  queueDepth: () => unknown;
  /** the last five minutes of per-second operator numbers (see stats.ts) */
  stats: () => StatsSample[];
}
