/**
 * Runs the real gateway (node dist/gateway/main.js, two threads) on a free loopback port with its
 * own Redis key prefix, and gives tests an HTTP client, a citizen login helper and an engine on the
 * same prefix for setting up sessions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { projectRoot } from '../../engine/config.js';
import { BookingEngine } from '../../engine/engine.js';
import { layoutFrom } from '../../engine/config.js';
import { sha256Hex } from '../../engine/ids.js';
import { freePort } from '../../loadtest/bench-processes.js';
import { offsetClock } from '../../engine/clock.js';
import { PROCESS_CLOCK_OFFSET_MS, processClockOffset, processClockOffsetAt, SAME_FAKED_CLOCK_ENV } from './clock.js';
import type { Country } from '../../engine/masterdata.js';
import { testMobileOf, type TestCountry } from './countries.js';
import type { RedisClient } from '../../engine/redis.js';
import { connectTestRedis, deleteKeysWithPrefix, demoCountry, ownRedisServerEnv, TEST_REDIS } from './fixtures.js';
import pg from 'pg';
import { migrate } from '../../worker/migrate.js';

export { freePort };

export interface RunningGateway {
  url: string;
  port: number;
  prefix: string;
  process: ChildProcess;
  /** everything the gateway printed */
  output: () => string;
  engine: BookingEngine;
  redis: RedisClient;
  /** stop the process; its Redis keys are deleted unless `keepData` (another gateway takes over) */
  stop: (options?: { keepData?: boolean }) => Promise<void>;
}

export interface GatewayOptions {
  /** run on this country's file, from its working morning (default: the demo country) */
  country?: TestCountry;
  /** the instant the gateway's clock reads now (default: the country's working morning); time then runs on */
  at?: number;
  /**
   * whether the test's own engine coalesces calls (engine/coalesce.ts). Default true; false makes each
   * of its bookings a script call and an availability entry of its own
   */
  coalesce?: boolean;
}

/** The clock offset that makes "now" read as `at`, else the country's morning, for this test file's processes. */
function clockOffsetFor(options: GatewayOptions): number {
  if (options.at !== undefined) return processClockOffsetAt(options.at);
  return options.country ? processClockOffset(options.country.country.timeZone) : PROCESS_CLOCK_OFFSET_MS;
}

/**
 * A migrated PostgreSQL schema of the test file's own, for gateways whose admin records reach
 * PostgreSQL directly (the partner registry: engine/partners.ts); `TEEKA_PG_SCHEMA` for startGateway.
 */
export async function migratedSchema(name: string): Promise<{ schema: string; drop: () => Promise<void> }> {
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const schema = `${name}_${randomUUID().slice(0, 8)}`;
  await migrate(databaseUrl, schema);
  return {
    schema,
    drop: async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}

export async function startGateway(env: Record<string, string> = {}, options: GatewayOptions = {}): Promise<RunningGateway> {
  // a gateway that takes over from a stopped one may ask for its port (env.PORT)
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const clockOffset = clockOffsetFor(options);
  const prefix = env.TEEKA_REDIS_PREFIX ?? `gwtest:${randomUUID().slice(0, 8)}:`;
  const child = spawn(process.execPath, [join(projectRoot(), 'dist', 'gateway', 'main.js')], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      TEEKA_REDIS_PREFIX: prefix,
      GATEWAY_THREADS: '2',
      TEEKA_ENV: 'demo',
      // a schema no one migrates: these gateways have no system of record to compare their fresh
      // prefix with (whatever the machine's own deployment keeps in `public`); test/worker covers that
      TEEKA_PG_SCHEMA: 'gateway_tests_no_record',
      TEEKA_CLOCK_OFFSET_MS: String(clockOffset),
      ...SAME_FAKED_CLOCK_ENV,
      ...(options.country ? { TEEKA_COUNTRY: options.country.file } : {}),
      // a REDIS_URL given here is a redis-server of the test's own, even when the tests run on a cluster
      ...(env.REDIS_URL ? ownRedisServerEnv(env.REDIS_URL) : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  // generous: on a busy 2-core machine (CI beside other suites) a gateway on a cluster takes 15 s
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}:\n${output}`);
    try {
      // the first thread answers as soon as it listens; the others start after it
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (response.status === 200 && /teeka gateway: .* listening on/.test(output)) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not become healthy:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const redis = connectTestRedis(prefix);
  // the test's own engine on the same prefix, country and clock as the gateway
  const engine = new BookingEngine(redis, {
    country: options.country?.country ?? demoCountry(),
    secret: 'teeka-demo-secret-do-not-use-in-production',
    clock: offsetClock(clockOffset),
    coalesce: options.coalesce ?? true,
    // the layout the gateway reads from the environment (TEEKA_LAYOUT: npm run test:partitioned)
    layout: layoutFrom({ ...process.env, ...env }),
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    prefix,
    process: child,
    output: () => output,
    engine,
    redis,
    stop: async ({ keepData = false } = {}) => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      redis.disconnect();
      if (!keepData) await deleteKeysWithPrefix(TEST_REDIS, prefix);
    },
  };
}

/** A small client for the CoWIN API of one gateway. */
export class CowinClient {
  token = '';
  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers; text: string }> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: response.status, json, headers: response.headers, text };
  }

  get(path: string, headers?: Record<string, string>) {
    return this.call('GET', path, undefined, headers);
  }

  post(path: string, body: unknown, headers?: Record<string, string>) {
    return this.call('POST', path, body, headers);
  }

  /** Log in with a test number (OTP 123456) through the CoWIN app endpoints. */
  async login(mobile: string): Promise<this> {
    const otp = await this.post('/api/v2/auth/generateMobileOTP', { mobile, secret: 'U2FsdGVkX1+z/4Nr9nta+2DrVJSv7KS6VoQUSQ1ZXYDx/CJUkWxFYG6P3iM/VW+6jLQOfo+sGAXXnBMqRyPrrA==' });
    if (otp.status !== 200) throw new Error(`generateMobileOTP: ${otp.status} ${otp.text}`);
    const confirmed = await this.post('/api/v2/auth/validateMobileOtp', { otp: sha256Hex('123456'), txnId: otp.json.txnId });
    if (confirmed.status !== 200) throw new Error(`validateMobileOtp: ${confirmed.status} ${confirmed.text}`);
    this.token = confirmed.json.token;
    return this;
  }

  /** Register a beneficiary with a photo ID number of type `photoIdType` (default 1: the demo's Aadhaar, Guyana's national ID). */
  async addBeneficiary(name: string, birthYear: number, photoId: string, photoIdType = 1): Promise<string> {
    const response = await this.post('/api/v2/registration/beneficiary/new', {
      name,
      birth_year: String(birthYear),
      gender_id: 1,
      photo_id_type: photoIdType,
      photo_id_number: photoId,
      comorbidity_ind: 'N',
      consent_version: 'V1',
    });
    if (response.status !== 200) throw new Error(`beneficiary/new: ${response.status} ${response.text}`);
    return response.json.beneficiary_reference_id;
  }
}

/**
 * POST JSON from a chosen loopback address (127.0.0.2, …: Linux answers for all of 127/8), so a
 * test can be several clients to the gateway's per-address limits. fetch cannot pick its source
 * address; node:http can.
 */
export function postFrom(
  localAddress: string,
  url: string,
  body: unknown,
): Promise<{ status: number; json: any; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const request = http.request(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, json: text ? JSON.parse(text) : null, headers: response.headers }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}

/**
 * A stand-in for the operator's SMS provider (TEEKA_SMS_WEBHOOK): a real HTTP server on loopback
 * that keeps every `{mobile, otp}` the gateway posts, as a phone would receive them.
 */
export async function startSmsProvider(): Promise<{ url: string; sent: { mobile: string; otp: string }[]; stop: () => Promise<void> }> {
  const sent: { mobile: string; otp: string }[] = [];
  const server = http.createServer((request, response) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (text += chunk));
    request.on('end', () => {
      sent.push(JSON.parse(text) as { mobile: string; otp: string });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/sms`, sent, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

let mobileSeq = 0;
/**
 * A fresh test number per call: the demo's (9999…, distinct across test files by process id), or
 * `country`'s (its demo.test_mobile_prefix, e.g. Guyana's 699…; its gateway's prefix keeps it apart).
 */
export function testMobile(country?: Country): string {
  mobileSeq += 1;
  if (country) return testMobileOf(country, mobileSeq);
  return `9999${String(process.pid % 100).padStart(2, '0')}${String(mobileSeq).padStart(4, '0')}`;
}

let photoSeq = 0;
/** A fresh Aadhaar-shaped photo ID number (12 digits, type 1 of the demo country) per call. */
export function testPhotoId(): string {
  photoSeq += 1;
  return `${String(process.pid % 10_000_000).padStart(7, '0')}${String(photoSeq).padStart(5, '0')}`;
}

/**
 * One request on a connection of its own (no keep-alive pool): the kernel spreads new connections
 * over the gateway's threads, so a burst of these reaches every thread.
 */
export function requestOnNewConnection(
  method: 'GET' | 'POST',
  url: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string>; localAddress?: string } = {},
): Promise<{ status: number; json: any; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string | number> = { ...options.headers, connection: 'close' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    const request = http.request(url, { method, agent: false, headers, localAddress: options.localAddress }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, json: text ? JSON.parse(text) : null, headers: response.headers }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}
