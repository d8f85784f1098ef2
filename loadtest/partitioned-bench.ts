/**
 * What the partitioned booking (engine/partitioned-booking.ts) costs beside the single-slot one, on
 * one Redis (REDIS_URL) or on a cluster (REDIS_CLUSTER): bookings per second from one process, and
 * Redis's own work per booking from `INFO commandstats` on every master (commands, counting those a
 * script runs, and CPU microseconds), with each master's share of the script calls.
 *
 *   npm run bench:partitioned -- [--bookings 4000] [--connections 50] [--accounts 200] [--sessions 16]
 *
 * Every booking is one new beneficiary (the capacity is large, so each succeeds), of one of
 * `--accounts` accounts, into one of `--sessions` sessions. INFO commandstats counts every client's
 * commands: on a Redis others use at the same time the figures include theirs, so the run reports
 * the script calls it expected beside those counted.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig } from '../engine/config.js';
import { BookingEngine, type BookingRequest } from '../engine/engine.js';
import { keys } from '../engine/keys.js';
import { loadCountry } from '../engine/masterdata.js';
import { PartitionedBooking } from '../engine/partitioned-booking.js';
import { connectRedis, type RedisClient } from '../engine/redis.js';
import { createBeneficiaryPool, deleteKeysWithPrefix, formatTable, requireLoopbackServices, runWithConcurrency } from './bench-support.js';

const { values } = parseArgs({
  options: {
    bookings: { type: 'string', default: '4000' },
    connections: { type: 'string', default: '50' },
    accounts: { type: 'string', default: '200' },
    sessions: { type: 'string', default: '16' },
  },
});
const BOOKINGS = Number(values.bookings);
const CONNECTIONS = Number(values.connections);
const ACCOUNTS = Number(values.accounts);
const SESSIONS = Number(values.sessions);

const config = loadConfig();
requireLoopbackServices(config);
const prefix = `bench-partitioned:${randomUUID().slice(0, 8)}:`;
const redis = connectRedis({ address: config.redis, keyPrefix: prefix, role: 'tool', overrides: { enableAutoPipelining: true } });

// the pools are written straight into the accounts (no addBeneficiary, so no per-account limit)
const country = loadCountry(config.countryFile);
const engine = new BookingEngine(redis, { country, secret: 'bench-secret' });
const partitioned = new PartitionedBooking(engine);

/** Every master: the cluster's, or the one server. */
function masters(client: RedisClient): RedisClient[] {
  return 'nodes' in client ? (client.nodes('master') as RedisClient[]) : [client];
}

interface Stats {
  calls: number;
  usec: number;
  evalsha: number;
}

/** Calls and CPU microseconds of every command, and EVALSHA calls, per master (`INFO commandstats`). */
async function commandStats(): Promise<Map<string, Stats>> {
  const stats = new Map<string, Stats>();
  for (const node of masters(redis)) {
    const text = String(await node.call('INFO', 'commandstats'));
    const entry: Stats = { calls: 0, usec: 0, evalsha: 0 };
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      entry.calls += Number(match[2]);
      entry.usec += Number(match[3]);
      if (match[1] === 'evalsha') entry.evalsha += Number(match[2]);
    }
    const options = (node as { options?: { host?: string; port?: number } }).options;
    stats.set(`${options?.host ?? '?'}:${options?.port ?? '?'}`, entry);
  }
  return stats;
}

function delta(before: Map<string, Stats>, after: Map<string, Stats>): Map<string, Stats> {
  return new Map(
    [...after].map(([node, a]) => {
      const b = before.get(node) ?? { calls: 0, usec: 0, evalsha: 0 };
      return [node, { calls: a.calls - b.calls, usec: a.usec - b.usec, evalsha: a.evalsha - b.evalsha }];
    }),
  );
}

async function main(): Promise<void> {
  const center = country.data.centers[0]!;
  const slots = country.slotsOf(center);
  const input = (day: number) => ({
    center_id: center.center_id,
    date: engine.today() + day,
    vaccine: 'COVISHIELD',
    min_age_limit: 18,
    capacity_dose1: 1_000_000,
    capacity_dose2: 0,
    slot_capacity: slots.map(() => 1_000_000),
  });
  const singleSessions: string[] = [];
  const partitionedSessions: string[] = [];
  for (let day = 1; day <= SESSIONS; day++) {
    const single = await engine.publishSession(input(day));
    const spread = await partitioned.publishSession(input(day));
    if (!single.ok || !spread.ok) throw new Error('publishSession refused');
    singleSessions.push(single.sessionId);
    partitionedSessions.push(spread.sessionId);
  }

  const perAccount = Math.ceil(BOOKINGS / ACCOUNTS);
  const requests = async (label: string, intoPartition: boolean, sessions: string[]): Promise<BookingRequest[]> => {
    const list: BookingRequest[] = [];
    for (let a = 0; a < ACCOUNTS && list.length < BOOKINGS; a++) {
      const accountId = `bench-${label}-${a}`;
      const ids = await createBeneficiaryPool(redis, accountId, perAccount);
      if (intoPartition) {
        const hash = await redis.hgetall(keys.account(accountId));
        await redis.hset(keys.forAccount(engine.partitions, accountId).bookingAccount(), hash);
      }
      for (const id of ids) list.push({ accountId, sessionId: sessions[list.length % sessions.length]!, slot: slots[0]!, dose: 1, beneficiaryIds: [id] });
    }
    return list.slice(0, BOOKINGS);
  };

  const rows: string[][] = [];
  const shares: string[][] = [];
  for (const [label, book, sessions, scriptsPerBooking] of [
    ['single-slot', (r: BookingRequest) => engine.book(r), singleSessions, 1],
    ['partitioned', (r: BookingRequest) => partitioned.book(r), partitionedSessions, 3],
  ] as const) {
    const list = await requests(label, label === 'partitioned', sessions);
    const before = await commandStats();
    const started = performance.now();
    let refused = 0;
    await runWithConcurrency(list.length, CONNECTIONS, async (i) => {
      if (!(await book(list[i]!)).ok) refused += 1;
    });
    const seconds = (performance.now() - started) / 1000;
    const used = delta(before, await commandStats());
    if (refused) throw new Error(`${refused} ${label} bookings were refused; the benchmark expects every one to succeed`);
    const total = [...used.values()].reduce((t, s) => ({ calls: t.calls + s.calls, usec: t.usec + s.usec, evalsha: t.evalsha + s.evalsha }), { calls: 0, usec: 0, evalsha: 0 });
    rows.push([
      label,
      String(list.length),
      Math.round(list.length / seconds).toLocaleString('en-US'),
      (total.calls / list.length).toFixed(2),
      (total.usec / list.length).toFixed(1),
      `${total.evalsha} (expected ${scriptsPerBooking * list.length})`,
    ]);
    for (const [node, s] of used) shares.push([label, node, String(s.evalsha), `${((100 * s.evalsha) / Math.max(1, total.evalsha)).toFixed(0)}%`, (s.usec / list.length).toFixed(1)]);
  }

  const where = config.redis.cluster ? `Redis Cluster (${masters(redis).length} masters)` : `Redis ${config.redis.url}`;
  console.log(`\n${where}; ${BOOKINGS} bookings per path, ${CONNECTIONS} concurrent, ${ACCOUNTS} accounts, ${SESSIONS} sessions\n`);
  console.log(formatTable(['path', 'bookings', 'bookings/s (one process)', 'Redis commands / booking (with those inside scripts)', 'Redis CPU µs / booking', 'EVALSHA calls'], rows));
  console.log('\nper master\n');
  console.log(formatTable(['path', 'master', 'EVALSHA calls', 'share', 'CPU µs / booking'], shares));
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await deleteKeysWithPrefix(config.redis, prefix);
    redis.disconnect();
  });
