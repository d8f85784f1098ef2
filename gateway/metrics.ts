/**
 * Prometheus metrics. Each gateway thread counts into its own prom-client registry; once a second
 * the threads send their metrics to the main thread, which aggregates them (prom-client's
 * AggregatorRegistry), adds the queue depth the worker publishes (queue-gauges.ts), and hands the finished text back to
 * every thread. So whichever thread the kernel gives a scrape to answers for the whole gateway,
 * at most about a second old.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BatchCounts } from '../engine/coalesce.js';
import { Status } from '../engine/status.js';

export type QuotaEvent =
  | 'logout'
  | 'block'
  | 'public_rate_limited'
  | 'otp_requester_limited'
  | 'otp_address_limited'
  | 'otp_country_limited'
  | 'websocket_address_limit';

/** Refusals a gateway thread answers from memory, without Redis (availability.ts, revocations.ts, quota-gate.ts). */
export type MemoryRefusal = 'full' | 'login_revoked' | 'account_blocked' | 'address_limited';

/** The streams a gateway thread follows. */
export type FollowedStream = 'availability' | 'revocations' | 'partners';

/** What became of a call that carried a partner's API key (gateway/partner-gate.ts). */
export type PartnerCallOutcome = 'allowed' | 'rate_limited' | 'scope_refused' | 'key_refused';

/** One label set's count not yet added to its prom-client counter. */
interface PendingCount {
  labels: Record<string, string>;
  count: number;
}

/**
 * Counts of a labelled counter kept as plain numbers and added to the prom-client counter when the
 * metrics are read (its `collect`: the thread's snapshot once a second). prom-client hashes and
 * validates the label set on every inc, a labelled child's too; a request counted three or four
 * times paid that each time, on every request of the hot paths.
 */
class DeferredCounts {
  private readonly pending: PendingCount[] = [];

  /** A slot for a label set: add to its `count` (slots that share labels add up). */
  slot(labels: Record<string, string>): PendingCount {
    const slot = { labels, count: 0 };
    this.pending.push(slot);
    return slot;
  }

  /** Add what was counted since the last read to `counter`. */
  flushInto(counter: Counter<string>): void {
    for (const slot of this.pending) {
      if (slot.count === 0) continue;
      counter.inc(slot.labels, slot.count);
      slot.count = 0;
    }
  }
}

/** One series of a DeferredHistogram: observations per bucket (not cumulative), their sum and count. */
interface HistogramSeries {
  labels: Record<string, string>;
  perBucket: number[];
  sum: number;
  count: number;
}

/**
 * A labelled histogram kept as plain numbers and handed to the thread's snapshot in prom-client's
 * JSON form (what AggregatorRegistry.aggregate sums, and what prom-client's own histogram gives):
 * prom-client's observe converts, validates and hashes the label set on every call, a labelled
 * child's too, which was 6 % of a refused attempt's thread time once per request.
 */
class DeferredHistogram {
  private readonly all: HistogramSeries[] = [];

  constructor(
    private readonly name: string,
    private readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  /** A series for a label set; observe into it (keep it: each call makes a new series). */
  series(labels: Record<string, string>): HistogramSeries {
    const series = { labels, perBucket: this.bounds.map(() => 0), sum: 0, count: 0 };
    this.all.push(series);
    return series;
  }

  observe(series: HistogramSeries, value: number): void {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        series.perBucket[i]! += 1;
        break;
      }
    }
    series.sum += value;
    series.count += 1;
  }

  /**
   * prom-client's JSON of a histogram: per series its cumulative buckets, +Inf, sum and count, with
   * `le` first among a bucket's labels as prom-client puts it (the text output keeps that order).
   */
  toJSON(): object {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const { labels, perBucket, sum, count } of this.all) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += perBucket[i]!;
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...labels }, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...labels }, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}

/** One thread's counters. */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly pendingRequests = new DeferredCounts();
  private readonly requests: Counter<'route' | 'method' | 'status'> = new Counter({
    name: 'teeka_http_requests_total',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
    collect: () => this.pendingRequests.flushInto(this.requests),
  });
  // not in the registry: added to the snapshot (see DeferredHistogram)
  private readonly latency = new DeferredHistogram(
    'teeka_http_request_duration_seconds',
    'Time from request to response, by route pattern',
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  /** route → its latency series */
  private readonly latencySeries = new Map<string, HistogramSeries>();
  private readonly pendingBookings = new DeferredCounts();
  private readonly bookings: Counter<'outcome'> = new Counter({
    name: 'teeka_booking_outcomes_total',
    help: 'Answers to booking attempts (schedule), by outcome (ok, full, already_booked, …)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
    collect: () => this.pendingBookings.flushInto(this.bookings),
  });
  private readonly quota = new Counter({
    name: 'teeka_quota_events_total',
    help: 'Quota decisions: logouts (21st search in 15 min), blocks (24 h), per-address rate limits, OTP limits (per requester, per address, per country), WebSocket limits per address',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  private readonly pendingSearches = new DeferredCounts();
  private readonly searches: Counter<'kind'> = new Counter({
    name: 'teeka_searches_total',
    help: 'Session searches answered, public and protected',
    labelNames: ['kind'] as const,
    registers: [this.registry],
    collect: () => this.pendingSearches.flushInto(this.searches),
  });
  private readonly pendingFromMemory = new DeferredCounts();
  private readonly fromMemory: Counter<'reason'> = new Counter({
    name: 'teeka_refused_from_memory_total',
    help: 'Requests refused by a gateway thread from memory, without Redis: full (dose or slot), login_revoked, account_blocked, address_limited',
    labelNames: ['reason'] as const,
    registers: [this.registry],
    collect: () => this.pendingFromMemory.flushInto(this.fromMemory),
  });
  private readonly pendingLoginChecks = new DeferredCounts();
  private readonly loginChecks: Counter<'answered_by'> = new Counter({
    name: 'teeka_login_checks_total',
    help: 'Checks that a citizen token\'s login is still live, by who answered: memory (the revocation stream) or redis (a thread starting, behind, or an older token)',
    labelNames: ['answered_by'] as const,
    registers: [this.registry],
    collect: () => this.pendingLoginChecks.flushInto(this.loginChecks),
  });
  private readonly streamLag = new Histogram({
    name: 'teeka_stream_lag_seconds',
    help: 'Age of a stream entry when a gateway thread applied it (XADD by Redis clock to now): how stale memory is',
    labelNames: ['stream'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly partnerCalls = new Counter({
    name: 'teeka_partner_calls_total',
    help: 'Calls made with a partner API key, by partner and outcome: allowed, rate_limited (its per-minute or per-day limit), scope_refused, key_refused (unknown or revoked key; partner "unknown")',
    labelNames: ['partner', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly partnerKeyChecks = new Counter({
    name: 'teeka_partner_key_checks_total',
    help: 'Partner API keys checked, by who answered: memory (a key this thread verified, kept while it follows the partner stream) or redis',
    labelNames: ['answered_by'] as const,
    registers: [this.registry],
  });
  private readonly accessFlags = new Counter({
    name: 'teeka_access_flagged_total',
    help: 'Operators and partners the access log watch flagged for reading more distinct people in a window than configured (TEEKA_ACCESS_FLAG_*; for a vaccinator, only people outside the appointments of its centres that day), by kind and reader; once per window per gateway thread',
    labelNames: ['kind', 'reader'] as const,
    registers: [this.registry],
  });
  // fair admission (gateway/queue-room.ts), by session: every thread takes turns for every opening
  // and sees the same numbers in Redis, so the main thread keeps the largest (the freshest), not their sum
  private readonly queue = {
    waiting: this.queueGauge('teeka_queue_waiting', 'Places waiting in the queue of a session under fair admission'),
    admitted: this.queueGauge('teeka_queue_admitted', 'Places admitted so far in the queue of a session under fair admission'),
    rate: this.queueGauge('teeka_queue_admission_rate', 'The configured admission rate of a session under fair admission, places a second'),
    seatsLeft: this.queueGauge('teeka_queue_seats_left', 'Seats left in a session under fair admission while its opening is on (dose 1 and 2 together)'),
    outstandingSeats: this.queueGauge('teeka_queue_outstanding_seats', 'Beneficiaries of the admissions outstanding (admitted, not yet used or expired)'),
  };
  private readonly sockets = new Gauge({
    name: 'teeka_websocket_connections',
    help: 'Open availability WebSocket connections',
    registers: [this.registry],
  });

  /** the engine's coalesced scripts (engine/coalesce.ts), read at each snapshot */
  private readonly batchSources = new Map<string, BatchCounts>();
  private readonly coalescedBatches: Counter<'script'> = new Counter({
    name: 'teeka_coalesced_batches_total',
    help: 'Script calls that carried requests coalesced per partition and event-loop turn, by script; divide teeka_coalesced_requests_total by it for the mean batch size',
    labelNames: ['script'] as const,
    registers: [this.registry],
    collect: () => this.readBatches(),
  });
  private readonly coalescedRequests: Counter<'script'> = new Counter({
    name: 'teeka_coalesced_requests_total',
    help: 'Requests those script calls carried, by script',
    labelNames: ['script'] as const,
    registers: [this.registry],
    collect: () => this.readBatches(), // sets both counters: reading twice is harmless
  });

  /** Report a coalesced script's counts (the engine keeps them). */
  followBatches(script: string, counts: BatchCounts): void {
    this.batchSources.set(script, counts);
  }

  private readBatches(): void {
    this.coalescedBatches.reset();
    this.coalescedRequests.reset();
    for (const [script, counts] of this.batchSources) {
      this.coalescedBatches.inc({ script }, counts.batches);
      this.coalescedRequests.inc({ script }, counts.calls);
    }
  }

  /** route → `method status` → its count and latency series (route names are the router's patterns: bounded) */
  private readonly requestChildren = new Map<string, Map<string, { count: PendingCount; latency: HistogramSeries }>>();

  request(route: string, method: string, status: number, seconds: number): void {
    let byRoute = this.requestChildren.get(route);
    if (!byRoute) this.requestChildren.set(route, (byRoute = new Map()));
    const key = `${method} ${status}`;
    let child = byRoute.get(key);
    if (!child) {
      let latency = this.latencySeries.get(route);
      if (!latency) this.latencySeries.set(route, (latency = this.latency.series({ route })));
      child = { count: this.pendingRequests.slot({ route, method, status: String(status) }), latency };
      byRoute.set(key, child);
    }
    child.count.count += 1;
    this.latency.observe(child.latency, seconds);
  }

  private readonly memorySlots = new Map<string, PendingCount>();

  refusedFromMemory(reason: MemoryRefusal): void {
    let slot = this.memorySlots.get(reason);
    if (!slot) this.memorySlots.set(reason, (slot = this.pendingFromMemory.slot({ reason })));
    slot.count += 1;
  }

  private readonly loginCheckSlots = new Map<string, PendingCount>();

  loginChecked(answeredBy: 'memory' | 'redis'): void {
    let slot = this.loginCheckSlots.get(answeredBy);
    if (!slot) this.loginCheckSlots.set(answeredBy, (slot = this.pendingLoginChecks.slot({ answered_by: answeredBy })));
    slot.count += 1;
  }

  // partners number in the dozens: the label set stays small
  private readonly partnerCallChildren = new Map<string, { inc(): void }>();

  partnerCall(partnerId: string, outcome: PartnerCallOutcome): void {
    const key = `${partnerId} ${outcome}`;
    let child = this.partnerCallChildren.get(key);
    if (!child) this.partnerCallChildren.set(key, (child = this.partnerCalls.labels(partnerId, outcome)));
    child.inc();
  }

  partnerKeyChecked(answeredBy: 'memory' | 'redis'): void {
    this.partnerKeyChecks.inc({ answered_by: answeredBy });
  }

  accessFlagged(kind: string, reader: string): void {
    this.accessFlags.inc({ kind, reader });
  }

  /** What a stream follower calls with each applied entry's age. */
  lagObserver(stream: FollowedStream): (seconds: number) => void {
    const child = this.streamLag.labels(stream);
    return (seconds) => child.observe(seconds);
  }

  private readonly bookingSlots = new Map<Status, PendingCount>();

  booking(status: Status): void {
    let slot = this.bookingSlots.get(status);
    if (!slot) {
      slot = this.pendingBookings.slot({ outcome: status > 0 ? 'ok' : (Status[status] ?? String(status)).toLowerCase() });
      this.bookingSlots.set(status, slot);
    }
    slot.count += 1;
  }

  quotaEvent(event: QuotaEvent): void {
    this.quota.inc({ event });
  }

  private readonly searchSlots = new Map<string, PendingCount>();

  search(kind: 'public' | 'protected'): void {
    let slot = this.searchSlots.get(kind);
    if (!slot) this.searchSlots.set(kind, (slot = this.pendingSearches.slot({ kind })));
    slot.count += 1;
  }

  private queueGauge(name: string, help: string): Gauge<'session_id'> {
    return new Gauge({ name, help: `${help}, by session`, labelNames: ['session_id'] as const, aggregator: 'max', registers: [this.registry] });
  }

  /** One opening's numbers after an admission turn (gateway/queue-room.ts). */
  queueOpening(sessionId: string, n: Record<keyof GatewayMetrics['queue'], number>): void {
    for (const [name, gauge] of Object.entries(this.queue)) gauge.set({ session_id: sessionId }, n[name as keyof typeof n]);
  }

  /** An opening long past its cutoff leaves the metrics. */
  forgetQueueOpening(sessionId: string): void {
    for (const gauge of Object.values(this.queue)) gauge.remove({ session_id: sessionId });
  }

  socketOpened(): void {
    this.sockets.inc();
  }

  socketClosed(): void {
    this.sockets.dec();
  }

  /** This thread's metrics, in the JSON form AggregatorRegistry.aggregate takes. */
  async snapshot(): Promise<object[]> {
    const metrics: object[] = await this.registry.getMetricsAsJSON();
    metrics.push(this.latency.toJSON());
    return metrics;
  }
}
