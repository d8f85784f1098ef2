/** Health, Prometheus metrics and the operator's view of queue depth. */
import { isNativeUws } from '../uws-adapter.js';
import type { GatewayContext } from '../context.js';
import { operatorOnly } from '../guards.js';
import { json, type Router } from '../http.js';

/** What /teeka/ops/queue answers while no worker publishes its depth (gateway/queue-gauges.ts). */
const UNKNOWN_DEPTH = {
  unknown: true,
  reason: 'no persistence worker has published its queue depth in the last few seconds (none is running, or it cannot reach Redis)',
};

export function opsRoutes(router: Router, ctx: GatewayContext): void {
  router.get('/healthz', async () => {
    const health = await ctx.health();
    const ready = health.redis === 'ok' && health.postgres === 'ok';
    return json(ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', ...health, uws: isNativeUws() ? 'native' : 'fallback' }, {
      'cache-control': 'no-store',
    });
  });

  router.get('/metrics', () => ({
    status: 200,
    headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' },
    body: ctx.metricsText(),
  }));

  // `since=<ms>` returns only newer samples: a dashboard polling every second fetches one, not 300
  router.get(
    '/teeka/ops/stats',
    operatorOnly(ctx, 'admin', (request) => {
      const since = Number(request.query.get('since') ?? 0);
      const samples = ctx.stats();
      return json(200, { samples: Number.isFinite(since) && since > 0 ? samples.filter((s) => s.t > since) : samples }, { 'cache-control': 'no-store' });
    }),
  );

  router.get(
    '/teeka/ops/queue',
    operatorOnly(ctx, 'admin', () => json(200, ctx.queueDepth() ?? UNKNOWN_DEPTH, { 'cache-control': 'no-store' })),
  );
}
