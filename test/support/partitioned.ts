/** Builders for tests of the partitioned booking (engine/partitioned-booking.ts). */
import type { BookingEngine } from '../../engine/engine.js';
import { keys } from '../../engine/keys.js';
import { beneficiaryField } from '../../engine/records.js';
import type { PartitionedBooking } from '../../engine/partitioned-booking.js';
import type { SessionInput } from '../../engine/sessions.js';
import { accountWithBeneficiaries, demoCenterId } from './booking.js';
import { twoDoseVaccine } from './countries.js';

/**
 * Put beneficiaries the engine registered (in `{bk}`, where addBeneficiary still writes them) into
 * their account's partition, where the partitioned booking reads them: the same `ben:<id>` JSON,
 * copied once before any booking of them (registering in the partition is not built yet).
 */
export async function beneficiariesIntoPartition(engine: BookingEngine, accountId: string, beneficiaryIds: string[]): Promise<void> {
  if (!beneficiaryIds.length) return;
  const fields = beneficiaryIds.map(beneficiaryField);
  const values = await engine.redis.hmget(keys.account(accountId), ...fields);
  const pairs = fields.flatMap((field, i) => {
    if (values[i] === null) throw new Error(`beneficiary ${beneficiaryIds[i]} of ${accountId} is not registered`);
    return [field, values[i]!];
  });
  await engine.redis.hset(keys.forAccount(engine.partitions, accountId).bookingAccount(), ...pairs);
}

/** A new account with `count` beneficiaries, in its partition (accountWithBeneficiaries, then copied). */
export async function partitionedAccount(engine: BookingEngine, count: number, birthYear = 1990): Promise<{ accountId: string; beneficiaryIds: string[] }> {
  const account = await accountWithBeneficiaries(engine, count, birthYear);
  await beneficiariesIntoPartition(engine, account.accountId, account.beneficiaryIds);
  return account;
}

/** Publish a session in its partition (defaults as test/support/booking.ts publishSession: first centre, tomorrow, 10 + 10 seats). */
export async function publishPartitioned(booking: PartitionedBooking, overrides: Partial<SessionInput> = {}): Promise<string> {
  const engine = booking.engine;
  const outcome = await booking.publishSession({
    center_id: demoCenterId(engine),
    date: engine.today() + 1,
    vaccine: twoDoseVaccine(engine.country).name,
    min_age_limit: 18,
    capacity_dose1: 10,
    capacity_dose2: 10,
    ...overrides,
  });
  if (!outcome.ok) throw new Error(`publish: ${outcome.status}`);
  return outcome.sessionId;
}

/** Sessions in `count` different partitions (the first centre on successive days from tomorrow). */
export async function partitionedSessions(booking: PartitionedBooking, count: number, overrides: Partial<SessionInput> = {}): Promise<string[]> {
  const engine = booking.engine;
  const byPartition = new Map<number, string>();
  for (let day = 1; byPartition.size < count; day++) {
    if (day > 365) throw new Error(`no ${count} sessions in different partitions within a year`);
    const id = await publishPartitioned(booking, { date: engine.today() + day, ...overrides });
    if (!byPartition.has(engine.partitions.of(id))) byPartition.set(engine.partitions.of(id), id);
  }
  return [...byPartition.values()];
}
