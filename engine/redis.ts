/**
 * Redis connections: the one place that opens them, for one server (REDIS_URL) or a Redis Cluster
 * (REDIS_CLUSTER, through ioredis's Cluster client), and the key walks that must cover every master.
 *
 * Settings per role. The gateway fails fast: with no offline queue a request during a Redis outage
 * gets a 503 at once instead of piling up. The worker and the command-line tools wait: they retry
 * until Redis is back (`maxRetriesPerRequest: null`, as Bull requires).
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A connection to one Redis server or to a Redis Cluster; every command teeka sends works on both. */
export type RedisClient = Redis | Cluster;

export interface ClusterNode {
  host: string;
  port: number;
}

/**
 * Where Redis is: one server's URL, or seed nodes of a Redis Cluster (any few of its nodes: the
 * client learns the rest, and which master serves which slot, from them).
 */
export type RedisAddress = { url: string; cluster?: undefined } | { cluster: ClusterNode[]; url?: undefined };

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

/**
 * What a role does while a cluster fails over (a master dies and its replica takes over: the
 * cluster's node timeout and an election, seconds) or reshards. ioredis retries a command that meets
 * MOVED, TRYAGAIN, CLUSTERDOWN or a closed master connection `maxRedirections` times, waiting
 * `retryDelayOnFailover` and the like between tries. The gateway keeps the defaults (16 tries of
 * 100 ms: its requests are answered 503 meanwhile); the worker waits about 200 s, as it waits out a
 * single server's restart.
 */
const ROLE_CLUSTER_OPTIONS: Record<RedisRole, ClusterOptions> = {
  gateway: {},
  worker: { maxRedirections: 1000, retryDelayOnFailover: 200, retryDelayOnClusterDown: 200, retryDelayOnTryAgain: 200 },
  tool: {},
};

export interface ConnectOptions {
  address: RedisAddress;
  keyPrefix: string;
  role: RedisRole;
  /** extra ioredis options, applied last */
  overrides?: RedisOptions;
}

/**
 * The role's options for a Cluster client. What decides how commands are queued and batched, and the
 * key prefix, belong to the cluster as a whole; the rest goes to each node's connection. The nodes
 * get no key prefix: the cluster client applies it once, before routing by slot. Reads go to masters
 * only: a replica may lag, and the engine reads what it has just written.
 */
function clusterOptionsOf(role: RedisRole, options: RedisOptions): ClusterOptions {
  const { keyPrefix, enableOfflineQueue, enableAutoPipelining, lazyConnect, ...perNode } = options;
  return {
    ...ROLE_CLUSTER_OPTIONS[role],
    keyPrefix,
    lazyConnect,
    scaleReads: 'master',
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
    redisOptions: perNode,
  };
}

export function connectRedis({ address, keyPrefix, role, overrides }: ConnectOptions): RedisClient {
  const options: RedisOptions = {
    ...ROLE_OPTIONS[role],
    keyPrefix,
    lazyConnect: false,
    connectionName: `teeka-${role}`,
    ...overrides,
  };
  if (address.cluster) return new Cluster(address.cluster, clusterOptionsOf(role, options));
  return new Redis(address.url, options);
}

/** The address for messages: the URL without its password, or the cluster's seed nodes. */
export function describeRedis(address: RedisAddress): string {
  if (address.cluster) return `Redis Cluster ${address.cluster.map((n) => `${n.host}:${n.port}`).join(',')}`;
  return `Redis at ${address.url.replace(/\/\/[^@/]*@/, '//')}`;
}

/**
 * `REDIS_CLUSTER` (`host:port,host:port,…`) as seed nodes, or a reason it is not one. IPv6 hosts
 * are written in brackets (`[::1]:7101`).
 */
export function parseClusterNodes(text: string): ClusterNode[] | string {
  const nodes: ClusterNode[] = [];
  for (const item of text.split(',').map((s) => s.trim())) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(item);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) return `expected host:port,host:port,… (seed nodes of the cluster), got "${item}"`;
    nodes.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return nodes;
}

/**
 * Whether a client talks to Redis Cluster: the one place that asks. A cluster refuses a multi-key
 * command whose keys are in different slots, so a caller reading several partitions' streams at
 * once splits the read per slot there (gateway/stream-follower.ts).
 */
export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** Resolves once the connection is ready, or rejects with a readable error after `timeoutMs`. */
export function whenReady(redis: RedisClient, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis did not answer within ${timeoutMs} ms (${where(redis)})`));
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

function where(redis: RedisClient): string {
  if (redis instanceof Cluster) return `Redis Cluster, ${redis.nodes('master').length} masters known, state ${redis.status}`;
  return `${redis.options.host}:${redis.options.port}`;
}

/** The key prefix ioredis puts before every key argument of this connection. */
export function keyPrefixOf(redis: RedisClient): string {
  return redis.options.keyPrefix ?? '';
}

/** A glob that matches `text` literally. */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Every key matching `pattern` (a glob relative to the connection's prefix), relative to the prefix
 * again, in chunks as SCAN finds them. ioredis prefixes key arguments but not SCAN's MATCH, nor strips
 * the prefix from what SCAN returns: both are done here. On a cluster SCAN walks one node, so every
 * master is walked in turn (on each node's own connection, which has no prefix). A key may come
 * twice if the keyspace is rehashed or a slot moves during the walk; a chunk's keys may lie in
 * different slots.
 */
export async function* scanKeys(redis: RedisClient, pattern: string, count = 1000): AsyncGenerator<string[]> {
  const prefix = keyPrefixOf(redis);
  const match = `${globLiteral(prefix)}${pattern}`;
  // a cluster lists its masters once it has read the slot map
  if (redis instanceof Cluster && redis.status !== 'ready') await whenReady(redis, 30_000);
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', match, 'COUNT', count);
      cursor = next;
      if (found.length) yield found.map((key) => key.slice(prefix.length));
    } while (cursor !== '0');
  }
}

/** Like scanKeys, all at once and without repeats. */
export async function allKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const seen = new Set<string>();
  for await (const chunk of scanKeys(redis, pattern)) for (const key of chunk) seen.add(key);
  return [...seen];
}

/**
 * UNLINK keys that may lie in different slots (what scanKeys found): one command on one server; on
 * a cluster one per key, since a multi-key command must stay in one slot (ioredis sends them
 * without waiting for each answer).
 */
export async function unlinkKeys(redis: RedisClient, keysToUnlink: string[]): Promise<number> {
  if (!keysToUnlink.length) return 0;
  if (!(redis instanceof Cluster)) return redis.unlink(...keysToUnlink);
  const counts = await Promise.all(keysToUnlink.map((key) => redis.unlink(key)));
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Delete every key under `prefix` (a test's or a benchmark's own prefix), with a connection of its
 * own so the prefix is matched literally rather than prepended again.
 */
export async function deleteKeysWithPrefix(address: RedisAddress, prefix: string): Promise<number> {
  const plain = connectRedis({ address, keyPrefix: '', role: 'tool' });
  let deleted = 0;
  try {
    await whenReady(plain, 10_000);
    for await (const found of scanKeys(plain, `${globLiteral(prefix)}*`)) deleted += await unlinkKeys(plain, found);
  } finally {
    plain.disconnect();
  }
  return deleted;
}
