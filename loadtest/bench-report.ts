/** The benchmark's markdown report and its SVG chart (throughput and p99 latency per scenario). */
import { formatTable, median } from './bench-support.js';
import type { ScenarioResult } from './bench-scenarios.js';

export interface BotsResult {
  bots: number;
  honest: number;
  botSearches: number;
  botLogouts: number;
  botBlocks: number;
  public429: number;
  publicOk: number;
  honestBookings: number;
  honestFailures: number;
}

export interface BenchRun {
  run: number;
  results: ScenarioResult[];
  rush: {
    capacity: number;
    booked: number;
    postgresSeats: number;
    rushSeconds: number;
    /** outbox entries left when the rush ended (0: the worker kept pace) */
    backlogAtEnd: number;
    drainSeconds: number;
    rowsWritten: number;
    reconcileOk: boolean;
    reconcileText: string;
  };
  baseline: { capacity: number; booked: number; available: number };
  redisBenchmarkBookRps: number;
  /** CPU seconds each process used (bench-processes.ts measureCpu), in the wrk rush and under redis-benchmark */
  cpu: {
    rushSeconds: number;
    rushBookings: number;
    rush: Record<CpuPart, number>;
    redisBenchmark: { seconds: number; scripts: number; redis: number; machine: number };
  };
  bots: BotsResult;
}

/** The processes the rush's CPU is split between; `machine` is every core's busy time together. */
export type CpuPart = 'gateway' | 'worker' | 'postgres' | 'redis' | 'bench' | 'machine';

export interface ReportInput {
  runs: BenchRun[];
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; redis: string; postgres: string };
  command: string;
  seconds: number;
  connections: number;
  threads: number;
  rushPool: number;
  rushSeconds: number;
  startedAt: string;
}

const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
const ms = (x: number) => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms` : '—');
const result = (run: BenchRun, scenario: string) => run.results.find((r) => r.scenario === scenario)!;

/** The worker's drain rate: the backlog left by the rush over the time to clear it; when there was
 * none, the worker kept pace and the bound is everything written over the whole rush. */
function drainRate(run: BenchRun): { rate: number; keptUp: boolean } {
  if (run.rush.backlogAtEnd > 0 && run.rush.drainSeconds > 0) return { rate: run.rush.backlogAtEnd / run.rush.drainSeconds, keptUp: false };
  return { rate: run.rush.rowsWritten / (run.rush.rushSeconds + run.rush.drainSeconds), keptUp: true };
}

function ratios(run: BenchRun) {
  const rush = result(run, 'rush');
  return {
    bookingVsRedis: rush.okPerSecond / run.redisBenchmarkBookRps,
    searchVsHello: result(run, 'search').rps / result(run, 'hello-world').rps,
    teekaVsPostgres: rush.okPerSecond / result(run, 'rush-postgres').okPerSecond,
    drainVsPeak: drainRate(run).rate / rush.okPerSecond,
  };
}

export function renderReport(input: ReportInput): { markdown: string; summary: string; correct: boolean } {
  const { runs } = input;
  const r = runs.map(ratios);
  const med = (pick: (x: ReturnType<typeof ratios>) => number) => median(r.map(pick));
  const correct = runs.every(
    (run) => run.rush.reconcileOk && run.rush.booked <= run.rush.capacity && run.rush.postgresSeats === run.rush.booked && run.baseline.booked <= run.baseline.capacity,
  );
  const scenarioNames = runs[0]!.results.map((s) => s.scenario);
  const medianOf = (scenario: string, pick: (s: ScenarioResult) => number) => median(runs.map((run) => pick(result(run, scenario))));
  const met = (ok: boolean) => (ok ? 'met' : '**not met**');

  const ratioRows = [
    ['booking through the gateway ÷ redis-benchmark running the booking script', med((x) => x.bookingVsRedis).toFixed(2), '≥ 0.5', met(med((x) => x.bookingVsRedis) >= 0.5)],
    ['protected search with the quota ÷ uWS hello-world', med((x) => x.searchVsHello).toFixed(2), '≥ 0.5', met(med((x) => x.searchVsHello) >= 0.5)],
    ['teeka rush bookings/s ÷ PostgreSQL `UPDATE … available > 0` service', med((x) => x.teekaVsPostgres).toFixed(1), '≥ 10', met(med((x) => x.teekaVsPostgres) >= 10)],
    ['worker drain rate ÷ peak booking rate', med((x) => x.drainVsPeak).toFixed(2), '> 1 (queue depth returns to zero)', met(med((x) => x.drainVsPeak) > 1 || runs.every((run) => drainRate(run).keptUp))],
  ];

  const scenarioRows = scenarioNames.map((name) => [
    name,
    result(runs[0]!, name).target,
    n(medianOf(name, (s) => s.rps)),
    n(medianOf(name, (s) => s.okPerSecond)),
    ms(medianOf(name, (s) => s.p50Ms)),
    ms(medianOf(name, (s) => s.p99Ms)),
    ms(medianOf(name, (s) => s.maxMs)),
    n(medianOf(name, (s) => s.errors)),
  ]);

  const correctnessRows = runs.map((run) => [
    String(run.run),
    n(run.rush.capacity),
    n(run.rush.booked),
    n(run.rush.postgresSeats),
    run.rush.reconcileOk ? 'passed' : '**FAILED**',
    `${n(run.baseline.booked)} of ${n(run.baseline.capacity)} (available ${run.baseline.available})`,
  ]);

  const drainRows = runs.map((run) => {
    const d = drainRate(run);
    return [
      String(run.run),
      n(result(run, 'rush').okPerSecond),
      `${run.rush.rushSeconds.toFixed(1)} s`,
      n(run.rush.backlogAtEnd),
      `${run.rush.drainSeconds.toFixed(2)} s`,
      `${n(d.rate)}${d.keptUp ? ' (kept pace: lower bound)' : ''}`,
      n(run.rush.rowsWritten),
    ];
  });

  // µs of CPU per booking: what each process spent in the rush over the bookings it made; the rest
  // is the machine's busy time no process here accounts for (wrk, the kernel's interrupts, others)
  const perBooking = (run: BenchRun, seconds: number) => (seconds * 1e6) / Math.max(1, run.cpu.rushBookings);
  const cpuOf = (run: BenchRun) => {
    const c = run.cpu.rush;
    const named = c.gateway + c.worker + c.postgres + c.redis + c.bench;
    const raw = run.cpu.redisBenchmark;
    return {
      gateway: perBooking(run, c.gateway),
      worker: perBooking(run, c.worker),
      postgres: perBooking(run, c.postgres),
      redis: perBooking(run, c.redis),
      rest: perBooking(run, c.machine - named),
      machine: perBooking(run, c.machine),
      coresBusy: c.machine / run.cpu.rushSeconds,
      rawRedis: (raw.redis * 1e6) / raw.scripts,
      rawMachine: (raw.machine * 1e6) / raw.scripts,
      rawRedisCores: raw.redis / raw.seconds,
    };
  };
  const us = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '—');
  const cpuRows = runs.map((run) => {
    const c = cpuOf(run);
    return [String(run.run), us(c.gateway), us(c.worker), us(c.postgres), us(c.redis), us(c.rest), us(c.machine), c.coresBusy.toFixed(2), `${us(c.rawRedis)} (${c.rawRedisCores.toFixed(2)} of a core)`, us(c.rawMachine)];
  });
  const cpuMedian = (pick: (c: ReturnType<typeof cpuOf>) => number) => median(runs.map((run) => pick(cpuOf(run))));

  const botRows = runs.map((run) => {
    const b = run.bots;
    return [String(run.run), `${b.bots} bots: ${n(b.botSearches)} searches answered, ${n(b.botLogouts)} logouts, ${n(b.botBlocks)} blocks`, `${n(b.public429)} × 429 of ${n(b.public429 + b.publicOk)}`, `${b.honestBookings} of ${b.honest} booked`];
  });

  const perRun = runs
    .map((run) =>
      [
        `### Run ${run.run}`,
        '',
        formatTable(
          ['scenario', 'req/s', 'ok/s', 'p50', 'p99', 'max', 'errors', 'answers'],
          run.results.map((s) => [s.scenario, n(s.rps), n(s.okPerSecond), ms(s.p50Ms), ms(s.p99Ms), ms(s.maxMs), n(s.errors), s.notes.join('; ')]),
        ),
        '',
        `redis-benchmark, booking script by EVALSHA: ${n(run.redisBenchmarkBookRps)} ops/s.`,
        '',
        '```',
        run.rush.reconcileText.trim(),
        '```',
      ].join('\n'),
    )
    .join('\n\n');

  const rush = median(runs.map((run) => result(run, 'rush').okPerSecond));
  const raw = median(runs.map((run) => run.redisBenchmarkBookRps));
  const hello = median(runs.map((run) => result(run, 'hello-world').rps));
  const search = median(runs.map((run) => result(run, 'search').rps));
  const markdown = `## Benchmark report (${input.startedAt})

Machine: ${input.machine.cpu}, ${input.machine.cores} cores, ${input.machine.memoryGiB} GiB; Node ${input.machine.node}, Redis ${input.machine.redis}, PostgreSQL ${input.machine.postgres}.
Everything runs on this one machine over loopback: Redis, PostgreSQL, the gateway (${input.threads} thread${input.threads > 1 ? 's' : ''}: one core is left to Redis, the worker and the load generators; the hello-world and the PostgreSQL baseline get as many), the worker, the baselines and the load generators (wrk, autocannon, redis-benchmark), so they share the cores; only ratios measured in the same run mean anything.

Command: \`${input.command}\` — ${runs.length} run${runs.length > 1 ? 's, medians shown' : ''}; the wrk GET scenarios run ${input.seconds} s with ${input.connections} connections, the rushes ${input.rushSeconds} s; they book a different pre-registered citizen (of ${n(input.rushPool)}) per request into one hot session with a seat for each.

### Ratios against design.md's targets

${formatTable(['ratio', 'measured', 'target', ''], ratioRows)}

### Scenarios

${formatTable(['scenario', 'what', 'req/s', 'ok/s', 'p50', 'p99', 'max', 'errors'], scenarioRows)}

![throughput and p99 latency per scenario](performance-chart.svg)

### No oversell, nothing lost (after every rush)

${formatTable(['run', 'seats', 'booked in Redis', 'rows in PostgreSQL', 'reconcile', 'PostgreSQL baseline booked'], correctnessRows)}

### Drain: worker vs peak booking rate

${formatTable(['run', 'peak bookings/s', 'rush', 'backlog at end', 'time to zero', 'drain rows/s', 'rows written'], drainRows)}

### CPU per booking in the rush, by process (µs)

Each process's CPU (user + system, /proc) over the wrk rush, divided by the bookings it made; "the rest" is the machine's busy time no process listed accounts for (wrk itself, the kernel's interrupt work, anything else running). Beside it, redis-benchmark running the booking script alone: Redis's CPU per script call, and the machine's.

${formatTable(['run', 'gateway', 'worker', 'PostgreSQL', 'Redis', 'the rest', 'all', 'cores busy', 'redis-benchmark: Redis per script', 'redis-benchmark: all'], cpuRows)}

### Bots against the real quotas (20 searches per 15 min, 100 public calls per 5 min per address)

${formatTable(['run', 'protected-search bots', 'public-API bot', 'honest citizens'], botRows)}

### Where the time goes

- The physical limit for booking here is Redis running the booking script: redis-benchmark, with Redis to itself, reaches ${n(raw)} scripts/s. Through the gateway, each booking also costs an HTTP exchange, a token check (its login's liveness from memory: the revocation stream), JSON validation and the ioredis round trip in the gateway thread, the load generator's own work, and the worker writing it to PostgreSQL, all on the same cores: ${n(rush)} bookings/s.
- Where the rush's CPU goes (medians, µs per booking): the gateway ${us(cpuMedian((c) => c.gateway))}, the worker ${us(cpuMedian((c) => c.worker))} and PostgreSQL ${us(cpuMedian((c) => c.postgres))} writing it down while the rush runs, Redis ${us(cpuMedian((c) => c.redis))}, the rest ${us(cpuMedian((c) => c.rest))}: ${us(cpuMedian((c) => c.machine))} of the machine's CPU per booking, with ${cpuMedian((c) => c.coresBusy).toFixed(2)} of its ${input.machine.cores} cores busy. redis-benchmark's script costs Redis ${us(cpuMedian((c) => c.rawRedis))} µs per call (the machine ${us(cpuMedian((c) => c.rawMachine))} µs, redis-benchmark's own work included). At its ${n(raw)} calls/s the ${input.machine.cores} cores leave ${us((input.machine.cores * 1e6) / raw)} µs of CPU per booking for everything: taking the request, deciding it, answering it and writing it to PostgreSQL.
- Search answers from memory: its per-request Redis work is the quota script (batched by ioredis auto-pipelining); the rest is the HTTP exchange and a calendar of tens of kilobytes (gzip-compressed once per change for clients that accept it). The hello-world answers 12 bytes with no Redis call: ${n(hello)} req/s against search's ${n(search)}.

### Per run

${perRun}
`;
  const summary = formatTable(
    ['ratio', 'measured', 'target', ''],
    ratioRows.map((row) => [row[0]!, row[1]!, row[2]!, row[3]!.replace(/\*/g, '')]),
  );
  return { markdown, summary, correct };
}

/** Horizontal bars: requests/s (log scale) and p99 latency per scenario, median of the runs. */
export function renderChart(runs: BenchRun[]): string {
  const names = runs[0]!.results.map((s) => s.scenario);
  const rows = names.map((name) => ({
    name,
    rps: median(runs.map((run) => result(run, name).okPerSecond)),
    p99: median(runs.map((run) => result(run, name).p99Ms)),
  }));
  const width = 900;
  const rowHeight = 28;
  const top = 50;
  const height = top + rows.length * rowHeight + 40;
  const left = 130;
  const half = (width - left - 40) / 2;
  const maxLog = Math.log10(Math.max(...rows.map((r) => r.rps), 10));
  const maxP99 = Math.max(...rows.map((r) => (Number.isFinite(r.p99) ? r.p99 : 0)), 1);
  const esc = (s: string) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);
  const bars = rows
    .map((r, i) => {
      const y = top + i * rowHeight;
      const w1 = Math.max(1, (Math.log10(Math.max(r.rps, 1)) / maxLog) * (half - 70));
      const w2 = Math.max(1, ((Number.isFinite(r.p99) ? r.p99 : 0) / maxP99) * (half - 70));
      return `<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(r.name)}</text>
<rect x="${left}" y="${y + 4}" width="${w1.toFixed(1)}" height="18" fill="#2b6cb0"/><text x="${(left + w1 + 4).toFixed(1)}" y="${y + 17}">${Math.round(r.rps).toLocaleString('en-US')}/s</text>
<rect x="${left + half + 20}" y="${y + 4}" width="${w2.toFixed(1)}" height="18" fill="#c05621"/><text x="${(left + half + 24 + w2).toFixed(1)}" y="${y + 17}">${r.p99.toFixed(1)} ms</text>`;
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${left}" y="24" font-size="14" font-weight="bold">successful answers per second (log scale)</text>
<text x="${left + half + 20}" y="24" font-size="14" font-weight="bold">p99 latency</text>
${bars}
<text x="${left}" y="${height - 12}" fill="#555">median of ${runs.length} run(s); all processes on one machine over loopback</text>
</svg>
`;
}
