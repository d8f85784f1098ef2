/**
 * The gateway's request latency histogram is counted as plain numbers and written into the thread's
 * snapshot by hand (gateway/metrics.ts, DeferredHistogram): what the main thread aggregates and
 * serves must be exactly what prom-client's own histogram gives for the same observations.
 */
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../gateway/metrics.js';

const NAME = 'teeka_http_request_duration_seconds';
const BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Requests of two threads: route, method, status, seconds (bounds, between them, past the last). */
const THREADS: [string, string, number, number][][] = [
  [
    ['/api/v2/appointment/schedule', 'POST', 409, 0.0003],
    ['/api/v2/appointment/schedule', 'POST', 409, 0.0005],
    ['/api/v2/appointment/schedule', 'POST', 200, 0.0041],
    ['/api/v2/appointment/sessions/calendarByDistrict', 'GET', 200, 0.02],
    ['/api/v2/appointment/sessions/calendarByDistrict', 'GET', 401, 3.7],
  ],
  [
    ['/api/v2/appointment/schedule', 'POST', 409, 0.00051],
    ['/api/v2/appointment/sessions/calendarByDistrict', 'GET', 200, 0.3],
    ['/api/v2/auth/generateMobileOTP', 'POST', 200, 1],
  ],
];

/** prom-client's own histogram fed the same observations, one registry per thread. */
async function promClientThreads(): Promise<object[][]> {
  return Promise.all(
    THREADS.map(async (requests) => {
      const registry = new Registry();
      const histogram = new Histogram({ name: NAME, help: 'Time from request to response, by route pattern', labelNames: ['route'], buckets: BUCKETS, registers: [registry] });
      for (const [route, , , seconds] of requests) histogram.labels(route).observe(seconds);
      return registry.getMetricsAsJSON();
    }),
  );
}

describe('the request latency histogram', () => {
  it('gives what prom-client gives, per thread and aggregated', async () => {
    const snapshots = await Promise.all(
      THREADS.map(async (requests) => {
        const metrics = new GatewayMetrics();
        for (const [route, method, status, seconds] of requests) metrics.request(route, method, status, seconds);
        return metrics.snapshot();
      }),
    );
    const expected = await promClientThreads();
    const ours = snapshots.map((metrics) => metrics.find((m) => (m as { name: string }).name === NAME));
    for (const [i, thread] of expected.entries()) {
      const theirs = thread[0] as { values: { labels: object; value: number; metricName: string }[] };
      const mine = ours[i] as typeof theirs;
      expect(mine).toMatchObject({ name: NAME, type: 'histogram', aggregator: 'sum' });
      // the same series, in the same order, with the same values (exemplars aside, which teeka does not use)
      expect(mine.values.map(({ labels, value, metricName }) => ({ labels, value, metricName }))).toEqual(
        theirs.values.map(({ labels, value, metricName }) => ({ labels, value, metricName })),
      );
    }
    const aggregatedText = (threads: object[][]) =>
      AggregatorRegistry.aggregate(threads.map((t) => t.filter((m) => (m as { name: string }).name === NAME)) as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
    const text = await aggregatedText(snapshots);
    expect(text).toBe(await aggregatedText(expected));
    // and it says what was observed: of the 4 schedule answers, 2 within the first bucket (0.3 and 0.5 ms)
    expect(text).toContain(`${NAME}_bucket{le="0.0005",route="/api/v2/appointment/schedule"} 2`);
    expect(text).toContain(`${NAME}_count{route="/api/v2/appointment/schedule"} 4`);
    expect(text).toContain(`${NAME}_bucket{le="2.5",route="/api/v2/appointment/sessions/calendarByDistrict"} 2`);
    expect(text).toContain(`${NAME}_bucket{le="+Inf",route="/api/v2/appointment/sessions/calendarByDistrict"} 3`);
  });
});
