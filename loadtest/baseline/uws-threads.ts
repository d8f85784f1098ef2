/**
 * How a baseline serves: one uWS app per worker thread on one port, as the gateway does, built
 * straight on uWebSockets.js (the baselines measure uWS itself, not teeka's adapter). The baseline's
 * module is also each thread's script: on the main thread this starts the threads and says when all
 * listen; on a thread it builds the app and listens.
 */
import { createRequire } from 'node:module';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type * as Uws from 'uWebSockets.js';

const require = createRequire(import.meta.url);

export function serveOnThreads<D extends { port: number }>(
  /** the baseline's own module (import.meta.url) */
  moduleUrl: string,
  name: string,
  /** read on the main thread: the threads to start and what each is given */
  start: () => { threads: number; data: D },
  /** on each thread: the app to listen with */
  build: (uws: typeof Uws, data: D) => Uws.TemplatedApp,
): void {
  if (isMainThread) {
    const { threads, data } = start();
    let listening = 0;
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL(moduleUrl), { workerData: data });
      worker.on('message', () => {
        listening += 1;
        if (listening === threads) console.log(`${name} listening on ${data.port} with ${threads} threads`);
      });
    }
    return;
  }
  const data = workerData as D;
  build(require('uWebSockets.js') as typeof Uws, data).listen('127.0.0.1', data.port, (socket) => {
    if (!socket) process.exit(1);
    parentPort!.postMessage('listening');
  });
}
