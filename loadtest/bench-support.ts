/** Small helpers shared by the benchmarks: concurrency pool, medians, markdown tables, beneficiary pools, logged-in citizens. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisClient } from '../engine/redis.js';
import type { TeekaConfig } from '../engine/config.js';
import type { BookingEngine } from '../engine/engine.js';
import { sha256Hex } from '../engine/ids.js';
import { beneficiaryField, encodeBeneficiary } from '../engine/records.js';
import { keys } from '../engine/keys.js';
import { loadCountry, parseCountry, type Country, type Rules } from '../engine/masterdata.js';
import { signToken } from '../engine/tokens.js';

export { deleteKeysWithPrefix } from '../engine/redis.js';

/** Run `task(i)` for i in [0, total) with at most `concurrency` in flight. */
export async function runWithConcurrency(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < total) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
}

export function median(values: number[]): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The `p`th percentile (0–100) of values sorted ascending (nearest rank); NaN for none. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A markdown table. */
export function formatTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A beneficiary as addBeneficiary stores it, under an id we choose (redis-benchmark needs 12-digit ids). */
function beneficiaryJson(id: string): string {
  return encodeBeneficiary({
    name: 'Bench Citizen', birth_year: 1985, gender_id: 1, photo_id_type: 1, photo_id_last4: '0000',
    photo_id_hash: id, comorbidity: 'N', consent_version: 'V1', id, version: 1, registered_at: 0, vaccine: '',
    dose1: 0, dose2: 0, dose3: 0, appt1: '', appt2: '', appt3: '', appt1_day: 0, appt2_day: 0, appt3_day: 0,
  });
}

/**
 * One account holding `count` beneficiaries with ids 000000000000, 000000000001, … — the form of
 * redis-benchmark's `__rand_int__`, so it can book a random one of them per call. Ids start at
 * `first` (for several accounts whose beneficiaries must not share ids).
 */
export async function createBeneficiaryPool(redis: RedisClient, accountId: string, count: number, first = 0): Promise<string[]> {
  const ids: string[] = [];
  for (let i = first; i < first + count; i += 5000) {
    const pipeline = redis.pipeline();
    for (let j = i; j < Math.min(i + 5000, first + count); j++) {
      const id = String(j).padStart(12, '0');
      ids.push(id);
      pipeline.hset(keys.account(accountId), beneficiaryField(id), beneficiaryJson(id));
    }
    await pipeline.exec();
  }
  return ids;
}

/** Benchmarks send traffic to loopback only: refuse to run against Redis or PostgreSQL elsewhere. */
export function requireLoopbackServices(config: TeekaConfig): void {
  const redisHosts = config.redis.cluster ? config.redis.cluster.map((n) => n.host) : [new URL(config.redis.url).hostname];
  for (const host of [...redisHosts, new URL(config.databaseUrl).hostname]) {
    if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) throw new Error(`benchmarks only run against loopback services, not ${host}`);
  }
}

/**
 * The one Redis server a benchmark measures directly (redis-benchmark beside the gateway, INFO
 * commandstats). On a Redis Cluster those figures are per master, which the benchmarks do not
 * gather yet: they refuse REDIS_CLUSTER rather than report one master's share as the whole.
 */
export function benchedRedisServer(config: TeekaConfig, bench: string): { url: string; host: string; port: string } {
  if (config.redis.cluster) {
    console.error(`${bench}: measures one Redis server (redis-benchmark, INFO commandstats); run it with REDIS_URL, not REDIS_CLUSTER`);
    process.exit(2);
  }
  const url = new URL(config.redis.url);
  return { url: config.redis.url, host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || '6379' };
}

/**
 * The configured country with its quotas raised (plus `rules`), so throughput scenarios measure the
 * success path; written to `runDir` for the processes the bench starts.
 */
export function writeBenchCountry(countryFile: string, runDir: string, rules: Partial<Rules> = {}): { country: Country; path: string } {
  const demo = loadCountry(countryFile).data;
  const raw = {
    ...demo,
    rules: {
      ...demo.rules,
      search_quota: { ...demo.rules.search_quota, max_per_window: 1_000_000_000, max_per_day: 1_000_000_000 },
      public_rate_limit: { ...demo.rules.public_rate_limit, max_calls: 1_000_000_000 },
      ...rules,
    },
  };
  const path = join(runDir, 'bench-country.json');
  writeFileSync(path, JSON.stringify(raw));
  return { country: parseCountry(raw), path };
}

export interface Citizen {
  accountId: string;
  /** a bearer token for the gateway, as validateMobileOtp would answer */
  token: string;
  beneficiaryIds: string[];
}

/**
 * Log in `accounts` test numbers (`mobileOf(i)`: a test number, so the fixed OTP and no SMS limits)
 * and give account i `beneficiariesOf(i)` beneficiaries, through the engine, as the API would: the
 * registrations go through the outbox like any other. `photoIdOf(i, b)` must be unique in the run.
 */
export async function loggedInCitizens(
  engine: BookingEngine,
  secret: string,
  testOtp: string,
  options: { accounts: number; mobileOf: (i: number) => string; beneficiariesOf: (i: number) => number; photoIdOf: (i: number, b: number) => string },
): Promise<Citizen[]> {
  const list: Citizen[] = new Array(options.accounts);
  await runWithConcurrency(options.accounts, 200, async (i) => {
    const mobile = options.mobileOf(i);
    const issued = await engine.issueOtp(mobile, '127.0.0.1');
    if (!issued.ok) throw new Error(`issueOtp ${mobile}: ${issued.status}`);
    const login = await engine.verifyOtp(issued.txnId, sha256Hex(testOtp));
    if (!login.ok) throw new Error(`verifyOtp ${mobile}: ${login.status}`);
    const beneficiaryIds: string[] = [];
    for (let b = 0; b < options.beneficiariesOf(i); b++) {
      const added = await engine.addBeneficiary(login.accountId, {
        name: 'Bench Citizen',
        birth_year: 1960 + ((i + b) % 40),
        gender_id: 1 + ((i + b) % 3),
        photo_id_type: 1,
        photo_id_number: options.photoIdOf(i, b),
        comorbidity_ind: 'N',
        consent_version: 'V1',
      });
      if (!added.ok) throw new Error(`addBeneficiary: ${added.status}`);
      beneficiaryIds.push(added.beneficiaryId);
    }
    list[i] = {
      accountId: login.accountId,
      token: signToken(secret, { sub: login.accountId, sid: login.sid, role: 'citizen' }, engine.country.rules.token_ttl_seconds, engine.now()),
      beneficiaryIds,
    };
  });
  return list;
}
