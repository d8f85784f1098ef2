/**
 * The benchmark's scenarios. Each is bounded in requests and time, sends traffic to loopback
 * only, and returns the same kind of result: requests/s, latency percentiles, errors.
 *
 * Load generators: wrk (C, several times autocannon's speed) for the GET comparisons where the
 * generator would otherwise be the bottleneck (hello-world vs search); autocannon for the POST
 * rushes, where each request carries another citizen's token and beneficiary.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import WebSocket from 'ws';
import { median } from './bench-support.js';

const run = promisify(execFile);

export interface ScenarioResult {
  scenario: string;
  /** what was measured, for the report */
  target: string;
  requests: number;
  seconds: number;
  /** requests per second (all answers) */
  rps: number;
  /** the scenario's own success count per second (bookings made, searches answered) */
  okPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** answers that were neither the success nor the expected refusal of the scenario, plus socket errors */
  errors: number;
  /** free-form facts for the report (status counts, …) */
  notes: string[];
}

/** wrk's summary, printed by the Lua `done` hook as one JSON line. */
const WRK_DONE = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests":%d,"duration_us":%d,"socket_errors":%d,"non2xx":%d,"p50":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

/** What every wrk script's `done` prints, plus the script's own counters. */
type WrkSummary<Extra> = Extra & { requests: number; duration_us: number; socket_errors: number; p50: number; p99: number; max: number };

/** A scenario result from wrk's summary: `ok` answers were the success, `errors` neither success nor expected. */
function resultOfWrk(scenario: string, target: string, r: WrkSummary<object>, ok: number, errors: number, notes: string[]): ScenarioResult {
  const seconds = r.duration_us / 1e6;
  return {
    scenario,
    target,
    requests: r.requests,
    seconds,
    rps: r.requests / seconds,
    okPerSecond: ok / seconds,
    p50Ms: r.p50 / 1000,
    p99Ms: r.p99 / 1000,
    maxMs: r.max / 1000,
    errors,
    notes,
  };
}

/** Run wrk with one thread and a script whose `done` prints a `WRK_RESULT {json}` line. */
async function runWrk<Extra>(script: string, url: string, connections: number, seconds: number, timeoutSeconds: number): Promise<WrkSummary<Extra>> {
  const { stdout, stderr } = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', `${timeoutSeconds}s`, '-s', script, url], {
    maxBuffer: 1 << 24,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_RESULT '));
  if (!line) throw new Error(`wrk printed no result:\n${stdout}\n${stderr}`);
  return JSON.parse(line.slice('WRK_RESULT '.length)) as WrkSummary<Extra>;
}

export interface WrkOptions {
  scenario: string;
  target: string;
  url: string;
  seconds: number;
  connections: number;
  scratchDir: string;
  /** GET paths to rotate through */
  paths: string[];
  /** bearer tokens to rotate through (one per request), none for public endpoints */
  tokens?: string[];
  /** send Accept-Encoding: gzip, as browsers and HTTP libraries do */
  gzip?: boolean;
}

export async function wrkGet(options: WrkOptions): Promise<ScenarioResult> {
  const script = join(options.scratchDir, `${options.scenario}.lua`);
  const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  writeFileSync(
    script,
    `local paths = { ${options.paths.map(quote).join(', ')} }
local tokens = { ${(options.tokens ?? []).map(quote).join(', ')} }
local i = 0
request = function()
  i = i + 1
  local headers = {}
  ${options.gzip ? 'headers["Accept-Encoding"] = "gzip"' : ''}
  if #tokens > 0 then headers["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1] end
  return wrk.format("GET", paths[(i % #paths) + 1], headers)
end
${WRK_DONE}`,
  );
  const r = await runWrk<{ non2xx: number }>(script, options.url, options.connections, options.seconds, 5);
  return resultOfWrk(options.scenario, options.target, r, r.requests - r.non2xx, r.non2xx + r.socket_errors, r.non2xx ? [`${r.non2xx} non-2xx`] : []);
}

export interface WrkPostOptions {
  scenario: string;
  target: string;
  url: string;
  path: string;
  seconds: number;
  connections: number;
  scratchDir: string;
  /** the requests to send, in order (wrapping around if the run outlasts them) */
  requests: { token?: string; body: string }[];
  /** status counted as success (200) and status expected as a refusal (409 full or already booked) */
  okStatus: number;
  expectedRefusal: number;
}

/**
 * A POST rush driven by wrk: the bodies (and bearer tokens) are read from a file by wrk's LuaJIT, so
 * the generator costs a fraction of what autocannon does per request and the server, not the
 * generator, sets the pace. Status codes are counted per thread and summed in `done`.
 */
export async function wrkPost(options: WrkPostOptions): Promise<ScenarioResult> {
  const dataFile = join(options.scratchDir, `${options.scenario}.requests`);
  writeFileSync(dataFile, options.requests.map((r) => `${r.token ?? ''}\t${r.body}`).join('\n') + '\n');
  const script = join(options.scratchDir, `${options.scenario}.lua`);
  writeFileSync(
    script,
    `local tokens, bodies = {}, {}
for line in io.lines(${JSON.stringify(dataFile)}) do
  local tab = line:find('\\t', 1, true)
  tokens[#tokens + 1] = line:sub(1, tab - 1)
  bodies[#bodies + 1] = line:sub(tab + 1)
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok, refused, other, i = 0, 0, 0, 0 end
function request()
  i = i + 1
  local k = ((i - 1) % #bodies) + 1
  local headers = { ["Content-Type"] = "application/json" }
  if tokens[k] ~= '' then headers["Authorization"] = "Bearer " .. tokens[k] end
  return wrk.format("POST", ${JSON.stringify(options.path)}, headers, bodies[k])
end
function response(status, headers, body)
  if status == ${options.okStatus} then ok = ok + 1 elseif status == ${options.expectedRefusal} then refused = refused + 1 else other = other + 1 end
end
done = function(summary, latency, requests)
  local o, r, x = 0, 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); r = r + t:get("refused"); x = x + t:get("other") end
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests":%d,"duration_us":%d,"socket_errors":%d,"ok":%d,"refused":%d,"other":%d,"p50":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, o, r, x,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`,
  );
  const r = await runWrk<{ ok: number; refused: number; other: number }>(script, options.url, options.connections, options.seconds, 10);
  return resultOfWrk(options.scenario, options.target, r, r.ok, r.other + r.socket_errors, [
    `${r.ok} × ${options.okStatus}, ${r.refused} × ${options.expectedRefusal}, ${r.other} other`,
  ]);
}

/**
 * A POST flood driven by wrk at the generator's lowest cost: every request is formatted once when
 * wrk starts, and no Lua runs per response (a `response` hook makes wrk copy each response's
 * headers and body into Lua, which costs the generator more than a refusal costs the gateway). It
 * only tells answers below 400 from the rest (wrk's own count): for floods whose every answer should
 * be one refusal, checked afterwards another way (the gateway's metrics, the seat counters).
 * `ok` counts the answers of 400 and above (the refusals), `errors` those below and socket errors.
 */
export async function wrkPostRefusals(options: Omit<WrkPostOptions, 'okStatus' | 'expectedRefusal'>): Promise<ScenarioResult> {
  const dataFile = join(options.scratchDir, `${options.scenario}.requests`);
  writeFileSync(dataFile, options.requests.map((r) => `${r.token ?? ''}\t${r.body}`).join('\n') + '\n');
  const script = join(options.scratchDir, `${options.scenario}.lua`);
  writeFileSync(
    script,
    `local requests = {}
-- formatted in init: wrk knows the Host header only from then on
function init(args)
  for line in io.lines(${JSON.stringify(dataFile)}) do
    local tab = line:find('\\t', 1, true)
    local token = line:sub(1, tab - 1)
    local headers = { ["Content-Type"] = "application/json" }
    if token ~= '' then headers["Authorization"] = "Bearer " .. token end
    requests[#requests + 1] = wrk.format("POST", ${JSON.stringify(options.path)}, headers, line:sub(tab + 1))
  end
end
local i = 0
function request()
  i = i + 1
  return requests[((i - 1) % #requests) + 1]
end
${WRK_DONE}`,
  );
  const r = await runWrk<{ non2xx: number }>(script, options.url, options.connections, options.seconds, 10);
  return resultOfWrk(options.scenario, options.target, r, r.non2xx, r.requests - r.non2xx + r.socket_errors, [`${r.non2xx} answers ≥ 400, ${r.requests - r.non2xx} below`]);
}

export interface MixedRequest {
  method: 'GET' | 'POST';
  path: string;
  token?: string;
  body?: string;
}

/**
 * A mix of requests (searches, logins, bookings…) driven by wrk, in the given order and wrapping
 * around: the caller shuffles them by weight. Answers are counted by status (200, 401, 409, 429, …)
 * for the report; `ok` is every answer below 500, `errors` the 5xx and socket errors.
 */
export async function wrkMix(options: Omit<WrkPostOptions, 'path' | 'requests' | 'okStatus' | 'expectedRefusal'> & { requests: MixedRequest[] }): Promise<ScenarioResult & { statuses: Record<string, number> }> {
  const dataFile = join(options.scratchDir, `${options.scenario}.requests`);
  writeFileSync(dataFile, options.requests.map((r) => [r.method, r.path, r.token ?? '', r.body ?? ''].join('\t')).join('\n') + '\n');
  const script = join(options.scratchDir, `${options.scenario}.lua`);
  writeFileSync(
    script,
    `local requests = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
-- formatted in init: wrk knows the Host header only from then on
function init(args)
  statuses = {}
  for line in io.lines(${JSON.stringify(dataFile)}) do
    local method, path, token, body = line:match('^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$')
    local headers = { ["Accept-Encoding"] = "gzip" }
    if token ~= '' then headers["Authorization"] = "Bearer " .. token end
    if body ~= '' then headers["Content-Type"] = "application/json" else body = nil end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
end
local i = 0
function request()
  i = i + 1
  return requests[((i - 1) % #requests) + 1]
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(total) do parts[#parts + 1] = string.format('"%d":%d', status, n) end
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests":%d,"duration_us":%d,"socket_errors":%d,"p50":%d,"p99":%d,"max":%d,"statuses":{%s}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, table.concat(parts, ',')))
end
`,
  );
  const r = await runWrk<{ statuses: Record<string, number> }>(script, options.url, options.connections, options.seconds, 10);
  const count = (test: (status: number) => boolean) => Object.entries(r.statuses).reduce((n, [status, c]) => n + (test(Number(status)) ? c : 0), 0);
  const serverErrors = count((s) => s >= 500);
  const notes = [Object.entries(r.statuses).sort().map(([status, n]) => `${n} × ${status}`).join(', ')];
  return { ...resultOfWrk(options.scenario, options.target, r, count((s) => s < 500), serverErrors + r.socket_errors, notes), statuses: r.statuses };
}

export interface PostRushOptions {
  scenario: string;
  target: string;
  url: string;
  path: string;
  /** how many requests at most */
  amount: number;
  /** stop after this long even if `amount` was not reached */
  maxSeconds: number;
  connections: number;
  /** headers and body of request number i */
  request: (i: number) => { headers: Record<string, string>; body: string };
  /** status counted as success (200) and status expected as a refusal (409 full) */
  okStatus: number;
  expectedRefusal: number;
}

/** A POST rush with autocannon: every request built by `request(i)`. */
export function autocannonPost(options: PostRushOptions): Promise<ScenarioResult> {
  let next = 0;
  const statuses = new Map<number, number>();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        amount: options.amount,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: options.path,
            setupRequest: (req) => {
              const { headers, body } = options.request(next++);
              return { ...req, headers: { ...headers, 'content-type': 'application/json' }, body };
            },
            onResponse: (status) => {
              statuses.set(status, (statuses.get(status) ?? 0) + 1);
            },
          },
        ],
      },
      (err, result) => {
        clearTimeout(timer);
        if (err) return reject(err);
        const ok = statuses.get(options.okStatus) ?? 0;
        const refused = statuses.get(options.expectedRefusal) ?? 0;
        const answered = [...statuses.values()].reduce((a, b) => a + b, 0);
        const seconds = result.duration;
        resolve({
          scenario: options.scenario,
          target: options.target,
          requests: answered,
          seconds,
          rps: answered / seconds,
          okPerSecond: ok / seconds,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          maxMs: result.latency.max,
          errors: answered - ok - refused + result.errors + result.timeouts,
          notes: [[...statuses.entries()].sort().map(([s, n]) => `${n} × ${s}`).join(', ')],
        });
      },
    );
    // bounded in time as well as in count
    const timer = setTimeout(() => instance.stop(), options.maxSeconds * 1000);
  });
}

/** redis-benchmark running one EVALSHA command line; returns its requests/s. */
export async function redisBenchmark(host: string, port: string, requests: number, connections: number, randomKeys: number, args: string[]): Promise<number> {
  const { stdout } = await run('redis-benchmark', ['-h', host, '-p', port, '-n', String(requests), '-c', String(connections), '-r', String(randomKeys), '--csv', ...args], {
    maxBuffer: 1 << 24,
  });
  const line = stdout.trim().split('\n').pop()!;
  return Number(JSON.parse(`[${line}]`)[1]);
}

export interface WatchersOptions {
  wsUrl: string;
  watchers: number;
  /** make one booking and resolve with the session's dose-1 capacity it should leave */
  bookOne: (i: number) => Promise<number>;
  bookings: number;
  sessionId: string;
}

/**
 * Many WebSocket subscribers; bookings one after another; for each booking, the time until every
 * subscriber has seen the capacity it left (push latency, measured from just before the request).
 */
export async function watchers(options: WatchersOptions): Promise<ScenarioResult & { connected: number }> {
  const latest = new Map<WebSocket, number>();
  const waiters: { expected: number; startedAt: number; pending: Set<WebSocket>; latencies: number[]; done: () => void }[] = [];
  const sockets = await Promise.all(
    Array.from(
      { length: options.watchers },
      () =>
        new Promise<WebSocket | null>((resolve) => {
          const socket = new WebSocket(options.wsUrl);
          socket.on('message', (data) => {
            const message = JSON.parse(String(data)) as { type: string; sessions?: { session_id: string; available_capacity_dose1: number }[] };
            const session = message.sessions?.find((s) => s.session_id === options.sessionId);
            if (!session) return;
            latest.set(socket, session.available_capacity_dose1);
            const now = performance.now();
            for (const waiter of waiters) {
              if (waiter.pending.has(socket) && session.available_capacity_dose1 <= waiter.expected) {
                waiter.pending.delete(socket);
                waiter.latencies.push(now - waiter.startedAt);
                if (!waiter.pending.size) waiter.done();
              }
            }
          });
          socket.once('open', () => resolve(socket));
          socket.once('error', () => resolve(null));
        }),
    ),
  );
  const open = sockets.filter((s): s is WebSocket => s !== null);
  await new Promise((r) => setTimeout(r, 300));
  const latencies: number[] = [];
  let missed = 0;
  const started = performance.now();
  for (let i = 0; i < options.bookings; i++) {
    const startedAt = performance.now();
    const waiter = { expected: Number.POSITIVE_INFINITY, startedAt, pending: new Set(open), latencies: [] as number[], done: () => {} };
    const seenAll = new Promise<void>((resolve) => (waiter.done = resolve));
    waiters.push(waiter);
    waiter.expected = await options.bookOne(i);
    // a push may have arrived before the booking's answer: count those sockets now
    for (const socket of [...waiter.pending]) {
      if ((latest.get(socket) ?? Infinity) <= waiter.expected) {
        waiter.pending.delete(socket);
        waiter.latencies.push(performance.now() - startedAt);
      }
    }
    if (waiter.pending.size) await Promise.race([seenAll, new Promise((r) => setTimeout(r, 2000))]);
    missed += waiter.pending.size;
    latencies.push(...waiter.latencies);
    waiters.splice(waiters.indexOf(waiter), 1);
  }
  const seconds = (performance.now() - started) / 1000;
  for (const socket of open) socket.close();
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    scenario: 'watchers',
    target: `${open.length} WebSocket subscribers, ${options.bookings} bookings one after another`,
    requests: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    okPerSecond: latencies.length / seconds,
    p50Ms: median(latencies),
    p99Ms: pick(0.99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
    errors: missed + (options.watchers - open.length),
    notes: [`push latency from booking request to every subscriber; ${missed} pushes not seen within 2 s`],
    connected: open.length,
  };
}
