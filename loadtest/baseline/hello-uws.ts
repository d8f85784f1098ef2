/**
 * Baseline: a uWebSockets.js hello-world, run with as many threads as the gateway, so the bench
 * can say how much of uWS's raw speed teeka's search keeps. It imports uWS directly on purpose —
 * it measures uWS itself, not teeka's adapter.
 *
 *   node dist/loadtest/baseline/hello-uws.js <port> <threads>
 */
import { createRequire } from 'node:module';
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import type * as Uws from 'uWebSockets.js';

const require = createRequire(import.meta.url);

if (isMainThread) {
  const port = Number(process.argv[2] ?? 9001);
  const threads = Number(process.argv[3] ?? 2);
  let listening = 0;
  for (let i = 0; i < threads; i++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { port } });
    worker.on('message', () => {
      listening += 1;
      if (listening === threads) console.log(`hello-uws listening on ${port} with ${threads} threads`);
    });
  }
} else {
  const uws = require('uWebSockets.js') as typeof Uws;
  const { port } = workerData as { port: number };
  uws
    .App()
    .get('/*', (res) => {
      res.end('Hello World!');
    })
    .listen('127.0.0.1', port, (socket) => {
      if (!socket) process.exit(1);
      (require('node:worker_threads') as typeof import('node:worker_threads')).parentPort!.postMessage('listening');
    });
}
