/**
 * Redis loses its data after a drain; `rebuild` lays the booking records out again from
 * PostgreSQL. What must come back: capacities and seat counters, live appointments, beneficiaries
 * with their doses, the photo-ID index, and the quotas of the day; and booking must refuse what it
 * refused before (oversell, a second live appointment, a reused photo ID).
 * In the layout TEEKA_LAYOUT names (npm run test:partitioned runs this file on the partitioned one).
 */
import { allKeys, type RedisClient } from '../../engine/redis.js';
import type { BookingEngine } from '../../engine/engine.js';
import { Certificates } from '../../engine/certificates.js';
import { Operators } from '../../engine/operators.js';
import { bookingPartitionPattern, isPartitionedBookingRecord, keys, virtualPartitionsPattern } from '../../engine/keys.js';
import { Partitions } from '../../engine/partitions.js';
import { Status } from '../../engine/status.js';
import { drainOutboxDirectly } from '../../worker/drain.js';
import { outboxStreams } from '../../worker/outbox.js';
import { snapshotDailyQuotas } from '../../worker/quotas.js';
import { rebuildRedis } from '../../worker/rebuild.js';
import { formatReconcileReport, reconcile } from '../../worker/reconcile.js';
import { accountWithBeneficiaries, demoCenterId, everyCenter, everySlot, login, nextMobile, nextPhotoId, publishSession, securityCodeOf, slotsOf, useUpDailySearches } from '../support/booking.js';
import { deleteKeysWithPrefix, type TestClock } from '../support/fixtures.js';
import { referenceIdReused } from '../support/partitioned.js';
import { describe, expect, TEST_REDIS, spawnNode, builtScript, test } from './support.js';

const DAY = 86_400_000;
/** the partitions the engine and the rebuild use by default */
const PARTITIONS = new Partitions();

/**
 * The partitioned layout's records of a booking's history, which a rebuild does not keep: on an
 * appointment, the claim it names, its change counter, the seats each change owed back, the
 * appointments it superseded and its idempotency key; in an account hash, its registrations
 * (`reg:<id>`). The seats its claims hold are compared per session instead (`claimedSeats`).
 */
const HISTORY_FIELD = /^(?:claim|changes|release:\d+|expired|idem|reg:.*)$/;

/**
 * Everything a rebuild restores, read back as plain values: hashes (beneficiary JSON parsed, since
 * its key order is cjson's), the sessions index, strings; in `{bk}` and, in the partitioned layout,
 * in the partitions. Keys a rebuild does not restore (the outbox and availability streams, the
 * partitioned layout's claims and history fields) are left out, and so are the deployment marker,
 * the partition count and the layout, which it writes (test/worker/redis-loss.test.ts); no test here
 * books with an idempotency key.
 */
async function bookingState(redis: RedisClient): Promise<Record<string, unknown>> {
  const state: Record<string, unknown> = {};
  const skip = new Set([keys.outbox(), keys.availability(), keys.deployment(), keys.partitionCount(), keys.layout()]);
  const partitionRecords = (await allKeys(redis, virtualPartitionsPattern)).filter(
    (key) => isPartitionedBookingRecord(key) && !/:(?:outbox|availability)$|:claim:/.test(key),
  );
  for (const key of [...(await allKeys(redis, bookingPartitionPattern)), ...partitionRecords].sort()) {
    if (skip.has(key)) continue;
    const type = await redis.type(key);
    if (type === 'hash') {
      const hash = await redis.hgetall(key);
      const fields = Object.entries(hash).filter(([f]) => !(key.startsWith('{p:') && HISTORY_FIELD.test(f)));
      state[key] = Object.fromEntries(fields.map(([f, v]) => [f, f.startsWith('ben:') ? JSON.parse(v) : v]));
    } else if (type === 'zset') state[key] = await redis.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'string') state[key] = await redis.get(key);
    else state[key] = `unexpected ${type}`;
  }
  return state;
}

/** The partitioned layout: the seats the taken claims hold, per session and slot (empty in the single layout). */
async function claimedSeats(redis: RedisClient): Promise<Record<string, number>> {
  const seats: Record<string, number> = {};
  for (const key of await allKeys(redis, `${virtualPartitionsPattern}:claim:*`)) {
    const claim = await redis.hgetall(key);
    if (claim.state !== 'taken' || claim.seats === '0') continue;
    const where = `${claim.session_id} ${claim.slot} dose ${claim.dose}`;
    seats[where] = (seats[where] ?? 0) + Number(claim.seats);
  }
  return seats;
}

/** Daily quota keys: value and remaining lifetime. */
async function quotaState(redis: RedisClient, accountIds: string[]): Promise<Map<string, { value: string; ttl: number }>> {
  const state = new Map<string, { value: string; ttl: number }>();
  for (const accountId of accountIds) {
    for (const key of [keys.forAccount(PARTITIONS, accountId).searchDay(), keys.forAccount(PARTITIONS, accountId).blocked()]) {
      const value = await redis.get(key);
      if (value !== null) state.set(key, { value, ttl: await redis.pttl(key) });
    }
  }
  return state;
}

/**
 * A day of booking with every kind of change: a full session, partial cancellation, a reschedule,
 * a deleted beneficiary, an appointment superseded after its day passed, a vaccination, and daily
 * quotas (searches, an account blocked after too many searches).
 */
async function bookingDay(engine: BookingEngine, clock: TestClock) {
  const center = demoCenterId(engine);
  const other = demoCenterId(engine, 1);
  const slots = slotsOf(engine, center);
  const otherSlots = slotsOf(engine, other);
  const today = engine.today();
  const full = await publishSession(engine, { date: today + 3, capacity_dose1: 4, capacity_dose2: 0, slot_capacity: everySlot(engine, center, 4) });
  const open = await publishSession(engine, { date: today + 3, center_id: other, capacity_dose1: 50, capacity_dose2: 5 });
  const soon = await publishSession(engine, { date: today + 1, capacity_dose1: 20 });
  const dayAfter = await publishSession(engine, { date: today + 2, center_id: other, capacity_dose1: 20 });

  const family = await accountWithBeneficiaries(engine, 4);
  const singles = await Promise.all(Array.from({ length: 6 }, () => accountWithBeneficiaries(engine, 1)));
  const book = async (accountId: string, sessionId: string, slot: string, beneficiaryIds: string[]) => {
    const outcome = await engine.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds });
    if (!outcome.ok) throw new Error(`booking refused: status ${outcome.status}`);
    return outcome.appointmentId;
  };
  // the full session: a family of two and two singles
  const familyFull = await book(family.accountId, full, slots[0]!, family.beneficiaryIds.slice(0, 2));
  const singleFull = await book(singles[0]!.accountId, full, slots[1]!, singles[0]!.beneficiaryIds);
  await book(singles[1]!.accountId, full, slots[1]!, singles[1]!.beneficiaryIds);
  // the rest of the family in the open session, then one of them cancels
  const familyOpen = await book(family.accountId, open, otherSlots[0]!, family.beneficiaryIds.slice(2));
  expect(await engine.cancel(family.accountId, familyOpen, [family.beneficiaryIds[3]!])).toMatchObject({ ok: true });
  // a reschedule to another centre
  const moved = await book(singles[2]!.accountId, soon, slots[0]!, singles[2]!.beneficiaryIds);
  expect(await engine.reschedule(singles[2]!.accountId, moved, open, otherSlots[1]!)).toMatchObject({ ok: true });
  // booked for tomorrow, never vaccinated: superseded by a later booking once the day has passed
  await book(singles[3]!.accountId, soon, slots[2]!, singles[3]!.beneficiaryIds);
  // booked for the day after tomorrow, and vaccinated on the day
  const vaccinatedAppointment = await book(singles[4]!.accountId, dayAfter, otherSlots[0]!, singles[4]!.beneficiaryIds);
  // a beneficiary registered, then deleted
  const leaving = await accountWithBeneficiaries(engine, 1);
  expect(await engine.deleteBeneficiary(leaving.accountId, leaving.beneficiaryIds[0]!)).toMatchObject({ ok: true });

  clock.advance(2 * DAY);
  const superseding = await book(singles[3]!.accountId, open, otherSlots[2]!, singles[3]!.beneficiaryIds);
  const vaccinatedBeneficiary = singles[4]!.beneficiaryIds[0]!;
  const securityCode = await securityCodeOf(engine, vaccinatedAppointment, vaccinatedBeneficiary);
  expect(
    await engine.markVaccinated({ appointmentId: vaccinatedAppointment, beneficiaryId: vaccinatedBeneficiary, securityCode, vaccinatorId: 'vaccinator-7', centerIds: everyCenter(engine) }),
  ).toMatchObject({ ok: true });

  // the vaccination issued a certificate; another beneficiary's, issued in error, is revoked
  const dose1Today = await publishSession(engine, { date: engine.today(), center_id: demoCenterId(engine, 2), slot_capacity: everySlot(engine, demoCenterId(engine, 2), 5) });
  const mistaken = await accountWithBeneficiaries(engine, 1);
  const mistakenBooking = await engine.book({ accountId: mistaken.accountId, sessionId: dose1Today, slot: slotsOf(engine, demoCenterId(engine, 2))[0]!, dose: 1, beneficiaryIds: mistaken.beneficiaryIds });
  if (!mistakenBooking.ok) throw new Error('booking refused');
  const mistakenVaccination = await engine.markVaccinated({
    appointmentId: mistakenBooking.appointmentId,
    beneficiaryId: mistaken.beneficiaryIds[0]!,
    securityCode: mistakenBooking.securityCodes[0]!.code,
    vaccinatorId: 'vaccinator-7',
    centerIds: everyCenter(engine),
  });
  if (!mistakenVaccination.ok) throw new Error('vaccination refused');
  const certificates = new Certificates(engine.redis, engine.scripts, clock.now, engine.certificates.ring, engine.certificates.issuer, engine.partitioned ? engine.partitions : undefined);
  expect(await certificates.revoke(mistakenVaccination.certificateId, 'admin', 'recorded for the wrong person')).toEqual({ ok: true, version: 2 });

  // operators an admin issued: one still active, one revoked (their credentials survive; logins do not)
  const operators = new Operators(engine.redis, engine.scripts, clock.now);
  expect(await operators.issue('vax-7', 'vaccinator', [demoCenterId(engine), demoCenterId(engine, 1)], 'admin')).toMatchObject({ ok: true });
  expect(await operators.issue('vax-8', 'vaccinator', [demoCenterId(engine)], 'admin')).toMatchObject({ ok: true });
  expect(await operators.revoke('vax-8', 'admin')).toMatchObject({ ok: true, version: 2 });

  // quotas of the day: searches, and an account blocked after too many searches
  const searcher = await login(engine, `9999${String(Date.now()).slice(-6)}`);
  for (let i = 0; i < 7; i++) expect(await engine.consumeSearchQuota(searcher.accountId, searcher.sid)).toMatchObject({ ok: true });
  const blocked = await login(engine, nextMobile());
  await useUpDailySearches(engine, clock, blocked);
  expect(await engine.consumeSearchQuota(blocked.accountId, blocked.sid)).toMatchObject({ ok: false, status: Status.ACCOUNT_BLOCKED });

  return {
    sessions: { full, open, soon, dayAfter },
    fullDate: today + 3,
    familyFull,
    singleFull,
    family,
    singles,
    superseding,
    quotaAccounts: [searcher.accountId, blocked.accountId],
    slots,
    otherSlots,
  };
}

describe('rebuilding Redis from PostgreSQL', () => {
  test('after Redis is flushed, capacities, live appointments and quotas of the day come back as they were, and booking refuses what it refused before', async ({
    engine,
    redis,
    pool,
    clock,
    prefix,
  }) => {
    const day = await bookingDay(engine, clock);
    await drainOutboxDirectly(redis, pool, 500, outboxStreams(PARTITIONS));
    // the snapshot as the worker takes it: the accounts the quota scripts named since the last one
    await snapshotDailyQuotas(redis, pool, engine.partitions);
    const before = await bookingState(redis);
    const seatsBefore = await claimedSeats(redis);
    // what is compared lives where the layout keeps it: the partitions' sessions, accounts,
    // appointments, photo ID entries, counters and certificates, and the claims' seats
    const inPartitions = Object.keys(before).filter((key) => key.startsWith('{p:'));
    if (engine.partitioned) {
      expect(inPartitions.length).toBeGreaterThan(40);
      expect(Object.keys(seatsBefore).length).toBeGreaterThan(3);
    } else expect(inPartitions).toEqual([]);
    const quotasBefore = await quotaState(redis, day.quotaAccounts);
    expect(quotasBefore.size).toBe(3); // two accounts' searches of the day, one block

    // Redis loses everything under this deployment's prefix
    await deleteKeysWithPrefix(TEST_REDIS, prefix);
    expect(await allKeys(redis, '*')).toEqual([]);

    const report = await rebuildRedis(redis, pool, { layout: engine.layout, partitions: PARTITIONS });
    expect(report).toMatchObject({ drained: 0, sessions: 5, quotas: 3, operators: 2, certificates: 2 });
    expect(await bookingState(redis)).toEqual(before);
    expect(await claimedSeats(redis)).toEqual(seatsBefore);
    const quotasAfter = await quotaState(redis, day.quotaAccounts);
    expect([...quotasAfter.keys()].sort()).toEqual([...quotasBefore.keys()].sort());
    for (const [key, { value, ttl }] of quotasBefore) {
      expect(quotasAfter.get(key)!.value, key).toBe(value);
      // the lifetime left, as of the snapshot (which was taken just before the flush)
      expect(Math.abs(quotasAfter.get(key)!.ttl - ttl), key).toBeLessThan(5000);
    }
    const check = await reconcile(redis, pool, PARTITIONS);
    expect(check.ok, formatReconcileReport(check)).toBe(true);

    // the full session stays full
    const newcomer = await accountWithBeneficiaries(engine, 1);
    expect(await engine.book({ accountId: newcomer.accountId, sessionId: day.sessions.full, slot: day.slots[3]!, dose: 1, beneficiaryIds: newcomer.beneficiaryIds })).toMatchObject({
      ok: false,
      status: Status.FULL,
    });
    // a beneficiary with a live appointment cannot book a second one
    expect(
      await engine.book({ accountId: day.family.accountId, sessionId: day.sessions.open, slot: day.otherSlots[3] ?? day.otherSlots[0]!, dose: 1, beneficiaryIds: [day.family.beneficiaryIds[0]!] }),
    ).toMatchObject({ ok: false, status: Status.ALREADY_BOOKED, beneficiaryId: day.family.beneficiaryIds[0] });
    // the one who cancelled can book again, into the seat still free
    expect(
      await engine.book({ accountId: day.family.accountId, sessionId: day.sessions.open, slot: day.otherSlots[0]!, dose: 1, beneficiaryIds: [day.family.beneficiaryIds[3]!] }),
    ).toMatchObject({ ok: true });
    // the vaccinated beneficiary has the dose on record
    expect(
      await engine.book({ accountId: day.singles[4]!.accountId, sessionId: day.sessions.open, slot: day.otherSlots[0]!, dose: 1, beneficiaryIds: day.singles[4]!.beneficiaryIds }),
    ).toMatchObject({ ok: false, status: Status.ALREADY_VACCINATED });
    // the photo-ID index is back, and new beneficiaries get new reference numbers
    const photoId = nextPhotoId();
    const first = await engine.addBeneficiary(day.singles[5]!.accountId, {
      name: 'Asha', birth_year: 1985, gender_id: 2, photo_id_type: 1, photo_id_number: photoId, comorbidity_ind: 'N', consent_version: 'V1',
    }); // prettier-ignore
    expect(first.ok).toBe(true);
    // the counters continue from PostgreSQL's ids: the new id is above every id it holds (in the
    // partitioned layout, every id of the new one's partition: each partition counts its own)
    // (day.singles[5]'s partition holds its first beneficiary's id)
    const held = (await pool.query<{ id: string }>('SELECT beneficiary_id::text AS id FROM beneficiaries')).rows.map((r) => BigInt(r.id));
    if (first.ok) expect(referenceIdReused(engine.partitioned !== null, first.beneficiaryId, held)).toBeNull();
    const again = await accountWithBeneficiaries(engine, 0);
    expect(
      await engine.addBeneficiary(again.accountId, {
        name: 'Asha', birth_year: 1985, gender_id: 2, photo_id_type: 1, photo_id_number: photoId, comorbidity_ind: 'N', consent_version: 'V1',
      }), // prettier-ignore
    ).toMatchObject({ ok: false, status: Status.DUPLICATE_PHOTO_ID });
    // the session definition is byte for byte what was published: publishing it again changes nothing
    const republished = await engine.publishSession({
      center_id: demoCenterId(engine), date: day.fullDate, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 4, capacity_dose2: 0,
      slot_capacity: everySlot(engine, demoCenterId(engine), 4),
    }); // prettier-ignore
    expect(republished).toMatchObject({ ok: true, sessionId: day.sessions.full, changed: false });
    // quotas of the day still hold: the blocked account stays blocked
    expect(await redis.pttl(keys.forAccount(PARTITIONS, day.quotaAccounts[1]!).blocked())).toBeGreaterThan(DAY - 60_000);

    // an appointment laid out by the rebuild changes as any other: a cancel gives its seats back to
    // the session (the partitioned layout: from the claim the rebuild wrote), and a newcomer takes one
    const fullSlot = day.slots[0]!;
    expect(await engine.cancel(day.family.accountId, day.familyFull)).toMatchObject({ ok: true });
    expect((await engine.getSession(day.sessions.full))!.booked1).toBe(2);
    expect(await engine.book({ accountId: newcomer.accountId, sessionId: day.sessions.full, slot: fullSlot, dose: 1, beneficiaryIds: newcomer.beneficiaryIds })).toMatchObject({
      ok: true,
    });
    // a reschedule moves its seats out of the full session into the open one
    expect(await engine.reschedule(day.singles[0]!.accountId, day.singleFull, day.sessions.open, day.otherSlots[1]!)).toMatchObject({ ok: true });
    expect((await engine.getSession(day.sessions.full))!.booked1).toBe(2);
    await drainOutboxDirectly(redis, pool, 500, outboxStreams(PARTITIONS));
    const after = await reconcile(redis, pool, PARTITIONS);
    expect(after.ok, formatReconcileReport(after)).toBe(true);
  });

  test('changes still in the outbox are written to PostgreSQL before Redis is laid out from it', async ({ engine, redis, pool }) => {
    const slots = slotsOf(engine, demoCenterId(engine));
    const sessionId = await publishSession(engine, { capacity_dose1: 10 });
    const early = await accountWithBeneficiaries(engine, 1);
    await engine.book({ accountId: early.accountId, sessionId, slot: slots[0]!, dose: 1, beneficiaryIds: early.beneficiaryIds });
    await drainOutboxDirectly(redis, pool, 500, outboxStreams(PARTITIONS));
    // booked after the last drain: only the outbox has these
    const late = await accountWithBeneficiaries(engine, 2);
    const lateBooking = await engine.book({ accountId: late.accountId, sessionId, slot: slots[1]!, dose: 1, beneficiaryIds: late.beneficiaryIds });
    expect(lateBooking.ok).toBe(true);
    const before = await bookingState(redis);
    const lengths = await Promise.all(outboxStreams(PARTITIONS).map((stream) => redis.xlen(stream)));
    const outboxBefore = lengths.reduce((a, b) => a + b, 0);
    expect(outboxBefore).toBeGreaterThan(0);

    const report = await rebuildRedis(redis, pool, { layout: engine.layout, partitions: PARTITIONS });
    expect(report.drained).toBe(outboxBefore);
    expect(await bookingState(redis)).toEqual(before);
    expect((await engine.getSession(sessionId))!.booked1).toBe(3);
    expect(await reconcile(redis, pool, PARTITIONS)).toMatchObject({ ok: true });
  });

  test('npm run rebuild refuses to replace booking keys Redis still holds unless forced', async ({ engine, redis, pool, prefix, schema }) => {
    await publishSession(engine);
    await drainOutboxDirectly(redis, pool, 500, outboxStreams(PARTITIONS));
    const refused = spawnNode(builtScript('rebuild.js'), { prefix, schema });
    expect((await refused.exited).code).toBe(2);
    expect(refused.output).toMatch(/still holds \d+ booking keys.*--force/s);

    const forced = spawnNode(builtScript('rebuild.js'), { prefix, schema }, ['--force']);
    expect((await forced.exited).code, forced.output).toBe(0);
    expect(forced.output).toMatch(/rebuild: done: 1 sessions/);
    expect(forced.output).toMatch(/reconcile: OK/);
  });
});
