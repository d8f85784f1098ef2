/**
 * Cross-origin access (CORS). Browser-based slot trackers called CoWIN's public API from their own
 * pages in 2021, so the public reads answer any origin. Everything else (logins, a citizen's data,
 * bookings, operators) answers only the origins a deployment lists in TEEKA_CORS_ORIGINS: an
 * OTP request from any web page would let a site send SMS from its visitors' addresses, past the
 * per-address limit.
 */
import type { HttpRequest, HttpResponse } from './http.js';

/** Routes anyone may read from any page: no token, no personal data, cacheable. */
const PUBLIC_READS = [
  '/api/v2/admin/location/',
  '/api/v2/appointment/sessions/public/',
  '/api/v2/appointment/centers/public/',
  '/api/v2/registration/beneficiary/genders',
  '/api/v2/registration/beneficiary/idTypes',
];

/** Request headers a cross-origin page may send (CoWIN clients' and teeka's own). */
const ALLOWED_HEADERS = ['authorization', 'content-type', 'idempotency-key', 'accept-language', 'x-api-key'];
/** Response headers a cross-origin page may read besides the CORS-safelisted ones. */
const EXPOSED_HEADERS = 'Retry-After, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy, Content-Language';

export class CorsPolicy {
  private readonly origins: ReadonlySet<string>;

  constructor(allowedOrigins: readonly string[]) {
    this.origins = new Set(allowedOrigins);
  }

  private isPublicRead(method: string, routeName: string): boolean {
    return (method === 'GET' || method === 'HEAD') && PUBLIC_READS.some((prefix) => routeName.startsWith(prefix));
  }

  /** The headers that let the request's origin read the answer, or null (no Origin, or not allowed). */
  headersFor(request: HttpRequest, routeName: string, method = request.method): Record<string, string> | null {
    const origin = request.headers.origin;
    if (!origin) return null;
    if (this.isPublicRead(method, routeName)) return { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSED_HEADERS };
    if (!this.origins.has(origin)) return null;
    return { 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSED_HEADERS, vary: 'Origin' };
  }

  /** Add the CORS headers to a route's answer (a copy: answers may share constant header objects). */
  apply(request: HttpRequest, routeName: string, response: HttpResponse | Promise<HttpResponse>): HttpResponse | Promise<HttpResponse> {
    const cors = this.headersFor(request, routeName);
    if (!cors) return response;
    const add = (r: HttpResponse): HttpResponse => ({ ...r, headers: { ...r.headers, ...cors, ...(r.headers?.vary && cors.vary ? { vary: `${r.headers.vary}, Origin` } : {}) } });
    return response instanceof Promise ? response.then(add) : add(response);
  }

  /**
   * The answer to a preflight (OPTIONS) for a path served with `methods` under `routeName`: 204 with
   * what the origin may do, or 204 without permissions when it may do nothing (the browser then
   * refuses the real request).
   */
  preflight(request: HttpRequest, routeName: string, methods: readonly string[]): HttpResponse {
    const asked = (request.headers['access-control-request-method'] || 'GET').toUpperCase();
    const headers: Record<string, string> = { allow: [...methods, 'OPTIONS'].join(', '), vary: 'Origin' };
    const cors = methods.includes(asked === 'HEAD' ? 'GET' : asked) ? this.headersFor(request, routeName, asked) : null;
    if (cors) {
      const requestedHeaders = (request.headers['access-control-request-headers'] || '')
        .toLowerCase()
        .split(',')
        .map((h) => h.trim())
        .filter((h) => ALLOWED_HEADERS.includes(h));
      Object.assign(headers, cors, {
        'access-control-allow-methods': [...methods, 'OPTIONS'].join(', '),
        'access-control-max-age': '600',
        ...(requestedHeaders.length ? { 'access-control-allow-headers': requestedHeaders.join(', ') } : {}),
      });
    }
    return { status: 204, headers };
  }
}
