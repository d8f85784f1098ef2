/** Health, Prometheus metrics and the operator's view of queue depth. */
import { isNativeUws } from '../uws-adapter.js';
import type { GatewayContext } from '../context.js';
import { operatorOnly } from '../guards.js';
import { json, type Router } from '../http.js';

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

  router.get(
    '/teeka/ops/stats',
    operatorOnly(ctx, 'admin', () => json(200, { samples: ctx.stats() }, { 'cache-control': 'no-store' })),
  );

  router.get(
    '/teeka/ops/queue',
    operatorOnly(ctx, 'admin', () => json(200, ctx.queueDepth() ?? {}, { 'cache-control': 'no-store' })),
  );
}
