/** Small helpers shared by the benchmarks: concurrency pool, medians, markdown tables, beneficiary pools. */
import type { Redis } from 'ioredis';
import { keys } from '../engine/keys.js';

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
  return JSON.stringify({
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
      pipeline.hset(keys.account(accountId), `ben:${id}`, beneficiaryJson(id));
    }
    await pipeline.exec();
  }
  return ids;
}
