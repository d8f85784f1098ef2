/**
 * The processes a benchmark run starts on loopback: teeka's gateway and worker, the uWS
 * hello-world, the PostgreSQL booking baseline. Each logs to a file of the run, is waited for until
 * it answers, and is stopped at the end whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createWriteStream, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from '../engine/config.js';
import { deleteKeysWithPrefix, type RedisAddress, type RedisClient } from '../engine/redis.js';
import { summarizeProfiles } from './profile-summary.js';

export interface BenchProcess {
  name: string;
  port: number;
  child: ChildProcess;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const running = new Set<BenchProcess>();

/** Stop every process still running (on exit or error). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/**
 * Start `node dist/<script>` with `args` and `env`, logging into `logDir`, and wait until `ready`
 * resolves true (polled), or fail after `timeoutMs` with the log's path.
 */
export async function startProcess(options: {
  name: string;
  script: string;
  args?: string[];
  /** options for node itself, before the script (e.g. --cpu-prof) */
  nodeArgs?: string[];
  env?: Record<string, string>;
  port: number;
  logDir: string;
  ready: () => Promise<boolean>;
  timeoutMs?: number;
}): Promise<BenchProcess> {
  const logPath = join(options.logDir, `${options.name}.log`);
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(projectRoot(), 'dist', options.script), ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle: BenchProcess = {
    name: options.name,
    port: options.port,
    child,
    stop: async (signal = 'SIGTERM') => {
      running.delete(handle);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  running.add(handle);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${options.name} exited with ${child.exitCode}; see ${logPath}`);
    if (await options.ready().catch(() => false)) return handle;
    if (Date.now() > deadline) {
      await handle.stop('SIGKILL');
      throw new Error(`${options.name} did not become ready; see ${logPath}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Ready when GET `url` answers 2xx. */
export function answers(url: string): () => Promise<boolean> {
  return async () => (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
}

/** One answer as the gateway sent it, for loadtest/baseline/replay-uws.ts to send again. */
export interface RecordedAnswer {
  method: string;
  /** path and query, as the request line has them */
  url: string;
  /** status line text, e.g. "409 Conflict" */
  status: string;
  headers: [string, string][];
  /** base64 of the body bytes as sent (compressed when the answer was: node:http does not decode) */
  body: string;
}

/** The framing headers uWS writes itself; every other header of the answer is replayed. */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'date', 'keep-alive', 'uwebsockets']);

/** Send one request to `base` and record its answer byte for byte. */
export function recordAnswer(base: string, method: string, url: string, headers: Record<string, string>, body?: string): Promise<RecordedAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${url}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          method,
          url,
          status: `${res.statusCode} ${res.statusMessage}`,
          headers: Object.entries(res.headers).flatMap(([name, value]) => (FRAMING.has(name) || value === undefined ? [] : [[name, String(value)] as [string, string]])),
          body: Buffer.concat(chunks).toString('base64'),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * How a bench run ends, whatever happens: `main` runs; then, and on SIGINT or SIGTERM, every process
 * it started is stopped, its PostgreSQL schemas dropped and its Redis keys deleted, once. A failure
 * is printed under the bench's name and exits 1; a signal exits 130.
 */
export function runBench(name: string, main: () => Promise<void>, leftovers: { databaseUrl: string; schemas: string[]; redis: RedisAddress; prefix: string }): void {
  let cleanedUp: Promise<void> | undefined;
  const cleanUp = (): Promise<void> => {
    cleanedUp ??= (async () => {
      await stopAll();
      const admin = new pg.Client({ connectionString: leftovers.databaseUrl });
      await admin.connect().then(
        () => admin.query(leftovers.schemas.map((schema) => `drop schema if exists ${schema} cascade`).join('; ')),
        () => undefined,
      );
      await admin.end().catch(() => {});
      await deleteKeysWithPrefix(leftovers.redis, leftovers.prefix);
    })();
    return cleanedUp;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${name}: ${signal}, cleaning up`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  main().then(cleanUp, async (err: unknown) => {
    console.error(`${name} failed:`, err);
    await cleanUp();
    process.exit(1);
  });
}

/**
 * The node options that make a process write a V8 CPU profile per thread into `dir` when it exits
 * (a benchmark's `--profile`); none when `enabled` is false.
 */
export function profilingArgs(enabled: boolean | undefined, dir: string): string[] {
  return enabled ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/**
 * Once the profiled processes have stopped: the top self-time functions of each busy thread's
 * profile in `dir`, printed and written beside them (profile-summary.txt). Nothing when no profile.
 */
export function reportProfiles(dir: string, top = 15): void {
  if (!existsSync(dir)) return;
  const text = summarizeProfiles([dir], top);
  writeFileSync(join(dir, 'profile-summary.txt'), text + '\n');
  console.log(`\nGateway CPU profiles (${dir}; open a .cpuprofile in Chrome DevTools for the call tree):\n${text}`);
}

/**
 * CPU seconds a process has used so far, all its threads, user and system (Linux /proc; NaN
 * elsewhere). Read before and after a scenario, divided by the requests answered: the CPU a request
 * costs, which other work on a busy machine changes far less than it changes requests per second.
 */
export function cpuSeconds(process: BenchProcess): number {
  return process.child.pid === undefined ? NaN : pidCpuSeconds(process.child.pid);
}

/** `cpuSeconds` of any process by its pid: NaN once it is gone or where there is no /proc. */
export function pidCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the fields after the command name (which may hold spaces) in parentheses; utime and stime are the 14th and 15th
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ: 100 on Linux
  } catch {
    return NaN;
  }
}

/**
 * Redis's own CPU seconds since it started (user + system, main thread and the rest), as INFO gives
 * them: the server's, wherever it runs, and whoever its clients are.
 */
export async function redisCpuSeconds(redis: RedisClient): Promise<number> {
  const text = String(await redis.call('INFO', 'cpu'));
  const value = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return value('used_cpu_user') + value('used_cpu_sys');
}

/**
 * The CPU seconds of every PostgreSQL server process on this machine (those named `postgres`): the
 * server's share of a scenario, whichever backend did the work. A backend that exits in between
 * takes its seconds with it; the pools here keep theirs open.
 */
export function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += pidCpuSeconds(Number(entry)) || 0;
    } catch {
      // gone between the listing and the read
    }
  }
  return total;
}

/**
 * Busy CPU seconds of the whole machine, all cores together: everything but idle and I/O wait in
 * /proc/stat's first line (NaN where there is none). What no process above accounts for is the
 * load generator's, the kernel's interrupts and anyone else's.
 */
export function machineBusySeconds(): number {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number);
    return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Starts counting each source's CPU seconds; the function returned gives what each one used since.
 * Taken around a scenario, it splits the machine's CPU between the processes that served it.
 */
export function measureCpu<K extends string>(sources: Record<K, () => number>): () => Record<K, number> {
  const names = Object.keys(sources) as K[];
  const before = names.map((name) => sources[name]());
  return () => Object.fromEntries(names.map((name, i) => [name, sources[name]() - before[i]!])) as Record<K, number>;
}
