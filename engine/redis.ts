/**
 * Redis connection settings per role. The gateway fails fast: with no offline queue a request
 * during a Redis outage gets a 503 at once instead of piling up. The worker and the command-line
 * tools wait: they retry until Redis is back (`maxRetriesPerRequest: null`, as Bull requires).
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisRole = 'gateway' | 'worker' | 'tool';

const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  gateway: {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // many concurrent requests each send one script: batching them per event-loop tick cuts
    // syscalls and round trips under load
    enableAutoPipelining: true,
    connectTimeout: 2000,
  },
  worker: { maxRetriesPerRequest: null, enableReadyCheck: true },
  tool: { maxRetriesPerRequest: 3, connectTimeout: 5000 },
};

export interface ConnectOptions {
  url: string;
  keyPrefix: string;
  role: RedisRole;
  /** extra ioredis options, applied last */
  overrides?: RedisOptions;
}

export function connectRedis({ url, keyPrefix, role, overrides }: ConnectOptions): Redis {
  return new Redis(url, {
    ...ROLE_OPTIONS[role],
    keyPrefix,
    lazyConnect: false,
    connectionName: `teeka-${role}`,
    ...overrides,
  });
}

/**
 * Whether a client talks to Redis Cluster: the one place that asks. A cluster refuses a multi-key
 * command whose keys are in different slots, so a caller reading several partitions' streams at
 * once splits the read per slot there (gateway/stream-follower.ts).
 */
export function isCluster(client: Redis | Cluster): client is Cluster {
  return client instanceof Cluster;
}

/** Resolves once the connection is ready, or rejects with a readable error after `timeoutMs`. */
export function whenReady(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis did not answer within ${timeoutMs} ms (${redis.options.host}:${redis.options.port})`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/**
 * Delete every key under `prefix` (a test's or a benchmark's own prefix), with a connection of its
 * own so the prefix is matched literally rather than prepended again.
 */
export async function deleteKeysWithPrefix(redisUrl: string, prefix: string): Promise<number> {
  const plain = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  let deleted = 0;
  try {
    const match = `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
    let cursor = '0';
    do {
      const [next, found] = await plain.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      if (found.length) deleted += await plain.unlink(...found);
    } while (cursor !== '0');
  } finally {
    plain.disconnect();
  }
  return deleted;
}
