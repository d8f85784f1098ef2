/**
 * One gateway thread: its own Redis connections, availability book and uWS app, listening on the
 * shared port (uWS sets SO_REUSEPORT, so the kernel spreads connections over the threads; main.ts
 * first makes sure no other process serves that port).
 * It talks to the main thread for metrics aggregation, queue depth and shutdown.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openPool } from '../worker/database.js';
import { databaseSchema } from '../worker/settings.js';
import { loadConfig } from '../engine/config.js';
import { loadCountry } from '../engine/masterdata.js';
import { connectRedis, whenReady } from '../engine/redis.js';
import { REQUEST_ERRORS } from '../engine/status.js';
import { createGateway } from './app.js';
import { apiError } from './http.js';
import { ConnectionsPerAddress } from './connections-per-address.js';
import type { MainToThread, ThreadData, ThreadToMain } from './messages.js';
import type { StatsSample } from './stats.js';
import { startServer } from './uws-adapter.js';

const { port, socketsPerAddress, placeChanges } = workerData as ThreadData;
const send = (message: ThreadToMain) => parentPort!.postMessage(message);

const config = loadConfig();
const country = loadCountry(config.countryFile);
const redis = connectRedis({ address: config.redis, keyPrefix: config.redisKeyPrefix, role: 'gateway' });
// the two streams each thread follows (availability, login revocations), each blocking its own connection
const streamRedis = connectRedis({ address: config.redis, keyPrefix: config.redisKeyPrefix, role: 'worker' });
const revocationRedis = connectRedis({ address: config.redis, keyPrefix: config.redisKeyPrefix, role: 'worker' });
// in the deployment's schema (a vaccinator's day view reads it); an idle client's error must not
// crash the thread, health reports it
const pgPool = openPool({
  databaseUrl: config.databaseUrl,
  schema: databaseSchema(),
  max: 2,
  connectTimeoutMs: 2000,
  statementTimeoutMs: 5000,
  onIdleError: () => {},
});

// the request connection has no offline queue (fail fast): wait for it before loading sessions
await Promise.all([whenReady(redis, 30_000), whenReady(streamRedis, 30_000), whenReady(revocationRedis, 30_000)]);

let metricsText = '# metrics are aggregated once a second; none yet\n';
let queueDepth: unknown = null;
let stats: StatsSample[] = [];

const gateway = await createGateway({
  config,
  country,
  redis,
  streamRedis,
  revocationRedis,
  pgPool,
  metricsText: () => metricsText,
  queueDepth: () => queueDepth,
  stats: () => stats,
  placeChanges,
});

/** The answers to requests the adapter refuses before routing (see ServerOptions.refuse). */
const REFUSALS = {
  413: () => REQUEST_ERRORS.payloadTooLarge(16 * 1024),
  414: () => REQUEST_ERRORS.uriTooLong(),
  429: () => {
    gateway.context.metrics.quotaEvent('websocket_address_limit');
    return REQUEST_ERRORS.tooManyConnections(config.wsMaxPerAddress);
  },
  500: () => REQUEST_ERRORS.internal(),
};

const server = await startServer({
  host: config.host,
  port,
  maxBodyBytes: 16 * 1024,
  maxUrlBytes: 2048,
  allowFallback: config.allowUwsFallback,
  handle: gateway.handle,
  onError: gateway.onError,
  refuse: (status) => apiError(REFUSALS[status]()),
  onResponse: (request, response, ms) => gateway.context.metrics.request(request.route || 'unmatched', request.method, response.status, ms / 1000),
  websocket: {
    route: gateway.websocket,
    perAddress: new ConnectionsPerAddress(socketsPerAddress, config.wsMaxPerAddress),
    maxBufferedBytes: config.wsMaxBufferedBytes,
  },
});
gateway.attachPublisher(server.publish, server.subscribers);

const metricsTimer = setInterval(() => {
  void gateway.context.metrics.snapshot().then((metrics) => send({ type: 'metrics', metrics }));
}, 1000);

parentPort!.on('message', (message: MainToThread) => {
  if (message.type === 'metrics-text') metricsText = message.text;
  else if (message.type === 'queue-depth') queueDepth = message.depth;
  else if (message.type === 'stats') stats = message.samples;
  else if (message.type === 'shutdown') {
    clearInterval(metricsTimer);
    server.close();
    void gateway.stop().finally(() => {
      // requests in flight have had their answers by now; idle keep-alive sockets would hold the thread
      server.closeConnections();
      redis.disconnect();
      void pgPool.end();
      send({ type: 'stopped' });
    });
  }
});

send({ type: 'listening', port: server.port });
