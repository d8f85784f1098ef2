/** Small helpers shared by the benchmarks: concurrency pool, medians, markdown tables, beneficiary pools. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { TeekaConfig } from '../engine/config.js';
import { beneficiaryField, encodeBeneficiary } from '../engine/records.js';
import { keys } from '../engine/keys.js';
import { loadCountry, parseCountry, type Country, type Rules } from '../engine/masterdata.js';

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
 * redis-benchmark's `__rand_int__`, so it can book a random one of them per call.
 */
export async function createBeneficiaryPool(redis: Redis, accountId: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 5000) {
    const pipeline = redis.pipeline();
    for (let j = i; j < Math.min(i + 5000, count); j++) {
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
  for (const url of [config.redisUrl, config.databaseUrl]) {
    const host = new URL(url).hostname;
    if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) throw new Error(`benchmarks only run against loopback services, not ${host}`);
  }
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
