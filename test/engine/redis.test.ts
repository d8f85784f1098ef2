/**
 * engine/redis.ts on the tests' Redis, one server (`npm test`) or a Redis Cluster
 * (`npm run test:cluster`): key walks find keys of every slot under the connection's prefix, and
 * deletes reach them all. On a cluster the keys lie on several masters, each walked on its own.
 */
import { Cluster } from 'ioredis';
import { allKeys, deleteKeysWithPrefix, keyPrefixOf, unlinkKeys } from '../../engine/redis.js';
import { connectTestRedis, describe, expect, test, TEST_REDIS } from '../support/fixtures.js';

// hash tags of many slots: on a three-master cluster they fall on every master
const TAGS = Array.from({ length: 24 }, (_, i) => `{t${i}}`);

describe('Redis connections', () => {
  test('allKeys walks every master under the prefix and strips it; unlinkKeys deletes across slots', async ({ redis, prefix }) => {
    expect(keyPrefixOf(redis)).toBe(prefix);
    await Promise.all(TAGS.map((tag) => redis.set(`${tag}:walked`, '1')));
    await redis.set('{t0}:other', '1');
    if (redis instanceof Cluster) {
      // the per-node connections carry no prefix: the cluster client applies it once
      const holding = await Promise.all(redis.nodes('master').map(async (node) => (await node.keys(`${prefix}*`)).length));
      expect(holding.filter((n) => n > 0).length).toBe(redis.nodes('master').length);
      expect(holding.reduce((a, b) => a + b, 0)).toBe(TAGS.length + 1);
    }

    const walked = await allKeys(redis, '*:walked');
    expect(walked.sort()).toEqual(TAGS.map((tag) => `${tag}:walked`).sort());
    // nothing outside the prefix is seen
    expect(await allKeys(redis, '*')).toHaveLength(TAGS.length + 1);

    expect(await unlinkKeys(redis, walked)).toBe(TAGS.length);
    expect(await allKeys(redis, '*')).toEqual(['{t0}:other']);
  });

  test('deleteKeysWithPrefix deletes every key under the prefix on every master, and no other', async ({ redis, prefix }) => {
    const neighbour = `${prefix.slice(0, -1)}-neighbour:`;
    await Promise.all(TAGS.map((tag) => redis.set(`${tag}:gone`, '1')));
    const beside = connectTestRedis(neighbour);
    try {
      await beside.set('{t1}:stays', '1');
      expect(await deleteKeysWithPrefix(TEST_REDIS, prefix)).toBe(TAGS.length);
      expect(await allKeys(redis, '*')).toEqual([]);
      expect(await beside.get('{t1}:stays')).toBe('1');
    } finally {
      await deleteKeysWithPrefix(TEST_REDIS, neighbour);
      beside.disconnect();
    }
  });
});
