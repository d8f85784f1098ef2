/**
 * Deployment settings, read from the environment. Every setting is documented here with its
 * default; defaults are applied first, then the whole is validated, and an error names the variable
 * and why it is wrong. Country rules (OTP limits, quotas, slots) live in the country file instead.
 */
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { KeyRing, KeyRingError } from './certificate-keys.js';
import { offsetClock, type Clock } from './clock.js';
import type { DurabilityOptions } from './durability.js';
import type { Country } from './masterdata.js';
import { DEFAULT_PARTITION_COUNT, MAX_PARTITION_COUNT } from './partitions.js';
import { LAYOUTS, type Layout } from './keys.js';
import { parseClusterNodes, type RedisAddress } from './redis.js';

export type Deployment = 'demo' | 'production';

export interface TeekaConfig {
  /** TEEKA_ENV: `demo` (test numbers, the demo admin key, OTPs printed to the log) or `production`. Default demo. */
  env: Deployment;
  /**
   * Where Redis is. REDIS_URL: one server, default redis://127.0.0.1:6379. REDIS_CLUSTER:
   * `host:port,host:port,…`, seed nodes of a Redis Cluster (or Valkey cluster), which every process
   * then uses through ioredis's Cluster client; not together with REDIS_URL. Default unset.
   */
  redis: RedisAddress;
  /** TEEKA_REDIS_PREFIX: prefix of every key, so deployments can share a Redis. Default `teeka:` */
  redisKeyPrefix: string;
  /**
   * TEEKA_PARTITIONS: the number of virtual partitions per-account records are spread over
   * (engine/partitions.ts). More spread better over Redis Cluster masters and allow more of them (a
   * partition never splits); each gateway thread follows one revocation stream and one availability
   * stream per partition (on a cluster, a connection per slot for each), and the worker drains one
   * outbox stream per partition. It must not change while Redis holds the deployment's data: a
   * process configured for another count than Redis was laid out for refuses to start
   * (worker/deployment.ts), and `npm run rebuild` lays Redis out again for a new count. Default 16.
   */
  partitions: number;
  /**
   * TEEKA_LAYOUT: where the booking core keeps its records (engine/keys.ts `Layout`): `single`, every
   * booking record in one Redis slot (`{bk}`), each booking one script; `partitioned`, sessions and
   * accounts spread over the partitions, each booking a few one-slot steps that survive any crash
   * (engine/partitioned-booking.md), so booking capacity grows with a cluster's masters. It must
   * not change while Redis holds the deployment's data (worker/deployment.ts refuses). Default single.
   */
  layout: Layout;
  /** DATABASE_URL. Default postgres://postgres@127.0.0.1:5432/postgres */
  databaseUrl: string;
  /** HOST to listen on. Default 0.0.0.0 */
  host: string;
  /** PORT to listen on. Default 8080 */
  port: number;
  /** TEEKA_COUNTRY: path of the country file. Default masterdata/demo-country.json */
  countryFile: string;
  /** TEEKA_SECRET: signs tokens and keys the mobile and photo-ID hashes. Required in production (32+ chars). */
  secret: string;
  /**
   * TEEKA_TEST_MOBILE_PREFIX: mobiles starting with it are test numbers that accept TEEKA_TEST_OTP,
   * skip every OTP limit but an account block (cooldown, per mobile and address, per address, per
   * country: they send no SMS), for load tests. Refused in production. null when unset: a demo then
   * takes the country file's `demo.test_mobile_prefix` (India's demo `9999`, Guyana's `699`); see
   * `testMobilesOf`, which every process asks.
   */
  testMobilePrefix: string | null;
  /** TEEKA_TEST_OTP: the fixed OTP of test numbers. Default 123456 */
  testOtp: string;
  /**
   * TEEKA_TEST_SECURITY_CODE: 4 digits every booking of a test number gets as its security code
   * (a load test can then vaccinate without reading slips). Default unset (random codes, and no
   * extra Redis read per booking); refused in production.
   */
  testSecurityCode: string | null;
  /**
   * TEEKA_SECURITY_CODE_MAX_WRONG: wrong security codes a vaccinator may enter for one appointment
   * before it is locked. Default 5: one in 2,000 for someone guessing, and room for typos.
   */
  securityCodeMaxWrong: number;
  /**
   * TEEKA_CERT_KEYS: path of the certificate issuer's key ring (engine/certificate-keys.ts; written by
   * `npm run certificate-keys`). Required in production; a demo without it derives one from TEEKA_SECRET.
   */
  certKeysFile: string | null;
  /**
   * TEEKA_CERT_ISSUER: the issuer URL certificates name (`iss`): where /.well-known/jwks.json and the
   * revocation lists are served. Production: an https URL without a trailing slash (SMART Health
   * Cards). Demo default: http://<HOST, or localhost for 0.0.0.0>:<PORT>.
   */
  certIssuer: string;
  /** TEEKA_CAPTCHA: `on` requires the captcha from /auth/getRecaptcha on schedule. Default off. */
  captchaRequired: boolean;
  /** GATEWAY_THREADS: gateway threads sharing the port. Default: every core. */
  gatewayThreads: number;
  /** TEEKA_ALLOW_UWS_FALLBACK: `1` lets the gateway run on uWS's slow JavaScript fallback. Default refused. */
  allowUwsFallback: boolean;
  /**
   * TEEKA_ADMIN_KEY: the deployment's admin key for /teeka/auth/operator, the way in for the first
   * admin (who then issues every other operator their own credentials). Demo default
   * `demo-admin-key`; required in production. Vaccinators have no shared key.
   */
  adminKey: string;
  /** TEEKA_SMS_WEBHOOK: URL that receives `{mobile, otp}` to send by SMS. Required in production. */
  smsWebhook: string | null;
  /**
   * TEEKA_CLOCK_OFFSET_MS: shifts the engine's clock by this many ms (see clock.ts), so a demo or a
   * test can run at a chosen hour of a chosen day. Default 0; refused in production.
   */
  clockOffsetMs: number;
  /** the engine's clock: the system clock shifted by `clockOffsetMs` */
  clock: Clock;
  /**
   * TEEKA_CORS_ORIGINS: comma-separated origins (`https://app.example.org`) whose pages may call the
   * protected API (logins, a citizen's data, bookings) from a browser. Default none. The public
   * reads (locations, public session search) answer every origin whatever this says.
   */
  corsOrigins: string[];
  /**
   * TEEKA_WS_MAX_PER_ADDRESS: open availability WebSockets one client address may hold on one
   * gateway process (all its threads); more are refused with 429. Default 50: carrier-grade NAT
   * puts many citizens behind one address, and one attacker's address still holds only a bounded
   * share.
   */
  wsMaxPerAddress: number;
  /**
   * TEEKA_WS_MAX_BUFFERED_BYTES: a WebSocket whose unsent messages pass this many bytes is closed
   * (its client reads too slowly or not at all) instead of being buffered for. Default 262144 (256 KiB).
   */
  wsMaxBufferedBytes: number;
  /**
   * TEEKA_WAIT_REPLICAS, TEEKA_WAIT_TIMEOUT_MS: an acknowledged booking-domain change (book, cancel,
   * reschedule, vaccinate, beneficiaries, sessions) is first held by this many Redis replicas, waited
   * for at most this long (engine/durability.ts; README "Durability"). Default 0 replicas: acknowledged
   * once the master applied it; 1 survives the loss of the master. Timeout default 1000 ms.
   */
  durability: DurabilityOptions;
  /**
   * TEEKA_COALESCE: coalesce requests for one partition in one event-loop turn into one script call
   * (engine/coalesce.ts). Default on; off sends each on its own, to measure what it saves.
   */
  coalesce: boolean;
  /** the access log and its watch for an operator or partner reading too many people (gateway/access-log.ts) */
  accessLog: AccessLogOptions;
}

export interface AccessLogOptions {
  /**
   * TEEKA_ACCESS_LOG: every read or change of personal data appends an entry (engine/access-log.ts).
   * Default on; off only to measure what it costs (loadtest), never in production.
   */
  enabled: boolean;
  /** TEEKA_ACCESS_WINDOW_MS: the window in which distinct people read are counted per operator or partner. Default 3600000 (1 h) */
  windowMs: number;
  /**
   * TEEKA_ACCESS_FLAG_VACCINATOR, TEEKA_ACCESS_FLAG_ADMIN, TEEKA_ACCESS_FLAG_PARTNER: more distinct
   * people than this in one window flags the reader (metrics, dashboard). A vaccinator's own
   * centres' appointments of the day are its work and not counted; the records it reaches for
   * outside them (refused) are. Defaults 50 (a few mistyped ids a day are normal), 1000, 5000.
   */
  flagAbove: { vaccinator: number; admin: number; partner: number };
  /** TEEKA_ACCESS_SUSPEND: a flagged operator is revoked, a flagged partner suspended, at once. Default off */
  suspendFlagged: boolean;
}

/** A wrong setting: names the variable and says why. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/** Every wrong setting at once, so an operator fixes them in one go rather than one per start. */
export class ConfigErrors extends Error {
  constructor(readonly problems: ConfigError[]) {
    super(`${problems.length} configuration problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`);
    this.name = 'ConfigErrors';
  }
}

/** The repository root (where package.json is), whether running from source or dist/. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'lua'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * REDIS_URL or REDIS_CLUSTER (an empty one counts as unset, so a child process can be pointed back
 * at one server). Both at once is refused rather than one silently winning.
 */
export function redisAddressFrom(env: NodeJS.ProcessEnv): RedisAddress {
  const url = env.REDIS_URL || DEFAULT_REDIS_URL;
  if (!env.REDIS_CLUSTER) return { url };
  const nodes = parseClusterNodes(env.REDIS_CLUSTER);
  if (typeof nodes === 'string') throw new ConfigError('REDIS_CLUSTER', nodes);
  if (url !== DEFAULT_REDIS_URL) {
    throw new ConfigError('REDIS_CLUSTER', `set together with REDIS_URL (${url}): set one of them, REDIS_CLUSTER for a Redis Cluster or REDIS_URL for one server`);
  }
  return { cluster: nodes };
}

const DEMO_SECRET = 'teeka-demo-secret-do-not-use-in-production';

/** A whole-number environment variable in [min, max], or `fallback` when unset. */
export function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  // decimal digits only: Number() would also take "0x50", "1e3" and " 80 "
  const value = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'on', 'true', 'yes'].includes(raw.toLowerCase())) return true;
  if (['0', 'off', 'false', 'no'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `expected on/off, got "${raw}"`);
}

/** TEEKA_LAYOUT, or `single` when unset. */
export function layoutFrom(env: NodeJS.ProcessEnv): Layout {
  const raw = env.TEEKA_LAYOUT;
  if (raw === undefined || raw === '') return 'single';
  if (!(LAYOUTS as readonly string[]).includes(raw)) throw new ConfigError('TEEKA_LAYOUT', `expected ${LAYOUTS.join(' or ')}, got "${raw}"`);
  return raw as Layout;
}

const DEMO_ADMIN_KEY = 'demo-admin-key';

/**
 * Why a production secret or key is too weak to trust, or null. Length alone let 40 spaces through:
 * count distinct characters too, and refuse surrounding white space (a copy-paste accident).
 */
function weakSecretReason(value: string, minLength: number): string | null {
  if (value.length < minLength) return `production needs at least ${minLength} characters`;
  if (value.trim() !== value) return 'must not start or end with white space';
  if (new Set(value).size < 8) return 'too little variety (fewer than 8 distinct characters): generate one, e.g. `openssl rand -base64 32`';
  return null;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): TeekaConfig {
  const problems: ConfigError[] = [];
  const problem = (variable: string, reason: string) => problems.push(new ConfigError(variable, reason));
  /** read one setting; a wrong one is recorded and its fallback used, so every problem is found */
  const read = <T>(fallback: T, parse: () => T): T => {
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(err);
      return fallback;
    }
  };

  let deployment = env.TEEKA_ENV ?? 'demo';
  if (deployment !== 'demo' && deployment !== 'production') {
    problem('TEEKA_ENV', `expected demo or production, got "${deployment}"`);
    deployment = 'production'; // judge the rest by the stricter rules
  }
  const production = deployment === 'production';
  const root = projectRoot();
  const countryFile = env.TEEKA_COUNTRY ?? join(root, 'masterdata', 'demo-country.json');
  const clockOffsetMs = read(0, () => integer(env, 'TEEKA_CLOCK_OFFSET_MS', 0, -(2 ** 50), 2 ** 50));

  const config: TeekaConfig = {
    env: deployment as Deployment,
    redis: read<RedisAddress>({ url: DEFAULT_REDIS_URL }, () => redisAddressFrom(env)),
    redisKeyPrefix: env.TEEKA_REDIS_PREFIX ?? 'teeka:',
    partitions: read(DEFAULT_PARTITION_COUNT, () => integer(env, 'TEEKA_PARTITIONS', DEFAULT_PARTITION_COUNT, 1, MAX_PARTITION_COUNT)),
    layout: read<Layout>('single', () => layoutFrom(env)),
    databaseUrl: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    host: env.HOST ?? '0.0.0.0',
    port: read(8080, () => integer(env, 'PORT', 8080, 1, 65535)),
    countryFile: isAbsolute(countryFile) ? countryFile : resolve(countryFile),
    secret: env.TEEKA_SECRET ?? (production ? '' : DEMO_SECRET),
    testMobilePrefix: env.TEEKA_TEST_MOBILE_PREFIX || null,
    testOtp: env.TEEKA_TEST_OTP ?? '123456',
    testSecurityCode: env.TEEKA_TEST_SECURITY_CODE || null,
    securityCodeMaxWrong: read(5, () => integer(env, 'TEEKA_SECURITY_CODE_MAX_WRONG', 5, 1, 100)),
    captchaRequired: read(false, () => flag(env, 'TEEKA_CAPTCHA', false)),
    gatewayThreads: read(1, () => integer(env, 'GATEWAY_THREADS', availableParallelism(), 1, 256)),
    allowUwsFallback: read(false, () => flag(env, 'TEEKA_ALLOW_UWS_FALLBACK', false)),
    adminKey: env.TEEKA_ADMIN_KEY ?? (production ? '' : DEMO_ADMIN_KEY),
    smsWebhook: env.TEEKA_SMS_WEBHOOK || null,
    certKeysFile: env.TEEKA_CERT_KEYS ? resolve(env.TEEKA_CERT_KEYS) : null,
    certIssuer: '',
    wsMaxPerAddress: read(50, () => integer(env, 'TEEKA_WS_MAX_PER_ADDRESS', 50, 1, 1_000_000)),
    wsMaxBufferedBytes: read(256 * 1024, () => integer(env, 'TEEKA_WS_MAX_BUFFERED_BYTES', 256 * 1024, 1024, 64 * 1024 * 1024)),
    durability: {
      replicas: read(0, () => integer(env, 'TEEKA_WAIT_REPLICAS', 0, 0, 16)),
      timeoutMs: read(1000, () => integer(env, 'TEEKA_WAIT_TIMEOUT_MS', 1000, 1, 60_000)),
    },
    coalesce: read(true, () => flag(env, 'TEEKA_COALESCE', true)),
    accessLog: {
      enabled: read(true, () => flag(env, 'TEEKA_ACCESS_LOG', true)),
      windowMs: read(3_600_000, () => integer(env, 'TEEKA_ACCESS_WINDOW_MS', 3_600_000, 1000, 7 * 86_400_000)),
      flagAbove: {
        vaccinator: read(50, () => integer(env, 'TEEKA_ACCESS_FLAG_VACCINATOR', 50, 1, 100_000_000)),
        admin: read(1000, () => integer(env, 'TEEKA_ACCESS_FLAG_ADMIN', 1000, 1, 100_000_000)),
        partner: read(5000, () => integer(env, 'TEEKA_ACCESS_FLAG_PARTNER', 5000, 1, 100_000_000)),
      },
      suspendFlagged: read(false, () => flag(env, 'TEEKA_ACCESS_SUSPEND', false)),
    },
    clockOffsetMs,
    clock: offsetClock(clockOffsetMs),
    corsOrigins: (env.TEEKA_CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean),
  };

  config.certIssuer = env.TEEKA_CERT_ISSUER ?? `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${config.port}`;
  if (!/^https?:\/\/[^\s/?#]+(\/[^\s?#]*[^\s?#/])?$/.test(config.certIssuer)) {
    problem('TEEKA_CERT_ISSUER', 'expected an http(s) URL without a trailing slash, query or fragment');
  }
  if (config.certKeysFile !== null) {
    try {
      KeyRing.fromFile(config.certKeysFile); // read again by each process that signs; refused here at once
    } catch (err) {
      if (!(err instanceof KeyRingError)) throw err;
      problem('TEEKA_CERT_KEYS', err.message);
    }
  }
  if (config.redisKeyPrefix.includes('{') || config.redisKeyPrefix.includes('}')) {
    problem('TEEKA_REDIS_PREFIX', 'must not contain braces: they would change the Redis Cluster slot of every key');
  }
  if (!/^\d+$/.test(config.testOtp)) problem('TEEKA_TEST_OTP', 'must be digits');
  for (const origin of config.corsOrigins) {
    // an origin is scheme://host[:port], exactly as browsers send it: no path, no wildcard
    if (!/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i.test(origin)) problem('TEEKA_CORS_ORIGINS', `"${origin}" is not an origin like https://app.example.org`);
  }
  if (config.testSecurityCode !== null && !/^\d{4}$/.test(config.testSecurityCode)) problem('TEEKA_TEST_SECURITY_CODE', 'must be 4 digits');
  if (config.testMobilePrefix !== null && !/^\d{1,10}$/.test(config.testMobilePrefix)) {
    problem('TEEKA_TEST_MOBILE_PREFIX', 'must be 1 to 10 digits');
  }
  if (env.TEEKA_VACCINATOR_KEY !== undefined) {
    problem('TEEKA_VACCINATOR_KEY', 'vaccinators no longer share a key: an admin issues each their own credentials (POST /teeka/admin/operators)');
  }
  if (production) {
    const weakSecret = weakSecretReason(config.secret, 32);
    if (config.secret === DEMO_SECRET) problem('TEEKA_SECRET', 'the demo secret is not allowed in production');
    else if (weakSecret) problem('TEEKA_SECRET', weakSecret);
    const weakAdminKey = weakSecretReason(config.adminKey, 16);
    if (config.adminKey === DEMO_ADMIN_KEY) problem('TEEKA_ADMIN_KEY', 'the demo key is not allowed in production');
    else if (weakAdminKey) problem('TEEKA_ADMIN_KEY', weakAdminKey);
    if (config.testMobilePrefix !== null) problem('TEEKA_TEST_MOBILE_PREFIX', 'test numbers are not allowed in production');
    if (config.testSecurityCode !== null) problem('TEEKA_TEST_SECURITY_CODE', 'a fixed security code is for demos and load tests, not production');
    if (!config.smsWebhook) problem('TEEKA_SMS_WEBHOOK', 'production needs somewhere to send OTPs');
    if (config.allowUwsFallback) problem('TEEKA_ALLOW_UWS_FALLBACK', 'the slow fallback is not allowed in production');
    if (config.clockOffsetMs !== 0) problem('TEEKA_CLOCK_OFFSET_MS', 'a shifted clock is for demos and tests, not production');
    if (config.certKeysFile === null) problem('TEEKA_CERT_KEYS', 'production signs certificates with its own keys: create them with `npm run certificate-keys -- init FILE`');
    if (!config.certIssuer.startsWith('https://')) problem('TEEKA_CERT_ISSUER', 'production certificates name an https issuer URL (SMART Health Cards)');
  }
  if (problems.length) throw new ConfigErrors(problems);
  return config;
}

/**
 * The test numbers of a deployment: TEEKA_TEST_MOBILE_PREFIX, else in a demo the country file's
 * `demo.test_mobile_prefix`; none in production (loadConfig refuses the variable there). A prefix no
 * mobile number of the country starts with (India's 9999 for Guyana's 7-digit numbers starting
 * with 6) is a ConfigError: the demo's login hint would name numbers the login refuses.
 */
export function testMobilesOf(config: TeekaConfig, country: Country): { prefix: string; otp: string; securityCode: string | null } | null {
  if (config.env === 'production') return null;
  const prefix = config.testMobilePrefix ?? country.data.demo?.test_mobile_prefix ?? null;
  if (prefix === null) return null;
  if (!country.mobile.acceptsPrefix(prefix)) {
    throw new ConfigError(
      config.testMobilePrefix !== null ? 'TEEKA_TEST_MOBILE_PREFIX' : 'demo.test_mobile_prefix',
      `no mobile number of ${country.data.country.name} (${country.mobile.format}) starts with ${prefix}`,
    );
  }
  return { prefix, otp: config.testOtp, securityCode: config.testSecurityCode };
}

/**
 * Settings that work but weaken a promise, said once at start (the gateway and the worker print
 * them). The partitioned layout on a Redis Cluster without TEEKA_WAIT_REPLICAS: a booking's seats and
 * its appointment are written on different masters, and a failover may keep one and lose the
 * other (engine/partitioned-booking.md, "Crash points"; measured in test/faults/cluster-failover.test.ts).
 */
export function configWarnings(config: TeekaConfig): string[] {
  const warnings: string[] = [];
  if (config.layout === 'partitioned' && config.redis.cluster && config.durability.replicas === 0) {
    warnings.push(
      'TEEKA_LAYOUT=partitioned on a Redis Cluster with TEEKA_WAIT_REPLICAS=0: a failover can keep a booking\'s seats and lose ' +
        'its appointment, or the reverse (seats sold twice, or held for no one, until `npm run rebuild`). Set TEEKA_WAIT_REPLICAS=1.',
    );
  }
  return warnings;
}

/**
 * Settings for a process's entry point: a wrong setting prints every problem plainly (no stack
 * trace: nothing is wrong with the code) and exits 2.
 */
export function settingsOrExit<T>(processName: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigErrors) && !(err instanceof ConfigError)) throw err;
    console.error(`${processName}: ${err.message}`);
    process.exit(2);
  }
}

/** The certificate issuer of a deployment: its key ring (the file, or the demo ring) and issuer URL. */
export function certificateIssuerOf(config: TeekaConfig): { ring: KeyRing; issuer: string } {
  return { ring: config.certKeysFile ? KeyRing.fromFile(config.certKeysFile) : KeyRing.demo(config.secret), issuer: config.certIssuer };
}
