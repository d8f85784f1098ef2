/**
 * What a booking costs Redis, and where it runs: the same bookings through the engine on one
 * redis-server and on a Redis Cluster of 3 masters with a replica each (both started here on loopback
 * ports and stopped at the end), alternating in one run so both see the same machine.
 *
 *   npm run bench:scale -- [--bookings 20000] [--sessions 50] [--connections 50] [--runs 3]
 *
 * Bookings go to many sessions and many accounts (4 beneficiaries each), as a rush over a country
 * does. For each node it reads `INFO commandstats` (script calls and their microseconds) and
 * `INFO cpu` (the whole server's CPU, networking included) before and after, and prints per target:
 * bookings per second, Redis script µs and Redis CPU µs per booking, and each master's share of the
 * script calls: the spread the partitions give (docs/scale.md uses these figures).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadConfig } from '../engine/config.js';
import { BookingEngine } from '../engine/engine.js';
import { loadCountry, parseCountry } from '../engine/masterdata.js';
import { Partitions } from '../engine/partitions.js';
import { connectRedis, parseClusterNodes, type ClusterNode, type RedisClient } from '../engine/redis.js';
import { freePort } from './bench-processes.js';
import { createBeneficiaryPool, formatTable, median, runWithConcurrency } from './bench-support.js';
import { PrivateCluster } from './private-cluster.js';

const { values } = parseArgs({
  options: {
    bookings: { type: 'string', default: '20000' },
    sessions: { type: 'string', default: '50' },
    connections: { type: 'string', default: '50' },
    runs: { type: 'string', default: '3' },
  },
});
const BOOKINGS = Number(values.bookings);
const SESSIONS = Number(values.sessions);
const CONNECTIONS = Number(values.connections);
const RUNS = Number(values.runs);
const PER_ACCOUNT = 4;

const dir = mkdtempSync(join(tmpdir(), 'teeka-scale-bench-'));
let single: ChildProcess | undefined;
let cluster: PrivateCluster | undefined;

interface NodeFigures {
  port: number;
  scriptCalls: number;
  scriptUsec: number;
  cpuUsec: number;
}

async function nodeFigures(port: number): Promise<NodeFigures> {
  const node = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  node.on('error', () => {});
  try {
    await node.connect();
    const stats = await node.info('commandstats');
    const cpu = await node.info('cpu');
    const evalsha = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(stats);
    const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
    return { port, scriptCalls: Number(evalsha?.[1] ?? 0), scriptUsec: Number(evalsha?.[2] ?? 0), cpuUsec: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6 };
  } finally {
    node.disconnect();
  }
}

async function flushNode(port: number): Promise<void> {
  const node = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  node.on('error', () => {});
  try {
    await node.connect();
    await node.flushall();
  } finally {
    node.disconnect();
  }
}

interface Target {
  name: 'one node' | 'cluster';
  redis: RedisClient;
  /** the ports whose figures count: every node (a replica's CPU is part of what a booking costs) */
  ports: () => Promise<number[]>;
  masters: () => Promise<number[]>;
}

interface Row {
  run: number;
  target: Target['name'];
  perSecond: number;
  scriptUsecPerBooking: number;
  /** the masters' CPU: one node has no replica, so replicas are counted apart */
  cpuUsecPerBooking: number;
  replicaCpuUsecPerBooking: number;
  /** each master's share of the script calls, largest first */
  spread: number[];
}

async function startSingle(): Promise<number> {
  const port = await freePort();
  // persistence as the cluster's nodes (scripts/redis-cluster.sh): AOF everysec, no snapshots
  single = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  for (let tries = 0; ; tries++) {
    try {
      if (probe.status !== 'ready') await probe.connect();
      if ((await probe.ping()) === 'PONG') break;
    } catch {
      probe.disconnect();
    }
    if (tries > 300) throw new Error(`redis-server on port ${port} did not come up`);
    await new Promise((r) => setTimeout(r, 50));
  }
  probe.disconnect();
  return port;
}

async function rush(target: Target, run: number): Promise<Row> {
  const demo = loadCountry(loadConfig().countryFile).data;
  const country = parseCountry(demo);
  const redis = target.redis;
  const engine = new BookingEngine(redis, { country, secret: 'bench-secret', partitions: new Partitions(loadConfig().partitions) });
  const centers = country.data.centers.filter((c) => country.slotsOf(c).length > 0).slice(0, SESSIONS);
  const perSession = Math.ceil(BOOKINGS / centers.length);
  const sessions: { id: string; slot: string }[] = [];
  for (const center of centers) {
    const slots = country.slotsOf(center);
    const published = await engine.publishSession({
      center_id: center.center_id, date: engine.today() + 1, vaccine: 'COVISHIELD', min_age_limit: 18,
      capacity_dose1: perSession, capacity_dose2: 0, slot_capacity: slots.map(() => perSession),
    });
    if (!published.ok) throw new Error(`publishSession: ${published.status}`);
    sessions.push({ id: published.sessionId, slot: slots[0]! });
  }
  const accounts = Math.ceil(BOOKINGS / PER_ACCOUNT);
  const beneficiaries: string[][] = new Array(accounts);
  await runWithConcurrency(accounts, 100, async (a) => {
    beneficiaries[a] = await createBeneficiaryPool(redis, `scale${a}`, PER_ACCOUNT, a * PER_ACCOUNT);
  });

  const ports = await target.ports();
  const before = await Promise.all(ports.map(nodeFigures));
  const started = performance.now();
  await runWithConcurrency(BOOKINGS, CONNECTIONS, async (i) => {
    const account = Math.floor(i / PER_ACCOUNT);
    const session = sessions[i % sessions.length]!;
    const outcome = await engine.book({
      accountId: `scale${account}`, sessionId: session.id, slot: session.slot, dose: 1,
      beneficiaryIds: [beneficiaries[account]![i % PER_ACCOUNT]!],
    });
    if (!outcome.ok) throw new Error(`booking refused: ${outcome.status}`);
  });
  const seconds = (performance.now() - started) / 1000;
  const after = await Promise.all(ports.map(nodeFigures));
  const delta = after.map((a, i) => ({ port: a.port, scriptCalls: a.scriptCalls - before[i]!.scriptCalls, scriptUsec: a.scriptUsec - before[i]!.scriptUsec, cpuUsec: a.cpuUsec - before[i]!.cpuUsec }));
  const masters = new Set(await target.masters());
  // the bench's own servers: nothing else lives there, and the next run publishes the same sessions
  for (const master of masters) await flushNode(master);
  const calls = delta.filter((d) => masters.has(d.port)).map((d) => d.scriptCalls);
  const totalCalls = calls.reduce((a, b) => a + b, 0);
  return {
    run,
    target: target.name,
    perSecond: BOOKINGS / seconds,
    scriptUsecPerBooking: delta.reduce((a, d) => a + d.scriptUsec, 0) / BOOKINGS,
    cpuUsecPerBooking: delta.filter((d) => masters.has(d.port)).reduce((a, d) => a + d.cpuUsec, 0) / BOOKINGS,
    replicaCpuUsecPerBooking: delta.filter((d) => !masters.has(d.port)).reduce((a, d) => a + d.cpuUsec, 0) / BOOKINGS,
    spread: calls.map((c) => c / totalCalls).sort((a, b) => b - a),
  };
}

async function main(): Promise<void> {
  console.log(`starting one redis-server and a cluster of 3 masters + 3 replicas on loopback…`);
  const singlePort = await startSingle();
  cluster = await PrivateCluster.start();
  const privateCluster = cluster;
  const targets: Target[] = [
    {
      name: 'one node',
      redis: connectRedis({ address: { url: `redis://127.0.0.1:${singlePort}` }, keyPrefix: '', role: 'tool', overrides: { enableAutoPipelining: true } }),
      ports: async () => [singlePort],
      masters: async () => [singlePort],
    },
    {
      name: 'cluster',
      redis: connectRedis({ address: { cluster: parseClusterNodes(privateCluster.seeds) as ClusterNode[] }, keyPrefix: '', role: 'tool', overrides: { enableAutoPipelining: true } }),
      ports: async () => privateCluster.ports,
      masters: () => privateCluster.masters(),
    },
  ];
  const rows: Row[] = [];
  try {
    for (let run = 1; run <= RUNS; run++) {
      for (const target of targets) {
        process.stdout.write(`run ${run}/${RUNS}, ${target.name}: ${BOOKINGS} bookings over ${SESSIONS} sessions… `);
        const row = await rush(target, run);
        rows.push(row);
        console.log(`${Math.round(row.perSecond)} /s`);
      }
    }
  } finally {
    for (const target of targets) target.redis.disconnect();
  }

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const share = (spread: number[]) => spread.map((s) => `${(s * 100).toFixed(0)}%`).join(' / ');
  const of = (name: Target['name']) => rows.filter((r) => r.target === name);
  console.log(`\n${BOOKINGS} bookings per target per run over ${SESSIONS} sessions, ${CONNECTIONS} concurrent, through the engine; ${RUNS} runs\n`);
  console.log(
    formatTable(
      ['run', 'target', 'bookings/s', 'script µs/booking', 'master CPU µs/booking', 'replica CPU µs/booking', "masters' share of script calls"],
      [
        ...rows.map((r) => [String(r.run), r.target, fmt(r.perSecond), r.scriptUsecPerBooking.toFixed(1), r.cpuUsecPerBooking.toFixed(1), r.replicaCpuUsecPerBooking.toFixed(1), share(r.spread)]),
        ...(['one node', 'cluster'] as const).map((name) => [
          'median', name, fmt(median(of(name).map((r) => r.perSecond))), median(of(name).map((r) => r.scriptUsecPerBooking)).toFixed(1),
          median(of(name).map((r) => r.cpuUsecPerBooking)).toFixed(1), median(of(name).map((r) => r.replicaCpuUsecPerBooking)).toFixed(1), share(of(name).at(-1)!.spread),
        ]),
      ],
    ),
  );
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    single?.kill('SIGKILL');
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
