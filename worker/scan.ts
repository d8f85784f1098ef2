/**
 * Walking keys by pattern under the connection's key prefix. ioredis prefixes key arguments but not
 * SCAN's MATCH pattern, nor strips the prefix from what SCAN returns: both are done here.
 */
import type { Redis } from 'ioredis';

/** A glob that matches `text` literally. */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Every key matching `pattern` (relative to the connection's prefix), relative to the prefix again,
 * in chunks as SCAN finds them. A key may come twice if the keyspace is rehashed during the walk.
 */
export async function* scanKeys(redis: Redis, pattern: string, count = 1000): AsyncGenerator<string[]> {
  const prefix = redis.options.keyPrefix ?? '';
  const match = `${globLiteral(prefix)}${pattern}`;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', match, 'COUNT', count);
    cursor = next;
    if (found.length) yield found.map((key) => key.slice(prefix.length));
  } while (cursor !== '0');
}

/** Like scanKeys, all at once and without repeats. */
export async function allKeys(redis: Redis, pattern: string): Promise<string[]> {
  const seen = new Set<string>();
  for await (const chunk of scanKeys(redis, pattern)) for (const key of chunk) seen.add(key);
  return [...seen];
}
