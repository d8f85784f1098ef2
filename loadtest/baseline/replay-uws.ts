/**
 * Baseline: uWebSockets.js answering recorded answers, with no work of its own. The bench records
 * what the gateway answered to each request of a scenario (status, headers, body bytes, gzip as
 * sent) and this server replays them by method and URL, reading each request's body as the gateway
 * must. Driven by the same wrk script with the same requests, it is the ceiling for that traffic:
 * the request and answer bytes, the sockets and uWS's parsing cost the same as the gateway's, so
 * gateway ÷ replay is what teeka's own work (token, JSON, rules, Redis) leaves of it. The hello-world
 * (hello-uws.ts) answers a 40-byte GET with 12 bytes; a refused booking is a ~600-byte POST and a
 * search answer kilobytes, which costs uWS and the kernel more before teeka does anything.
 *
 *   node dist/loadtest/baseline/replay-uws.js <port> <threads> <answers.json>
 *
 * answers.json: RecordedAnswer[] (bench-processes.ts `recordAnswer`)
 */
import { readFileSync } from 'node:fs';
import type * as Uws from 'uWebSockets.js';
import type { RecordedAnswer } from '../bench-processes.js';
import { serveOnThreads } from './uws-threads.js';

type Replay = RecordedAnswer & { bytes: Buffer };

function reply(res: Uws.HttpResponse, answer: Replay | undefined): void {
  res.cork(() => {
    if (!answer) {
      res.writeStatus('404 Not Found').end('not recorded');
      return;
    }
    res.writeStatus(answer.status);
    for (const [name, value] of answer.headers) res.writeHeader(name, value);
    res.end(answer.bytes);
  });
}

serveOnThreads(
  import.meta.url,
  'replay-uws',
  () => {
    const answersFile = process.argv[4];
    if (!answersFile) {
      console.error('usage: replay-uws.js <port> <threads> <answers.json>');
      process.exit(2);
    }
    return { threads: Number(process.argv[3] ?? 1), data: { port: Number(process.argv[2] ?? 9002), answersFile } };
  },
  (uws, { answersFile }) => {
    const recorded = JSON.parse(readFileSync(answersFile, 'utf8')) as RecordedAnswer[];
    const byRequest = new Map<string, Replay>(recorded.map((a) => [`${a.method} ${a.url}`, { ...a, bytes: Buffer.from(a.body, 'base64') }]));
    return uws.App().any('/*', (res, req) => {
      const method = req.getCaseSensitiveMethod().toUpperCase();
      const query = req.getQuery();
      const answer = byRequest.get(`${method} ${req.getUrl()}${query ? `?${query}` : ''}`);
      if (method === 'GET' || method === 'HEAD') {
        reply(res, answer);
        return;
      }
      // read the whole body before answering, as the gateway does
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      res.onData((_chunk, isLast) => {
        if (isLast && !aborted) reply(res, answer);
      });
    });
  },
);
