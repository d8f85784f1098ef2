/**
 * Durability on failover (engine/durability.ts): with TEEKA_WAIT_REPLICAS=1 a booking is answered
 * only once a replica holds it, so the master may die right after any answer and the replica that
 * takes over still has every acknowledged booking. A master and a replica of the test's own run
 * here, replicating through a link the test can cut; SIGSTOP freezes the replica (it stops
 * acknowledging) and SIGKILL ends the master.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { DurabilityOptions } from '../../engine/durability.js';
import { BookingEngine } from '../../engine/engine.js';
import { keys } from '../../engine/keys.js';
import { demoCenterId, everySlot, publishSession, slotsOf } from '../support/booking.js';
import { demoCountry } from '../support/fixtures.js';
import { CuttableLink, describe, expect, PrivateRedis, registerAccounts, test, waitFor } from './support.js';

interface Pair {
  master: PrivateRedis;
  replica: PrivateRedis;
  /** the replication link, which the test may cut */
  link: CuttableLink;
  replicaClient: (prefix: string) => Redis;
  destroy: () => Promise<void>;
}

async function masterWithReplica(): Promise<Pair> {
  const master = await PrivateRedis.start(['--maxmemory-policy', 'noeviction']);
  const link = await CuttableLink.to(master.port);
  const replica = await PrivateRedis.start(['--replicaof', '127.0.0.1', String(link.port), '--maxmemory-policy', 'noeviction']);
  const probe = new Redis(replica.url);
  try {
    await waitFor('the replica in sync', async () => /master_link_status:up/.test(await probe.info('replication')), 15_000, 50);
  } finally {
    probe.disconnect();
  }
  return {
    master,
    replica,
    link,
    replicaClient: (prefix) => new Redis(replica.url, { keyPrefix: prefix }),
    destroy: async () => {
      await Promise.all([master.destroy(), replica.destroy()]);
      await link.close();
    },
  };
}

function engineOn(redis: Redis, clock: () => number, durability: DurabilityOptions): BookingEngine {
  return new BookingEngine(redis, { country: demoCountry(), secret: 'test-secret', clock, durability });
}

describe('acknowledged bookings and the loss of the Redis master', () => {
  test('with one replica required, every booking acknowledged before the master is SIGKILLed is on the replica', async ({ prefix, clock }) => {
    const pair = await masterWithReplica();
    const { master, link, replicaClient } = pair;
    const redis = new Redis(master.url, { keyPrefix: prefix, enableAutoPipelining: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {}); // the kill fails whatever is in flight, which the test counts
    const onReplica = replicaClient(prefix);
    try {
      const engine = engineOn(redis, clock.now, { replicas: 1, timeoutMs: 5000 });
      const centerId = demoCenterId(engine);
      const sessionId = await publishSession(engine, { capacity_dose1: 5000, capacity_dose2: 0, slot_capacity: everySlot(engine, centerId, 5000) });
      const slot = slotsOf(engine, centerId)[0]!;
      const citizens = (await registerAccounts(engine, 1500, 2)).flatMap(({ accountId, beneficiaryIds }) => beneficiaryIds.map((id) => ({ accountId, id })));

      // once 100 bookings were acknowledged the replication link is cut, the master goes on applying
      // bookings for 300 ms, then dies: only what reached the replica can survive a failover
      const acknowledged: string[] = [];
      let failed = 0;
      let masterDied: { settled: boolean; done: Promise<void> } | undefined;
      // 20 citizens book at any time, each as soon as the one before them was answered
      let next = 0;
      const bookNext = async (): Promise<void> => {
        for (let i = next++; i < citizens.length && !masterDied?.settled; i = next++) {
          const { accountId, id } = citizens[i]!;
          try {
            const outcome = await engine.book({ accountId, sessionId, slot, dose: 1, beneficiaryIds: [id] });
            if (!outcome.ok) throw new Error(`refused: ${outcome.status}`);
            acknowledged.push(outcome.appointmentId);
            if (acknowledged.length === 100) {
              link.cut();
              const died = { settled: false, done: sleep(300).then(() => master.kill()).then(() => void (died.settled = true)) };
              masterDied = died;
            }
          } catch (err) {
            if (err instanceof Error && err.message.startsWith('refused')) throw err;
            failed += 1;
          }
        }
      };
      await Promise.all(Array.from({ length: 20 }, bookNext));
      await masterDied?.done;
      expect(acknowledged.length).toBeGreaterThanOrEqual(100);
      expect(failed).toBeGreaterThan(0); // the kill landed in the rush

      // what a promoted replica serves: every acknowledged appointment, booked
      const onReplicaNow = await Promise.all(acknowledged.map((id) => onReplica.hget(keys.appointment(id), 'session_id')));
      expect(onReplicaNow.filter((sessionOf) => sessionOf !== sessionId)).toEqual([]);
      expect(engine.durability.counts.changes).toBeGreaterThanOrEqual(acknowledged.length);
    } finally {
      redis.disconnect();
      onReplica.disconnect();
      await pair.destroy();
    }
  });

  test('a replica that does not confirm in time makes the answer a ReplicationShortfallError; the booking itself was applied', async ({ prefix, clock }) => {
    const pair = await masterWithReplica();
    const { replica } = pair;
    const redis = new Redis(pair.master.url, { keyPrefix: prefix });
    try {
      const waiting = engineOn(redis, clock.now, { replicas: 1, timeoutMs: 300 });
      const notWaiting = engineOn(redis, clock.now, { replicas: 0, timeoutMs: 300 });
      const centerId = demoCenterId(waiting);
      const sessionId = await publishSession(waiting, { capacity_dose1: 10, capacity_dose2: 0, slot_capacity: everySlot(waiting, centerId, 10) });
      const slot = slotsOf(waiting, centerId)[0]!;
      const [first, second, third] = await registerAccounts(waiting, 3, 1);

      replica.pause();
      const started = performance.now();
      const shortfall = await waiting.book({ accountId: first!.accountId, sessionId, slot, dose: 1, beneficiaryIds: first!.beneficiaryIds }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(shortfall).toMatchObject({ name: 'ReplicationShortfallError', required: 1, confirmed: 0 });
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      // applied on the master: the same beneficiary is now refused as already booked
      const again = await notWaiting.book({ accountId: first!.accountId, sessionId, slot, dose: 1, beneficiaryIds: first!.beneficiaryIds });
      expect(again).toMatchObject({ ok: false });

      // the default does not wait: the frozen replica does not hold the answer back
      const unreplicated = await notWaiting.book({ accountId: second!.accountId, sessionId, slot, dose: 1, beneficiaryIds: second!.beneficiaryIds });
      expect(unreplicated.ok).toBe(true);
      // and once the replica answers again, waiting bookings are acknowledged again
      replica.resume();
      const confirmed = await waiting.book({ accountId: third!.accountId, sessionId, slot, dose: 1, beneficiaryIds: third!.beneficiaryIds });
      expect(confirmed.ok).toBe(true);
    } finally {
      replica.resume();
      redis.disconnect();
      await pair.destroy();
    }
  });
});
