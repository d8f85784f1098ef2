/**
 * A gateway thread's availability book (gateway/availability.ts) on the test's Redis: it holds the
 * sessions of both layouts, follows both kinds of stream, and reloads once for many requests.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PartitionedBooking } from '../../engine/partitioned-booking.js';
import { AvailabilityBook, DEFAULT_AVAILABILITY_OPTIONS } from '../../gateway/availability.js';
import { demoCenterId, publishSession, slotsOf } from '../support/booking.js';
import { keys } from '../../engine/keys.js';
import type { StreamFollower } from '../../gateway/stream-follower.js';
import { describe, expect, test, TEST_REDIS } from '../support/fixtures.js';
import { partitionedAccount, publishPartitioned } from '../support/partitioned.js';

describe('the availability book', () => {
  test('holds both layouts’ sessions, follows both kinds of stream, and one reload serves the requests made while it waited', async ({ engine, redis }) => {
    const booking = new PartitionedBooking(engine);
    const before = await publishSession(engine, { date: engine.today() + 1 });
    const partitionedBefore = await publishPartitioned(booking, { date: engine.today() + 2 });
    let loads = 0;
    const load = engine.loadSessions.bind(engine);
    engine.loadSessions = (from, to) => {
      loads += 1;
      return load(from, to);
    };
    const book = new AvailabilityBook(engine, redis.duplicate(), { ...DEFAULT_AVAILABILITY_OPTIONS, blockMs: 200 });
    await book.start();
    try {
      expect(loads).toBe(1);
      expect(book.sessions.has(before) && book.sessions.has(partitionedBefore)).toBe(true);

      // published and booked after the load: each reaches the book through its own stream
      const after = await publishSession(engine, { date: engine.today() + 3 });
      const partitionedAfter = await publishPartitioned(booking, { date: engine.today() + 4, capacity_dose1: 1 });
      const holder = await partitionedAccount(engine, 1);
      expect((await booking.book({ accountId: holder.accountId, sessionId: partitionedAfter, slot: slotsOf(engine, demoCenterId(engine))[0]!, dose: 1, beneficiaryIds: holder.beneficiaryIds })).ok).toBe(true);
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      // knownFull also waits until the followers of the session's streams are current: on a
      // cluster, connections of their own, each reading once it has connected
      const learnt = () => book.sessions.has(after) && book.sessions.get(partitionedAfter)?.booked1 === 1 && book.knownFull(partitionedAfter, 1, slot, 1);
      for (let i = 0; i < 500 && !learnt(); i++) await sleep(20);
      expect(book.sessions.has(after)).toBe(true);
      expect(book.sessions.get(partitionedAfter)?.booked1).toBe(1);
      expect(book.knownFull(partitionedAfter, 1, slot, 1)).toBe(true);

      // a reconnection asks once per stream (17 here): one reload serves them all
      const asked = Array.from({ length: engine.partitions.count + 1 }, () => book.reload());
      await Promise.all(asked);
      expect(loads).toBe(2);
      await book.reload();
      expect(loads).toBe(3);
      expect(book.sessions.get(partitionedAfter)?.booked1).toBe(1);
    } finally {
      await book.stop();
    }
  });
});

describe.skipIf(TEST_REDIS.cluster === undefined)('the availability book on a cluster', () => {
  test('refuses from memory while the followers of the session’s own streams are current, whatever another partition’s follower does', async ({ engine, redis }) => {
    const booking = new PartitionedBooking(engine);
    const book = new AvailabilityBook(engine, redis.duplicate(), { ...DEFAULT_AVAILABILITY_OPTIONS, blockMs: 200 });
    await book.start();
    try {
      const sessionId = await publishPartitioned(booking, { date: engine.today() + 2, capacity_dose1: 1 });
      const holder = await partitionedAccount(engine, 1);
      const slot = slotsOf(engine, demoCenterId(engine))[0]!;
      expect((await booking.book({ accountId: holder.accountId, sessionId, slot, dose: 1, beneficiaryIds: holder.beneficiaryIds })).ok).toBe(true);
      for (let i = 0; i < 500 && !book.knownFull(sessionId, 1, slot, 1); i++) await sleep(20);
      expect(book.knownFull(sessionId, 1, slot, 1)).toBe(true);

      // the book's followers, one per slot on a cluster (private: reached for this test only)
      const followerOf = (book as unknown as { followerOf: Map<string, StreamFollower> }).followerOf;
      const partitions = engine.partitions;
      const own = followerOf.get(keys.partitionAvailability(partitions, partitions.of(sessionId)))!;
      const other = followerOf.get(keys.partitionAvailability(partitions, (partitions.of(sessionId) + 1) % partitions.count))!;
      expect(other).not.toBe(own);
      // another partition's follower stops (its master unreachable, say): this session is still refused from memory
      await other.stop();
      expect(book.knownFull(sessionId, 1, slot, 1)).toBe(true);
      // its own stream's follower stops: memory no longer knows, the script decides
      await own.stop();
      expect(book.knownFull(sessionId, 1, slot, 1)).toBe(false);
    } finally {
      await book.stop();
    }
  });
});
