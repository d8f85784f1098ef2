/**
 * Deployment settings, read from the environment. Every setting is documented here with its
 * default; defaults are applied first, then the whole is validated, and an error names the variable
 * and why it is wrong. Country rules (OTP limits, quotas, slots) live in the country file instead.
 */
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

export type Deployment = 'demo' | 'production';

export interface TeekaConfig {
  /** TEEKA_ENV: `demo` (test numbers, demo operator keys, OTPs printed to the log) or `production`. Default demo. */
  env: Deployment;
  /** REDIS_URL. Default redis://127.0.0.1:6379 */
  redisUrl: string;
  /** TEEKA_REDIS_PREFIX: prefix of every key, so deployments can share a Redis. Default `teeka:` */
  redisKeyPrefix: string;
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
   * skip the OTP cooldown and daily count, for load tests. Demo default `9999`; refused in production.
   */
  testMobilePrefix: string | null;
  /** TEEKA_TEST_OTP: the fixed OTP of test numbers. Default 123456 */
  testOtp: string;
  /** TEEKA_CAPTCHA: `on` requires the captcha from /auth/getRecaptcha on schedule. Default off. */
  captchaRequired: boolean;
  /** GATEWAY_THREADS: gateway threads sharing the port. Default: every core. */
  gatewayThreads: number;
  /** TEEKA_ALLOW_UWS_FALLBACK: `1` lets the gateway run on uWS's slow JavaScript fallback. Default refused. */
  allowUwsFallback: boolean;
  /** TEEKA_ADMIN_KEY: the admin's key for /teeka/auth/operator. Demo default `demo-admin-key`; required in production. */
  adminKey: string;
  /** TEEKA_VACCINATOR_KEY: the vaccinators' key. Demo default `demo-vaccinator-key`; required in production. */
  vaccinatorKey: string;
  /** TEEKA_SMS_WEBHOOK: URL that receives `{mobile, otp}` to send by SMS. Required in production. */
  smsWebhook: string | null;
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
}

export class ConfigError extends Error {
  constructor(variable: string, reason: string) {
    super(`${variable}: ${reason}`);
    this.name = 'ConfigError';
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

const DEMO_SECRET = 'teeka-demo-secret-do-not-use-in-production';

/** A whole-number environment variable in [min, max], or `fallback` when unset. */
export function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): TeekaConfig {
  const deployment = env.TEEKA_ENV ?? 'demo';
  if (deployment !== 'demo' && deployment !== 'production') {
    throw new ConfigError('TEEKA_ENV', `expected demo or production, got "${deployment}"`);
  }
  const production = deployment === 'production';
  const root = projectRoot();
  const countryFile = env.TEEKA_COUNTRY ?? join(root, 'masterdata', 'demo-country.json');

  const config: TeekaConfig = {
    env: deployment,
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    redisKeyPrefix: env.TEEKA_REDIS_PREFIX ?? 'teeka:',
    databaseUrl: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    host: env.HOST ?? '0.0.0.0',
    port: integer(env, 'PORT', 8080, 1, 65535),
    countryFile: isAbsolute(countryFile) ? countryFile : resolve(countryFile),
    secret: env.TEEKA_SECRET ?? (production ? '' : DEMO_SECRET),
    testMobilePrefix: env.TEEKA_TEST_MOBILE_PREFIX ?? (production ? null : '9999'),
    testOtp: env.TEEKA_TEST_OTP ?? '123456',
    captchaRequired: flag(env, 'TEEKA_CAPTCHA', false),
    gatewayThreads: integer(env, 'GATEWAY_THREADS', availableParallelism(), 1, 256),
    allowUwsFallback: flag(env, 'TEEKA_ALLOW_UWS_FALLBACK', false),
    adminKey: env.TEEKA_ADMIN_KEY ?? (production ? '' : 'demo-admin-key'),
    vaccinatorKey: env.TEEKA_VACCINATOR_KEY ?? (production ? '' : 'demo-vaccinator-key'),
    smsWebhook: env.TEEKA_SMS_WEBHOOK || null,
    wsMaxPerAddress: integer(env, 'TEEKA_WS_MAX_PER_ADDRESS', 50, 1, 1_000_000),
    wsMaxBufferedBytes: integer(env, 'TEEKA_WS_MAX_BUFFERED_BYTES', 256 * 1024, 1024, 64 * 1024 * 1024),
  };

  if (config.redisKeyPrefix.includes('{') || config.redisKeyPrefix.includes('}')) {
    throw new ConfigError('TEEKA_REDIS_PREFIX', 'must not contain braces: they would change the Redis Cluster slot of every key');
  }
  if (!/^\d+$/.test(config.testOtp)) throw new ConfigError('TEEKA_TEST_OTP', 'must be digits');
  if (config.testMobilePrefix !== null && !/^\d{1,10}$/.test(config.testMobilePrefix)) {
    throw new ConfigError('TEEKA_TEST_MOBILE_PREFIX', 'must be 1 to 10 digits');
  }
  if (production) {
    if (config.secret.length < 32) throw new ConfigError('TEEKA_SECRET', 'production needs a secret of at least 32 characters');
    if (config.secret === DEMO_SECRET) throw new ConfigError('TEEKA_SECRET', 'the demo secret is not allowed in production');
    if (config.testMobilePrefix !== null) throw new ConfigError('TEEKA_TEST_MOBILE_PREFIX', 'test numbers are not allowed in production');
    if (config.adminKey.length < 16) throw new ConfigError('TEEKA_ADMIN_KEY', 'production needs an admin key of at least 16 characters');
    if (config.vaccinatorKey.length < 16) throw new ConfigError('TEEKA_VACCINATOR_KEY', 'production needs a vaccinator key of at least 16 characters');
    if (!config.smsWebhook) throw new ConfigError('TEEKA_SMS_WEBHOOK', 'production needs somewhere to send OTPs');
    if (config.allowUwsFallback) throw new ConfigError('TEEKA_ALLOW_UWS_FALLBACK', 'the slow fallback is not allowed in production');
  }
  return config;
}
