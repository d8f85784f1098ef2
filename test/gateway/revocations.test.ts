/**
 * The revocation book follows one stream per partition (gateway/revocations.ts): a login revoked in
 * any partition reaches it, each partition's memory is complete on its own, and on one Redis every
 * partition's stream is read by one XREAD on one connection. On Redis Cluster the streams are split
 * per slot, each group on a connection of its own (a client is not connected here: only grouped).
 */
import type { Command } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { sha256Hex } from '../../engine/ids.js';
import { hashTagOf, keys } from '../../engine/keys.js';
import { Partitions } from '../../engine/partitions.js';
import { RevocationBook } from '../../gateway/revocations.js';
import { streamGroups } from '../../gateway/stream-follower.js';
import { describe, expect, test } from '../support/fixtures.js';

const PARTITIONS = new Partitions(4);

describe('revocations over partitions', () => {
  test('a login replaced in any partition is refused from memory within a bounded time; a live one is answered from memory', async ({ makeEngine, redis, clock }) => {
    const engine = makeEngine({ partitions: PARTITIONS });
    const connection = redis.duplicate();
    const book = new RevocationBook(engine, connection, { tokenTtlMs: 900_000, capacity: 1000, blockMs: 100 });
    const xreads: number[] = [];
    const sendCommand = connection.sendCommand.bind(connection);
    connection.sendCommand = ((command: Command, stream?: never) => {
      if (command.name === 'xread') xreads.push(command.getKeys().length);
      return sendCommand(command, stream);
    }) as typeof connection.sendCommand;
    await book.start();
    try {
      clock.advance(5_000); // tokens issued after the book started following (its horizon), with the margin
      const login = async (mobile: string) => {
        const issued = await engine.issueOtp(mobile, '127.0.0.1');
        if (!issued.ok) throw new Error(`issueOtp: ${issued.status}`);
        const done = await engine.verifyOtp(issued.txnId, sha256Hex('123456'));
        if (!done.ok) throw new Error(`verifyOtp: ${done.status}`);
        return { ...done, iat: Math.floor(clock.now() / 1000) };
      };
      // a test number in every partition
      const mobiles = new Map<number, string>();
      for (let n = 0; mobiles.size < PARTITIONS.count; n++) {
        const mobile = `99990${String(n).padStart(5, '0')}`;
        const partition = PARTITIONS.of(engine.accountIdOf(mobile));
        if (!mobiles.has(partition)) mobiles.set(partition, mobile);
      }
      const replaced: Awaited<ReturnType<typeof login>>[] = [];
      const current: Awaited<ReturnType<typeof login>>[] = [];
      for (const mobile of mobiles.values()) {
        replaced.push(await login(mobile));
        current.push(await login(mobile));
      }
      for (const [i, old] of replaced.entries()) expect(current[i]!.replacedSid).toBe(old.sid);
      // each revocation went to its account's partition stream
      for (const [partition, mobile] of mobiles) {
        const stream = keys.loginRevocations(PARTITIONS, partition);
        expect(stream).toBe(engine.accountKeys(engine.accountIdOf(mobile)).loginRevocations());
        expect(await redis.xlen(stream)).toBe(1);
      }

      // the follower's reads (milliseconds here; a loaded machine may stall them for seconds): the
      // current logins read as live only while the follower is current, so both are waited for
      const settled = () =>
        replaced.every((r) => book.loginLive(r.accountId, r.sid, r.iat) === false) && current.every((r) => book.loginLive(r.accountId, r.sid, r.iat) === true);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !settled()) await sleep(10);
      expect(replaced.map((r) => book.loginLive(r.accountId, r.sid, r.iat))).toEqual(replaced.map(() => false));
      expect(current.map((r) => book.loginLive(r.accountId, r.sid, r.iat))).toEqual(current.map(() => true));
      // one Redis: every partition's stream in each XREAD, on the one connection
      expect(xreads.length).toBeGreaterThan(0);
      // one XREAD for every partition on one Redis; one per partition's slot on a cluster
      expect(new Set(xreads)).toEqual(new Set([connection instanceof Cluster ? 1 : PARTITIONS.count]));
    } finally {
      await book.stop();
    }
  });

  test('on Redis Cluster, streams are read per slot, each group on its own connection', () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    const streams = PARTITIONS.all().map((n) => keys.loginRevocations(PARTITIONS, n));
    const groups = streamGroups(cluster, [...streams, keys.availability()]);
    try {
      expect(groups.map((g) => g.keys)).toEqual([...streams.map((s) => [s]), [keys.availability()]]);
      for (const group of groups) expect(new Set(group.keys.map(hashTagOf)).size).toBe(1);
      expect(groups[0]!.connection).toBe(cluster);
      expect(new Set(groups.map((g) => g.connection)).size).toBe(groups.length);
    } finally {
      for (const group of groups) group.connection.disconnect();
    }
  });
});
