/**
 * Baseline: a uWebSockets.js hello-world, run with as many threads as the gateway, so the bench
 * can say how much of uWS's raw speed teeka's search keeps. It uses uWS directly on purpose —
 * it measures uWS itself, not teeka's adapter.
 *
 *   node dist/loadtest/baseline/hello-uws.js <port> <threads>
 */
import { serveOnThreads } from './uws-threads.js';

serveOnThreads(
  import.meta.url,
  'hello-uws',
  () => ({ threads: Number(process.argv[3] ?? 2), data: { port: Number(process.argv[2] ?? 9001) } }),
  (uws) =>
    uws.App().get('/*', (res) => {
      res.end('Hello World!');
    }),
);
