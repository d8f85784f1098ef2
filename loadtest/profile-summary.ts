/**
 * The top self-time functions of V8 CPU profiles (`node --cpu-prof`), for the benches' `--profile`:
 * a gateway started with --cpu-prof writes one .cpuprofile per thread when it exits, and this reads
 * them and says where each thread's samples went, without a browser or a new dependency.
 *
 *   node dist/loadtest/profile-summary.js <dir or .cpuprofile>... [--top 15] [--from S --to S] [--inclusive]
 *
 * --inclusive ranks functions by their total time (with what they called) instead of self time.
 * --from/--to keep only the samples taken between those seconds after the profile's start (one
 * scenario of a bench: find it with --timeline, which prints each second's busy time).
 *
 * A thread's start (loading modules, compressing the web pages, loading sessions) is left out: the
 * count begins at the first sample taken while answering a request (inside gateway/uws-adapter.js).
 * Per profile: the share of samples the thread was busy (not "(idle)"), and the functions with the
 * most self time, as a share of busy samples and in ms, named `function file:line` (the file as the
 * last two segments of its URL). "(garbage collector)" and "(program)" are V8's own buckets: GC, and
 * native work not attributed to any JavaScript function (uWS's C++ side, syscalls, the compiler).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  /** share of the busy (non-idle) samples */
  share: number;
}

export interface ProfileSummary {
  file: string;
  /** wall time the profile covers */
  totalMs: number;
  /** time not in "(idle)" */
  busyMs: number;
  /** time before the first request, left out */
  startupMs: number;
  /** ranked by total time rather than self time */
  inclusive: boolean;
  top: SelfTime[];
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const fn = functionName || '(anonymous)';
  if (!url) return fn;
  const file = url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
  return `${fn} ${file}:${lineNumber + 1}`;
}

/** The index of the first sample taken inside the uWS adapter (a request), or 0 when there is none. */
function firstRequestSample(profile: CpuProfile, byId: Map<number, ProfileNode>): number {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inRequest = new Map<number, boolean>();
  const check = (id: number): boolean => {
    const known = inRequest.get(id);
    if (known !== undefined) return known;
    const up = parent.get(id);
    const value = byId.get(id)!.callFrame.url.endsWith('uws-adapter.js') || (up !== undefined && check(up));
    inRequest.set(id, value);
    return value;
  };
  const index = profile.samples!.findIndex((id) => check(id));
  return index < 0 ? 0 : index;
}

/** Self time per function of one profile (time deltas attributed to each sample's node). */
/** Seconds after the profile's start to keep samples from and to (a bench's one scenario). */
export interface Window {
  from?: number;
  to?: number;
  /** rank by total time (the function and what it called) instead of self time */
  inclusive?: boolean;
}

export function summarizeProfile(profile: CpuProfile, file: string, top = 15, window: Window = {}): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let startupMs = 0;
  if (samples.length) {
    const first = firstRequestSample(profile, byId);
    for (let i = 0; i < first; i++) startupMs += (deltas[i + 1] ?? 0) / 1000;
    let at = 0;
    for (let i = 0; i < first; i++) at += deltas[i] ?? 0;
    const [from, to] = [(window.from ?? 0) * 1e6, (window.to ?? Infinity) * 1e6];
    // a sample's time is the delta to the next one (V8's own convention in DevTools)
    for (let i = first; i < samples.length; i++) {
      at += deltas[i] ?? 0;
      if (at < from || at > to) continue;
      const ms = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000;
      selfMs.set(samples[i]!, (selfMs.get(samples[i]!) ?? 0) + ms);
    }
  } else {
    const interval = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0));
    for (const n of profile.nodes) selfMs.set(n.id, (n.hitCount ?? 0) * interval);
  }
  // the same function reached through different callers is one node per caller: add them up
  const byName = new Map<string, number>();
  const parent = new Map<number, number>();
  if (window.inclusive) for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  let idle = 0;
  let total = 0;
  for (const [id, ms] of selfMs) {
    const node = byId.get(id)!;
    total += ms;
    if (node.callFrame.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    if (!window.inclusive) {
      const name = frameName(node);
      byName.set(name, (byName.get(name) ?? 0) + ms);
      continue;
    }
    // every function on the sample's stack, once (a recursive one is not counted twice)
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = frameName(byId.get(at)!);
      if (name === '(root)' || seen.has(name)) continue;
      seen.add(name);
      byName.set(name, (byName.get(name) ?? 0) + ms);
    }
  }
  const busy = total - idle;
  const ranked = [...byName.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { file, totalMs: total, busyMs: busy, startupMs, inclusive: window.inclusive ?? false, top: ranked.map(([name, ms]) => ({ name, ms, share: busy ? ms / busy : 0 })) };
}

/** Busy ms in each second after the profile's start (to find a scenario's window). */
export function timeline(profile: CpuProfile): string {
  const busy: number[] = [];
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let at = 0;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    if (byId.get(samples[i]!)!.callFrame.functionName === '(idle)') continue;
    const second = Math.floor(at / 1e6);
    busy[second] = (busy[second] ?? 0) + (deltas[i + 1] ?? 0) / 1000;
  }
  return Array.from(busy, (ms, second) => `${String(second).padStart(4)} s  ${String(Math.round(ms ?? 0)).padStart(5)} ms busy`).join('\n');
}

/** The .cpuprofile files under each path (a file, or a directory read one level deep). */
export function profileFiles(paths: string[]): string[] {
  return paths.flatMap((path) =>
    statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((f) => f.endsWith('.cpuprofile'))
          .sort()
          .map((f) => join(path, f))
      : [path],
  );
}

export function formatSummary(summary: ProfileSummary): string {
  const lines = [
    `${basename(summary.file)}: ${(summary.totalMs / 1000).toFixed(1)} s profiled from the first request (${(summary.startupMs / 1000).toFixed(1)} s of start left out), busy ${(summary.busyMs / 1000).toFixed(1)} s (${summary.totalMs ? ((100 * summary.busyMs) / summary.totalMs).toFixed(0) : 0} %)`,
    summary.inclusive ? '  total % of busy   total ms   function (and what it called)' : '  self % of busy   self ms   function',
  ];
  for (const t of summary.top) lines.push(`  ${(100 * t.share).toFixed(1).padStart(12)} % ${t.ms.toFixed(0).padStart(9)}   ${t.name}`);
  return lines.join('\n');
}

/** Summaries of every profile under `paths`, as text; profiles with almost no busy time (idle threads) are left out. */
export function summarizeProfiles(paths: string[], top = 15, window: Window = {}): string {
  const summaries = profileFiles(paths).map((file) => summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, file, top, window));
  const busiest = Math.max(0, ...summaries.map((s) => s.busyMs));
  const shown = summaries.filter((s) => s.busyMs >= 0.05 * busiest);
  if (!shown.length) return 'no CPU profiles found';
  const hidden = summaries.length - shown.length;
  return shown.map(formatSummary).join('\n\n') + (hidden ? `\n\n(${hidden} nearly idle profile${hidden > 1 ? 's' : ''} not shown: the main thread, which only aggregates metrics)` : '');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '15' }, from: { type: 'string' }, to: { type: 'string' }, timeline: { type: 'boolean', default: false }, inclusive: { type: 'boolean', default: false } },
  });
  if (!positionals.length) {
    console.log('node dist/loadtest/profile-summary.js <dir or .cpuprofile>... [--top 15] [--from S --to S] [--inclusive] [--timeline]');
    process.exit(2);
  }
  if (values.timeline) {
    for (const file of profileFiles(positionals)) console.log(`${basename(file)}\n${timeline(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile)}\n`);
  } else {
    const window = { from: values.from === undefined ? undefined : Number(values.from), to: values.to === undefined ? undefined : Number(values.to), inclusive: values.inclusive };
    console.log(summarizeProfiles(positionals, Number(values.top), window));
  }
}
