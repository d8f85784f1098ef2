/**
 * Wrappers that put a route behind the per-address limit, a citizen login, or an operator role, and
 * a partner's key (`x-api-key`) where one is sent: its scope, and its limits instead of the address's.
 */
import type { OperatorSession } from '../engine/operators.js';
import type { PartnerScope } from '../engine/partners.js';
import { apiErrorFor, Status } from '../engine/status.js';
import type { Role } from '../engine/tokens.js';
import { isResponse, outcomeResponse, type Citizen } from './auth.js';
import type { GatewayContext } from './context.js';
import { apiError, type Handler, type HttpRequest, type HttpResponse } from './http.js';
import { withHeaders } from './partner-gate.js';

/**
 * The address a per-address limit counts against. IPv4 as it is (also when a dual-stack listener
 * shows it IPv4-mapped); IPv6 by its /64, because one client holds a whole /64 and could otherwise
 * take a fresh address, and a fresh allowance, for every request. uWS writes IPv6 in full
 * (`2001:0db8:0000:0000:…`), which is what this reads.
 */
export function addressForLimits(remoteAddress: string): string {
  const groups = remoteAddress.split(':');
  if (groups.length !== 8) return remoteAddress;
  if (groups.slice(0, 5).every((g) => /^0+$/.test(g)) && groups[5]!.toLowerCase() === 'ffff') {
    const high = parseInt(groups[6]!, 16);
    const low = parseInt(groups[7]!, 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return `${groups.slice(0, 4).join(':').toLowerCase()}::/64`;
}

/**
 * A route a partner may call with its key when its scopes include one of `scopes`: counted against
 * the partner's limits, its answer carrying the RateLimit headers. Without a key, `handler` as it is.
 */
export function partnerScoped(ctx: GatewayContext, scopes: readonly PartnerScope[], handler: Handler): Handler {
  const withKey = async (request: HttpRequest): Promise<HttpResponse> => {
    const admitted = await ctx.partners.admit(request, scopes, addressForLimits(request.remoteAddress));
    if (isResponse(admitted)) return admitted;
    return withHeaders(await handler(request), admitted.headers);
  };
  // most calls carry no key: straight to the handler, without a promise and a turn of its own
  return (request) => (request.headers['x-api-key'] ? withKey(request) : handler(request));
}

/**
 * The public API's limit: `public_rate_limit` calls per window per client address (a limited address
 * is refused from memory until its window ends); with a partner's key of the `availability` scope
 * (or another of `scopes`), the partner's own limits instead.
 */
export function publicLimited(ctx: GatewayContext, handler: Handler, scopes: readonly PartnerScope[] = ['availability']): Handler {
  return partnerScoped(ctx, scopes, async (request) => {
    if (request.headers['x-api-key']) return handler(request);
    const outcome = await ctx.quotas.consumePublicQuota(addressForLimits(request.remoteAddress));
    if (!outcome.ok) {
      ctx.metrics.quotaEvent('public_rate_limited');
      return outcomeResponse(outcome);
    }
    return handler(request);
  });
}

/** A citizen's own route; a partner's key needs the `booking` scope and never replaces the citizen's token. */
export function citizenOnly(
  ctx: GatewayContext,
  handler: (request: HttpRequest, citizen: Citizen) => HttpResponse | Promise<HttpResponse>,
): Handler {
  // synchronous while memory decides who calls: a refusal from memory then never waits a turn
  const withCitizen = (request: HttpRequest, citizen: Citizen | HttpResponse) => (isResponse(citizen) ? citizen : handler(request, citizen));
  return partnerScoped(ctx, ['booking'], (request) => {
    const citizen = ctx.auth.citizen(request);
    return citizen instanceof Promise ? citizen.then((known) => withCitizen(request, known)) : withCitizen(request, citizen);
  });
}

export function operatorOnly(
  ctx: GatewayContext,
  role: Exclude<Role, 'citizen'>,
  handler: (request: HttpRequest, operator: OperatorSession) => HttpResponse | Promise<HttpResponse>,
): Handler {
  return async (request) => {
    // no scope of a partner covers the operators' routes
    if (request.headers['x-api-key']) return apiError(apiErrorFor(Status.PARTNER_SCOPE_REFUSED));
    const operator = await ctx.auth.operator(request, role);
    if (isResponse(operator)) return operator;
    return handler(request, operator);
  };
}
