/**
 * What TEEKA_WAIT_REPLICAS costs: bookings through the engine on a Redis master with one replica
 * (both started here on loopback, and stopped at the end), acknowledged on the master alone
 * (replicas 0) and after one replica confirmed (replicas 1, engine/durability.ts), alternating in one
 * run so both see the same machine.
 *
 *   npm run bench:durability -- [--requests 20000] [--connections 50] [--runs 3]
 *
 * Prints bookings per second, latency percentiles, and how many bookings shared each WAIT (the group
 * commit) per mode and run, and the medians.
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
import { freePort } from './bench-processes.js';
import { createBeneficiaryPool, formatTable, median, percentile, runWithConcurrency } from './bench-support.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    connections: { type: 'string', default: '50' },
    runs: { type: 'string', default: '3' },
  },
});
const REQUESTS = Number(values.requests);
const CONNECTIONS = Number(values.connections);
const RUNS = Number(values.runs);
const MODES = [0, 1] as const;

const dir = mkdtempSync(join(tmpdir(), 'teeka-durability-bench-'));
const servers: ChildProcess[] = [];

async function redisServer(port: number, extra: string[]): Promise<void> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', `${port}.rdb`, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', ...extra], { stdio: 'ignore' });
  servers.push(child);
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    for (let tries = 0; ; tries++) {
      try {
        if (probe.status !== 'ready') await probe.connect();
        if ((await probe.ping()) === 'PONG' && (extra.length === 0 || /master_link_status:up/.test(await probe.info('replication')))) return;
      } catch {
        probe.disconnect();
      }
      if (tries > 300) throw new Error(`redis-server on port ${port} did not come up`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    probe.disconnect();
  }
}

interface Row {
  run: number;
  replicas: number;
  opsPerSecond: number;
  p50: number;
  p99: number;
  perWait: number;
}

async function main(): Promise<void> {
  const masterPort = await freePort();
  await redisServer(masterPort, []);
  await redisServer(await freePort(), ['--replicaof', '127.0.0.1', String(masterPort)]);
  const redis = new Redis(masterPort, '127.0.0.1', { enableAutoPipelining: true });

  const demo = loadCountry(loadConfig().countryFile).data;
  const country = parseCountry({ ...demo, rules: { ...demo.rules, beneficiaries_per_account: 20 } });
  const center = country.data.centers[0]!;
  const slots = country.slotsOf(center);
  const rows: Row[] = [];
  try {
    for (let run = 1; run <= RUNS; run++) {
      for (const replicas of MODES) {
        const engine = new BookingEngine(redis, { country, secret: 'bench-secret', durability: { replicas, timeoutMs: 5000 } });
        const published = await engine.publishSession({
          center_id: center.center_id, date: engine.today() + 1, vaccine: 'COVISHIELD', min_age_limit: 18,
          capacity_dose1: 1_000_000, capacity_dose2: 0, slot_capacity: slots.map(() => 1_000_000),
        });
        if (!published.ok) throw new Error(`publishSession: ${published.status}`);
        const account = `durability-${run}-${replicas}`;
        const ids = await createBeneficiaryPool(redis, account, REQUESTS);
        process.stdout.write(`run ${run}/${RUNS}, replicas ${replicas}: ${REQUESTS} bookings… `);
        const latencies: number[] = [];
        const started = performance.now();
        await runWithConcurrency(REQUESTS, CONNECTIONS, async (i) => {
          const t0 = performance.now();
          const outcome = await engine.book({ accountId: account, sessionId: published.sessionId, slot: slots[0]!, dose: 1, beneficiaryIds: [ids[i]!] });
          if (!outcome.ok) throw new Error(`booking refused: ${outcome.status}`);
          latencies.push(performance.now() - t0);
        });
        const seconds = (performance.now() - started) / 1000;
        latencies.sort((a, b) => a - b);
        const { waits, changes } = engine.durability.counts;
        rows.push({ run, replicas, opsPerSecond: REQUESTS / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), perWait: waits ? changes / waits : 0 });
        console.log(`${Math.round(REQUESTS / seconds)} /s`);
        await redis.flushall(); // the bench's own servers: nothing else lives there
      }
    }
  } finally {
    redis.disconnect();
  }

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const ms = (n: number) => n.toFixed(2);
  const of = (replicas: number) => rows.filter((r) => r.replicas === replicas);
  console.log(`\nmaster + 1 replica on loopback; ${REQUESTS} bookings per mode per run; ${CONNECTIONS} concurrent; ${RUNS} runs\n`);
  console.log(
    formatTable(
      ['run', 'replicas', 'bookings/s', 'p50 ms', 'p99 ms', 'bookings per WAIT'],
      [
        ...rows.map((r) => [String(r.run), String(r.replicas), fmt(r.opsPerSecond), ms(r.p50), ms(r.p99), r.replicas ? r.perWait.toFixed(1) : '-']),
        ...MODES.map((m) => [
          'median', String(m), fmt(median(of(m).map((r) => r.opsPerSecond))), ms(median(of(m).map((r) => r.p50))), ms(median(of(m).map((r) => r.p99))),
          m ? median(of(m).map((r) => r.perWait)).toFixed(1) : '-',
        ]),
      ],
    ),
  );
  const ratios = of(1).map((r, i) => r.opsPerSecond / of(0)[i]!.opsPerSecond);
  console.log(`\nthroughput with one replica confirming ÷ master alone, median of the runs' ratios: ${median(ratios).toFixed(2)}`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const server of servers) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
