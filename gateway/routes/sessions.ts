/**
 * Session search: public (per-address limit, cacheable) and protected (per-user quota, the 21st
 * search in 15 minutes logs the user out), in CoWIN's find and calendar forms.
 */
import { REQUEST_ERRORS, Status, type ApiError } from '../../engine/status.js';
import { isResponse, outcomeResponse } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { partnerScoped, publicLimited } from '../guards.js';
import { apiError, type HttpRequest, type HttpResponse, type Router } from '../http.js';
import type { SearchKind, SearchQuery } from '../search.js';
import { queryDate, queryId, type Parsed } from '../validation.js';

const KINDS: { kind: SearchKind; param: string; error: () => ApiError; digits: [number, number] }[] = [
  { kind: 'findByPin', param: 'pincode', error: REQUEST_ERRORS.invalidPincode, digits: [4, 9] },
  { kind: 'findByDistrict', param: 'district_id', error: () => REQUEST_ERRORS.badRequest('district_id: expected a number'), digits: [1, 9] },
  { kind: 'calendarByPin', param: 'pincode', error: REQUEST_ERRORS.invalidPincode, digits: [4, 9] },
  { kind: 'calendarByDistrict', param: 'district_id', error: () => REQUEST_ERRORS.badRequest('district_id: expected a number'), digits: [1, 9] },
  { kind: 'calendarByCenter', param: 'center_id', error: () => REQUEST_ERRORS.badRequest('center_id: expected a number'), digits: [1, 12] },
];

export function sessionRoutes(router: Router, ctx: GatewayContext): void {
  const vaccines = new Set(ctx.country.data.vaccines.map((v) => v.name));

  const parse = (request: HttpRequest, spec: (typeof KINDS)[number], allowVaccine: boolean): Parsed<SearchQuery> => {
    // other query parameters are ignored, as CoWIN did: clients add cache-busters (`_=<time>`), and
    // send `vaccine=` to the public variants, which never filtered by it
    const id = queryId(request.query, spec.param, spec.error, spec.digits);
    if (!id.ok) return id;
    const date = queryDate(request.query);
    if (!date.ok) return date;
    const vaccine = allowVaccine ? request.query.get('vaccine') ?? undefined : undefined;
    if (vaccine !== undefined && !vaccines.has(vaccine)) return { ok: false, error: REQUEST_ERRORS.badRequest(`vaccine: expected one of ${[...vaccines].join(', ')}`) };
    return { ok: true, value: { kind: spec.kind, id: id.value, date: date.value, vaccine, language: ctx.country.language(request.headers['accept-language']) } };
  };

  const answer = (request: HttpRequest, query: SearchQuery, cacheControl: string): HttpResponse => {
    const { body, encoding } = ctx.search.answer(query, /\bgzip\b/.test(request.headers['accept-encoding']));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'cache-control': cacheControl,
      'content-language': query.language,
      vary: 'Accept-Encoding, Accept-Language',
    };
    if (encoding) headers['content-encoding'] = encoding;
    return { status: 200, headers, body };
  };

  for (const spec of KINDS) {
    if (spec.param === 'pincode' && !ctx.country.rules.search_by_pincode) {
      // the country's file turns PIN search off (it has no postal codes): one clear answer, before
      // any token or quota is looked at, so a client learns it without spending its allowance
      const off = () => apiError(REQUEST_ERRORS.pincodeSearchOff(ctx.country.data.country.name));
      router.get(`/api/v2/appointment/sessions/public/${spec.kind}`, off);
      router.get(`/api/v2/appointment/sessions/${spec.kind}`, off);
      continue;
    }
    // validate before counting: a malformed call does not use up the caller's allowance
    router.get(`/api/v2/appointment/sessions/public/${spec.kind}`, (request) => {
      const query = parse(request, spec, false);
      if (!query.ok) return apiError(query.error);
      return publicLimited(ctx, () => {
        ctx.metrics.search('public');
        // shared caches may keep it for a second: never older than design.md's ~1 s
        return answer(request, query.value, 'public, max-age=1');
      })(request);
    });

    // a partner's key needs the booking scope here, and the citizen's own token still decides
    router.get(`/api/v2/appointment/sessions/${spec.kind}`, partnerScoped(ctx, ['booking'], async (request) => {
      const citizen = await ctx.auth.citizen(request, false);
      if (isResponse(citizen)) return citizen;
      const query = parse(request, spec, true);
      if (!query.ok) return apiError(query.error);
      const quota = await ctx.quotas.consumeSearchQuota(citizen);
      if (!quota.ok) {
        if (quota.status === Status.QUOTA_LOGOUT) ctx.metrics.quotaEvent('logout');
        if (quota.status === Status.ACCOUNT_BLOCKED) ctx.metrics.quotaEvent('block');
        return outcomeResponse(quota);
      }
      ctx.metrics.search('protected');
      const response = answer(request, query.value, 'private, no-store');
      response.headers!['x-ratelimit-remaining'] = String(quota.remaining);
      response.headers!['x-ratelimit-reset'] = String(Math.ceil(quota.resetMs / 1000));
      return response;
    }));
  }
}
