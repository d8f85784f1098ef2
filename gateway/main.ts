/**
 * The gateway process: checks its configuration, country file and uWS build, and that Redis agrees
 * with PostgreSQL (worker/deployment.ts: an emptied or foreign Redis is refused, exit 2), then runs
 * one request thread per core on one port. The main thread serves no requests: it aggregates the threads'
 * metrics once a second, reads the queue depth the worker publishes, and coordinates shutdown.
 *
 *   node dist/gateway/main.js      (PORT, GATEWAY_THREADS and the rest: see engine/config.ts)
 */
import { createServer } from 'node:net';
import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, Registry } from 'prom-client';
import { configWarnings, integer, loadConfig, settingsOrExit, testMobilesOf } from '../engine/config.js';
import { loadCountry } from '../engine/masterdata.js';
import { Partitions } from '../engine/partitions.js';
import { connectRedis, whenReady } from '../engine/redis.js';
import { openPool } from '../worker/database.js';
import { admitRedis, DISAGREEMENT_EXIT_CODE, RedisDisagrees, watchDeploymentMarker } from '../worker/deployment.js';
import { databaseSchema } from '../worker/settings.js';
import { ConnectionsPerAddress } from './connections-per-address.js';
import { PlaceChanges } from './place-changes.js';
import type { MainToThread, ThreadData, ThreadToMain } from './messages.js';
import { QueueGauges, readPublishedDepth, type PublishedDepth } from './queue-gauges.js';
import { StatsHistory } from './stats.js';
import { isNativeUws, loadUws } from './uws-adapter.js';

const config = settingsOrExit('gateway', () => loadConfig());
const country = loadCountry(config.countryFile);
// a test-number prefix that fits no mobile of the country is refused here, before any thread starts
settingsOrExit('gateway', () => testMobilesOf(config, country));
for (const warning of configWarnings(config)) console.warn(`gateway: warning: ${warning}`);
loadUws(config.allowUwsFallback); // refuse the JS fallback before starting any thread
await refuseIfPortServed(config.host, config.port);

/** GATEWAY_YOUNG_GENERATION_MB: V8 young-generation size per request thread. Default 64 */
const YOUNG_GENERATION_MB = settingsOrExit('gateway', () => integer(process.env, 'GATEWAY_YOUNG_GENERATION_MB', 64, 8, 1024));

// the one worker setting the gateway needs: where PostgreSQL's deployment record is
const schema = settingsOrExit('gateway', () => databaseSchema());
// the main thread's own connections: queue depth is read once here, not by every request thread
const redis = connectRedis({ address: config.redis, keyPrefix: config.redisKeyPrefix, role: 'gateway', overrides: { enableAutoPipelining: false } });
const place = { redisAddress: config.redis, redisKeyPrefix: config.redisKeyPrefix, schema };

/** The deployment marker to watch while serving (null: PostgreSQL has no record yet), or why not to serve. */
async function checkRedisAgainstRecord(): Promise<string | null | RedisDisagrees> {
  await whenReady(redis, 30_000);
  // PostgreSQL may be down: the check then trusts the marker, and must not hold the start for long
  const pool = openPool({ databaseUrl: config.databaseUrl, schema, max: 1, connectTimeoutMs: 2000, statementTimeoutMs: 5000, onIdleError: () => {} });
  try {
    return await admitRedis(redis, pool, place, new Partitions(config.partitions), (line) => console.log(`gateway: ${line}`), config.layout);
  } catch (err) {
    if (err instanceof RedisDisagrees) return err;
    throw err;
  } finally {
    await pool.end().catch(() => {});
  }
}

const deploymentId = await checkRedisAgainstRecord();
if (deploymentId instanceof RedisDisagrees) {
  console.error(`gateway: not starting: ${deploymentId.message}`);
  process.exit(DISAGREEMENT_EXIT_CODE);
}

const threads: Worker[] = [];
// one count of open WebSockets per client address for every thread (see connections-per-address.ts)
const socketsPerAddress = ConnectionsPerAddress.allocate();
// one count of changes per fair admission place for every thread (see place-changes.ts)
const placeChanges = PlaceChanges.allocate();
const latestMetrics = new Map<Worker, object[]>();
let stopping = false;

function startThread(index: number, port: number): Promise<{ worker: Worker; port: number }> {
  const worker = new Worker(new URL('./thread.js', import.meta.url), {
    workerData: { index, port, socketsPerAddress, placeChanges } satisfies ThreadData,
    // a request allocates many short-lived objects (ioredis commands, promises, headers): a larger
    // young generation makes the frequent scavenges rarer and cheaper
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  });
  threads.push(worker);
  return new Promise((resolve, reject) => {
    worker.on('message', (message: ThreadToMain) => {
      if (message.type === 'listening') resolve({ worker, port: message.port });
      else if (message.type === 'metrics') latestMetrics.set(worker, message.metrics);
    });
    worker.once('error', (err) => {
      console.error(`gateway thread ${index} failed:`, err);
      reject(err);
      if (!stopping) process.exit(1);
    });
    worker.once('exit', (code) => {
      if (!stopping) {
        console.error(`gateway thread ${index} exited (${code}); stopping the gateway so a supervisor can restart it`);
        process.exit(1);
      }
    });
  });
}

const broadcast = (message: MainToThread) => threads.forEach((t) => t.postMessage(message));

const stats = new StatsHistory();
const queueGauges = new QueueGauges();

async function aggregateMetrics(): Promise<void> {
  // what the worker published, or unknown (no worker, or Redis unreachable): never the last values
  const published: PublishedDepth | null = await readPublishedDepth(redis).catch(() => null);
  queueGauges.set(published);
  const queueDepth = published ? { ...published.depth, publishedAgeMs: published.ageMs } : null;
  broadcast({ type: 'queue-depth', depth: queueDepth });
  const all = [...latestMetrics.values()];
  if (!all.length) return;
  const threadsRegistry: Registry = AggregatorRegistry.aggregate(all as Parameters<typeof AggregatorRegistry.aggregate>[0]);
  const registry: Registry = Registry.merge([threadsRegistry, ...queueGauges.registries()]);
  broadcast({ type: 'metrics-text', text: await registry.metrics() });
  if (stats.record(await threadsRegistry.getMetricsAsJSON(), queueDepth)) broadcast({ type: 'stats', samples: stats.samples });
}

/**
 * Refuses to start on a port that something already serves. uWS sets SO_REUSEPORT on every listening
 * socket (that is how this process's threads share one port), so a second teeka on the same port
 * would bind as well and silently take a share of the connections. A plain Node listen sets no
 * SO_REUSEPORT, so the kernel refuses it while anything listens on the port; the probe is closed
 * again before the threads listen. uWS's LIBUS_LISTEN_EXCLUSIVE_PORT is not the tool: it makes the
 * first thread's socket exclusive, and then the other threads cannot join the port. Two gateways
 * started within the same instant could both pass the probe; a supervisor starts one at a time.
 */
async function refuseIfPortServed(host: string, port: number): Promise<void> {
  if (port === 0) return; // the kernel picks a free port
  const refusal = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    const probe = createServer();
    probe.once('error', resolve);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(null)));
  });
  if (!refusal) return;
  const why =
    refusal.code === 'EADDRINUSE'
      ? 'is already in use (another teeka gateway, or another server, listens there)'
      : `cannot be listened on (${refusal.code ?? refusal.message})`;
  console.error(`teeka gateway: ${host}:${port} ${why}. Refusing to start; stop the other process or choose another PORT.`);
  process.exit(1);
}

// the first thread may be given port 0 (tests): the others then join the port it got
const first = await startThread(0, config.port);
await Promise.all(Array.from({ length: config.gatewayThreads - 1 }, (_, i) => startThread(i + 1, first.port)));
// One aggregation at a time: an overlapping one would set the shared gauges while the other renders
// them, and publish text that says the worker is down beside its last depth figures.
let aggregating = false;
const metricsTimer = setInterval(() => {
  if (aggregating) return;
  aggregating = true;
  aggregateMetrics()
    .catch((err) => console.error('metrics:', err))
    .finally(() => (aggregating = false));
}, 1000);
// Redis emptied under a running gateway (a restart without its data): stop serving on it
if (deploymentId) {
  watchDeploymentMarker(redis, deploymentId, place, (message) => {
    console.error(`gateway: ${message}`);
    void shutdown('Redis lost its deployment marker', DISAGREEMENT_EXIT_CODE);
  });
}

console.log(
  `teeka gateway: ${country.data.country.name}, ${country.data.centers.length} centres; ` +
    `listening on http://${config.host}:${first.port} with ${threads.length} thread(s), uWS ${isNativeUws() ? 'native' : 'JS fallback'}`,
);

async function shutdown(reason: string, exitCode = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`gateway: ${reason}, closing`);
  clearInterval(metricsTimer);
  const stopped = threads.map((t) => new Promise<void>((resolve) => t.on('message', (m: ThreadToMain) => m.type === 'stopped' && resolve())));
  broadcast({ type: 'shutdown' });
  await Promise.race([Promise.all(stopped), new Promise((r) => setTimeout(r, 3000))]);
  await Promise.all(threads.map((t) => t.terminate()));
  redis.disconnect();
  process.exit(exitCode);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
