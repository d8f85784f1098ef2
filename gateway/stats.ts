/**
 * The operator's live numbers, once a second: rates computed from the difference between two
 * aggregated metric snapshots (bookings/s, searches/s, quota logouts and blocks, 429s) and the p99
 * latency of that second from the histogram buckets' differences. The main thread keeps the last
 * five minutes so a dashboard opened now draws a chart at once.
 */

/** prom-client's JSON form of a metric (getMetricsAsJSON), as far as we read it. */
interface MetricJson {
  name: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

export interface StatsSample {
  /** ms since epoch */
  t: number;
  requests_per_s: number;
  bookings_per_s: number;
  booking_refusals_per_s: number;
  searches_per_s: number;
  logouts_per_s: number;
  blocks_per_s: number;
  rate_limited_per_s: number;
  /** p99 request latency over the last interval, ms (null when no requests) */
  p99_ms: number | null;
  /** queue depth as the worker last published it (gateway/queue-gauges.ts), null when unknown */
  queue: unknown;
}

interface Totals {
  requests: number;
  bookingsOk: number;
  bookingRefusals: number;
  searches: number;
  logouts: number;
  blocks: number;
  rateLimited: number;
  /** cumulative latency bucket counts by upper bound (all routes together) */
  buckets: Map<number, number>;
}

function totalsOf(metrics: MetricJson[]): Totals {
  const totals: Totals = { requests: 0, bookingsOk: 0, bookingRefusals: 0, searches: 0, logouts: 0, blocks: 0, rateLimited: 0, buckets: new Map() };
  for (const metric of metrics) {
    for (const v of metric.values) {
      switch (metric.name) {
        case 'teeka_http_requests_total':
          totals.requests += v.value;
          if (String(v.labels.status) === '429') totals.rateLimited += v.value;
          break;
        case 'teeka_booking_outcomes_total':
          if (v.labels.outcome === 'ok') totals.bookingsOk += v.value;
          else totals.bookingRefusals += v.value;
          break;
        case 'teeka_searches_total':
          totals.searches += v.value;
          break;
        case 'teeka_quota_events_total':
          if (v.labels.event === 'logout') totals.logouts += v.value;
          if (v.labels.event === 'block') totals.blocks += v.value;
          break;
        case 'teeka_http_request_duration_seconds':
          if (v.metricName?.endsWith('_bucket')) {
            const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
            totals.buckets.set(le, (totals.buckets.get(le) ?? 0) + v.value);
          }
          break;
      }
    }
  }
  return totals;
}

/** The 99th percentile (upper bucket bound, ms) of the requests between two cumulative bucket sets. */
function p99Between(before: Map<number, number>, after: Map<number, number>): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const delta = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const count = delta[delta.length - 1] ?? 0;
  if (count <= 0) return null;
  const target = count * 0.99;
  const index = delta.findIndex((cumulative) => cumulative >= target);
  const bound = bounds[index]!;
  return Number.isFinite(bound) ? bound * 1000 : (bounds[bounds.length - 2] ?? 0) * 1000;
}

export class StatsHistory {
  private previous: { t: number; totals: Totals } | undefined;
  readonly samples: StatsSample[] = [];

  constructor(private readonly keep = 300) {}

  /** Add the sample for the interval ending now; returns it (null for the very first snapshot). */
  record(metrics: object[], queue: unknown, now = Date.now()): StatsSample | null {
    const totals = totalsOf(metrics as MetricJson[]);
    const previous = this.previous;
    this.previous = { t: now, totals };
    if (!previous) return null;
    const seconds = Math.max(0.001, (now - previous.t) / 1000);
    const rate = (key: Exclude<keyof Totals, 'buckets'>) => Math.max(0, (totals[key] - previous.totals[key]) / seconds);
    const sample: StatsSample = {
      t: now,
      requests_per_s: rate('requests'),
      bookings_per_s: rate('bookingsOk'),
      booking_refusals_per_s: rate('bookingRefusals'),
      searches_per_s: rate('searches'),
      logouts_per_s: rate('logouts'),
      blocks_per_s: rate('blocks'),
      rate_limited_per_s: rate('rateLimited'),
      p99_ms: p99Between(previous.totals.buckets, totals.buckets),
      queue,
    };
    this.samples.push(sample);
    if (this.samples.length > this.keep) this.samples.shift();
    return sample;
  }
}
