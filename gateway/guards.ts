/** Wrappers that put a route behind the per-address limit, a citizen login, or an operator role. */
import type { Role, TokenClaims } from '../engine/tokens.js';
import { isResponse, outcomeResponse, type Citizen } from './auth.js';
import type { GatewayContext } from './context.js';
import type { Handler, HttpRequest, HttpResponse } from './http.js';

/** The public API's limit: `public_rate_limit` calls per window per client address. */
export function publicLimited(ctx: GatewayContext, handler: Handler): Handler {
  return async (request) => {
    const outcome = await ctx.engine.consumePublicQuota(request.remoteAddress);
    if (!outcome.ok) {
      ctx.metrics.quotaEvent('public_rate_limited');
      return outcomeResponse(outcome);
    }
    return handler(request);
  };
}

export function citizenOnly(
  ctx: GatewayContext,
  handler: (request: HttpRequest, citizen: Citizen) => HttpResponse | Promise<HttpResponse>,
): Handler {
  return async (request) => {
    const citizen = await ctx.auth.citizen(request);
    if (isResponse(citizen)) return citizen;
    return handler(request, citizen);
  };
}

export function operatorOnly(
  ctx: GatewayContext,
  role: Exclude<Role, 'citizen'>,
  handler: (request: HttpRequest, operator: TokenClaims) => HttpResponse | Promise<HttpResponse>,
): Handler {
  return (request) => {
    const operator = ctx.auth.operator(request, role);
    if (isResponse(operator)) return operator;
    return handler(request, operator);
  };
}
