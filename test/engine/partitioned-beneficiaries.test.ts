/**
 * Registering beneficiaries in their account's partition (engine/partitioned-beneficiaries.ts): one
 * photo ID, one beneficiary country-wide, whatever stops between the steps and whoever races; the
 * partitioned booking books them as registered, with nothing copied.
 */
import { keys } from '../../engine/keys.js';
import type { BookingEngine, NewBeneficiary } from '../../engine/engine.js';
import { MAX_PARTITION_COUNT } from '../../engine/partitions.js';
import { PartitionedBeneficiaries } from '../../engine/partitioned-beneficiaries.js';
import { PartitionedBooking, StoppedAfterStep } from '../../engine/partitioned-booking.js';
import { parseOutboxEntry, type StreamEntry } from '../../engine/records.js';
import { Status } from '../../engine/status.js';
import { demoCenterId, slotsOf } from '../support/booking.js';
import { nextMobileOf } from '../support/countries.js';
import { describe, expect, test } from '../support/fixtures.js';
import { newPerson, publishPartitioned } from '../support/partitioned.js';

const HOLD_MS = 30_000;

const newAccount = (engine: BookingEngine) => engine.accountIdOf(nextMobileOf(engine.country));
const photoHashOf = (engine: BookingEngine, input: NewBeneficiary) => engine.beneficiaryToStore(input)!.photoIdHash;

/** A registration of a new person by a new account, stopped after `step`; and a second account to try the same person. */
async function registrationStoppedAfter(engine: BookingEngine, step: number) {
  const stopped = new PartitionedBeneficiaries(engine, { holdMs: HOLD_MS });
  const [first, second] = [newAccount(engine), newAccount(engine)];
  const input = newPerson(engine);
  stopped.stopAfter = { operation: 'register', step };
  await expect(stopped.register(first, input)).rejects.toThrow(StoppedAfterStep);
  return { stopped, first, second, input };
}

async function registered(beneficiaries: PartitionedBeneficiaries, accountId: string, input: NewBeneficiary): Promise<string> {
  const outcome = await beneficiaries.register(accountId, input);
  if (!outcome.ok) throw new Error(`register: ${outcome.status}`);
  return outcome.beneficiaryId;
}

describe('registering beneficiaries in the account’s partition', () => {
  test('a beneficiary lands in its account’s partition with a country-wide id, its photo ID entry names it, the partition’s outbox carries it', async ({ engine }) => {
    const beneficiaries = new PartitionedBeneficiaries(engine);
    const accountId = newAccount(engine);
    const input = newPerson(engine);
    const first = await registered(beneficiaries, accountId, input);
    const second = await registered(beneficiaries, accountId, newPerson(engine));
    const partition = engine.partitions.of(accountId);
    // first + n × stride + partition: unique across partitions without a shared counter
    for (const [n, id] of [first, second].entries()) expect(BigInt(id)).toBe(BigInt(engine.firstReference) + BigInt((n + 1) * MAX_PARTITION_COUNT + partition));
    expect((await beneficiaries.list(accountId)).map((b) => [b.id, b.name, b.version, b.photo_id_hash])).toEqual([
      [first, 'Partitioned Person', 1, photoHashOf(engine, input)],
      [second, 'Partitioned Person', 1, expect.any(String)],
    ]);
    expect(await beneficiaries.photoIdHolder(photoHashOf(engine, input))).toEqual({ account: accountId, ben: first });
    // nothing in the booking partition
    expect(await engine.listBeneficiaries(accountId)).toEqual([]);
    const entries = (await engine.redis.xrange(keys.partitionOutbox(engine.partitions, partition), '-', '+')) as StreamEntry[];
    expect(entries.map(parseOutboxEntry).map((e) => e.eventId)).toEqual([`account:${accountId}:1`, `beneficiary:${first}:1`, `beneficiary:${second}:1`]);
  });

  test('one photo ID, one beneficiary: another account, the same account, and the limit', async ({ engine }) => {
    const beneficiaries = new PartitionedBeneficiaries(engine);
    const [one, other] = [newAccount(engine), newAccount(engine)];
    const input = newPerson(engine);
    await registered(beneficiaries, one, input);
    expect(await beneficiaries.register(other, input)).toEqual({ ok: false, status: Status.DUPLICATE_PHOTO_ID });
    expect(await beneficiaries.register(one, input)).toEqual({ ok: false, status: Status.DUPLICATE_PHOTO_ID });
    expect(await beneficiaries.register(one, { ...input, photo_id_number: '12' })).toEqual({ ok: false, status: Status.INVALID_PHOTO_ID });

    // the limit (4 in the demo country): the refused registration gives its photo ID back at once
    for (let i = 0; i < 3; i++) await registered(beneficiaries, one, newPerson(engine));
    const fifth = newPerson(engine);
    expect(await beneficiaries.register(one, fifth)).toEqual({ ok: false, status: Status.BENEFICIARY_LIMIT });
    expect(await beneficiaries.photoIdHolder(photoHashOf(engine, fifth))).toEqual({});
    await registered(beneficiaries, other, fifth);
  });

  test('a registration stopped after its reservation: the photo ID waits out the deadline, then the next one aborts it and a late step is refused', async ({ engine, clock }) => {
    const { stopped, first, second, input } = await registrationStoppedAfter(engine, 1);
    const entry = await stopped.photoIdHolder(photoHashOf(engine, input));
    expect(entry).toMatchObject({ account: first, reg: expect.any(String) });

    const others = new PartitionedBeneficiaries(engine, { holdMs: HOLD_MS });
    expect((await others.register(second, input)).status, 'before the deadline it may still be registered').toBe(Status.DUPLICATE_PHOTO_ID);
    clock.advance(HOLD_MS + 1);
    const beneficiaryId = await registered(others, second, input);
    expect(await others.photoIdHolder(photoHashOf(engine, input))).toEqual({ account: second, ben: beneficiaryId });

    // the stopped registration's step 2, arriving late, finds the tombstone
    const account = keys.forAccount(engine.partitions, first);
    const late = await engine.scripts.run(
      'registerBeneficiary',
      [account.bookingAccount(), keys.partitionBeneficiarySequence(engine.partitions, account.partition), account.outbox()],
      [first, entry.reg!, engine.now(), 4, JSON.stringify(engine.beneficiaryToStore(input)!.stored), engine.firstReference, MAX_PARTITION_COUNT, account.partition],
    );
    expect(late).toEqual([Status.BOOKING_ABORTED]);
    expect(await stopped.list(first)).toEqual([]);
  });

  test('a registration stopped after writing its beneficiary: the next one confirms it and is refused', async ({ engine, clock }) => {
    const { stopped, first, second, input } = await registrationStoppedAfter(engine, 2);
    const [made] = await stopped.list(first);
    expect(made).toBeDefined();
    clock.advance(HOLD_MS + 1);
    expect((await stopped.register(second, input)).status).toBe(Status.DUPLICATE_PHOTO_ID);
    expect(await stopped.photoIdHolder(photoHashOf(engine, input))).toEqual({ account: first, ben: made!.id });
    expect(await stopped.list(second)).toEqual([]);
  });

  test('removing frees the photo ID, also when it stopped before freeing it; a booked beneficiary stays', async ({ engine }) => {
    const beneficiaries = new PartitionedBeneficiaries(engine);
    const [first, second] = [newAccount(engine), newAccount(engine)];
    const input = newPerson(engine);
    const id = await registered(beneficiaries, first, input);
    expect(await beneficiaries.remove(first, id)).toEqual({ ok: true, status: Status.OK });
    expect(await beneficiaries.photoIdHolder(photoHashOf(engine, input))).toEqual({});
    expect(await beneficiaries.remove(first, id)).toEqual({ ok: false, status: Status.BENEFICIARY_NOT_FOUND });

    // registered again, removed, stopped before the entry was freed: the next registration frees it
    const again = await registered(beneficiaries, second, input);
    beneficiaries.stopAfter = { operation: 'remove', step: 1 };
    await expect(beneficiaries.remove(second, again)).rejects.toThrow(StoppedAfterStep);
    expect(await beneficiaries.photoIdHolder(photoHashOf(engine, input))).toEqual({ account: second, ben: again });
    const third = await registered(beneficiaries, first, input);
    expect(await beneficiaries.photoIdHolder(photoHashOf(engine, input))).toEqual({ account: first, ben: third });

    // booked (by the partitioned booking, from the partition, nothing copied): locked
    const booking = new PartitionedBooking(engine);
    const sessionId = await publishPartitioned(booking);
    const booked = await booking.book({ accountId: first, sessionId, slot: slotsOf(engine, demoCenterId(engine))[0]!, dose: 1, beneficiaryIds: [third] });
    expect(booked.ok).toBe(true);
    expect(await beneficiaries.remove(first, third)).toEqual({ ok: false, status: Status.BENEFICIARY_LOCKED });
  });

  test('20 accounts race for one photo ID: exactly one beneficiary; 40 registrations of distinct people in parallel get distinct ids', async ({ engine }) => {
    const beneficiaries = new PartitionedBeneficiaries(engine);
    const input = newPerson(engine);
    const accounts = Array.from({ length: 20 }, () => newAccount(engine));
    const outcomes = await Promise.all(accounts.map((accountId) => beneficiaries.register(accountId, input)));
    const winners = outcomes.flatMap((outcome, i) => (outcome.ok ? [{ accountId: accounts[i]!, id: outcome.beneficiaryId }] : []));
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((o) => !o.ok).map((o) => o.status)).toEqual(Array(19).fill(Status.DUPLICATE_PHOTO_ID));
    expect(await beneficiaries.photoIdHolder(photoHashOf(engine, input))).toEqual({ account: winners[0]!.accountId, ben: winners[0]!.id });
    const registeredIn = await Promise.all(accounts.map((accountId) => beneficiaries.list(accountId)));
    expect(registeredIn.flat()).toHaveLength(1);

    const many = Array.from({ length: 10 }, () => newAccount(engine));
    const ids = await Promise.all(many.flatMap((accountId) => Array.from({ length: 4 }, () => registered(beneficiaries, accountId, newPerson(engine)))));
    expect(new Set(ids).size).toBe(40);
    for (const accountId of many) expect(await beneficiaries.list(accountId)).toHaveLength(4);
  });
});
