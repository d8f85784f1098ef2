/**
 * The gateway's own request and response types, and the router. Routes are plain functions from
 * an HttpRequest to an HttpResponse; nothing here knows about uWebSockets.js (only
 * gateway/uws-adapter.ts does), so routes are easy to read, test and change.
 */
import type { ApiError } from '../engine/status.js';
import type { TokenClaims } from '../engine/tokens.js';

/** Headers the gateway reads; the adapter copies exactly these before any await. */
export const READ_HEADERS = [
  'authorization',
  'content-type',
  'content-length',
  'idempotency-key',
  'if-none-match',
  'x-forwarded-for',
  'user-agent',
  'accept',
  // the web pages' assets are served brotli- or gzip-compressed when the browser accepts it
  'accept-encoding',
  // the language of the *_l names (CoWIN's Accept-Language)
  'accept-language',
  // cross-origin requests and their preflights (cors.ts)
  'origin',
  'access-control-request-method',
  'access-control-request-headers',
  // a partner's API key (partner-gate.ts)
  'x-api-key',
  // an admission from the queue of a session under fair admission (routes/appointments.ts)
  'x-admission',
] as const;
export type HeaderName = (typeof READ_HEADERS)[number];

export interface HttpRequest {
  /** upper case: GET, POST, … */
  method: string;
  /** the path without the query string, e.g. /api/v2/appointment/schedule */
  path: string;
  query: URLSearchParams;
  headers: Record<HeaderName, string>;
  /** the client's address as text */
  remoteAddress: string;
  /** the request body (POST, PUT, PATCH), at most the configured size */
  body: Buffer | null;
  /** aborted when the client goes away; routes may pass it on to long work */
  signal: AbortSignal;
  /** path parameters of the matched route, e.g. { state_id: '9' } */
  params: Record<string, string>;
  /** the matched route's pattern (metrics label); '' until routed, 'unmatched' when nothing matched */
  route: string;
  /** the body's JSON value once parseBody has read it, so that the access log need not parse the body again */
  bodyValue?: unknown;
  /**
   * Set by the access log (gateway/access-log.ts) on a personal-data route whose own script may carry
   * the entry (a citizen's booking): the answer the route reports logged so, once it has one.
   */
  accessInScript?: { loggedAnswer?: HttpResponse };
  /**
   * The token's verified claims once the Authenticator has read them (null: no valid token), so the
   * access log and the route's guard, which both ask who calls, verify the token once per request:
   * each lookup hashes a new 300-character string.
   */
  claims?: TokenClaims | null;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /**
   * The value a JSON answer was made from (json()), with the body made of it, so that a reader of the
   * answer on its way out (the access log, which names the ids an answer holds) need not parse its body
   * back: a citizen's beneficiary list is kilobytes. (A field, not a WeakMap: every answer has one.)
   */
  madeFrom?: { value: unknown; body: string };
}

export type Handler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

export const JSON_HEADERS = { 'content-type': 'application/json' } as const;

export function json(status: number, value: unknown, headers?: Record<string, string>): HttpResponse {
  const body = JSON.stringify(value);
  return { status, headers: headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS, body, madeFrom: { value, body } };
}

/** The value `response` was made from by json(), or undefined (not made by json(), or its body was replaced since). */
export function jsonValueOf(response: HttpResponse): unknown {
  const made = response.madeFrom;
  return made && made.body === response.body ? made.value : undefined;
}

/**
 * The answers of the fixed errors (engine/status.ts's API_ERRORS, one object per status), made once:
 * an opening's refused attempts are mostly the same 409, and serializing it again per attempt was
 * work and garbage for nothing. Frozen, so that an answer shared by every request cannot be changed
 * by one (answers are copied, never changed in place: withHeaders, cors.ts).
 */
const FIXED_ERROR_ANSWERS = new WeakMap<ApiError, HttpResponse>();

/** A CoWIN-style error body: {"errorCode":"APPOIN0040","error":"…"} */
export function apiError(error: ApiError, headers?: Record<string, string>): HttpResponse {
  if (headers || !Object.isFrozen(error)) return json(error.httpStatus, { errorCode: error.errorCode, error: error.error }, headers);
  let answer = FIXED_ERROR_ANSWERS.get(error);
  if (!answer) {
    const made = json(error.httpStatus, Object.freeze({ errorCode: error.errorCode, error: error.error }));
    answer = Object.freeze({ ...made, madeFrom: Object.freeze(made.madeFrom!) });
    FIXED_ERROR_ANSWERS.set(error, answer);
  }
  return answer;
}

export const noContent = (): HttpResponse => ({ status: 204 });

/** A citizen's own document as a PDF download: never cached by anyone but the citizen's browser. */
export function pdfDownload(filename: string, pdf: Uint8Array): HttpResponse {
  return {
    status: 200,
    headers: { 'content-type': 'application/pdf', 'content-disposition': `attachment; filename="${filename}"`, 'cache-control': 'private, no-store' },
    body: pdf,
  };
}

export interface RouteMatch {
  handler: Handler;
  /** label for metrics: the pattern, never the concrete path (bounded cardinality) */
  name: string;
  params: Record<string, string>;
}

/** A route; a static one is its own match (no object made per request). */
interface Route extends RouteMatch {
  method: string;
  segments: string[];
}

/** The params of every static route: none, one frozen object for all (routes read params, never write them). */
const NO_PARAMS: Record<string, string> = Object.freeze({});

/**
 * Routes by method and path. Static paths are one map lookup; patterns with `:param` segments are
 * matched segment by segment. A path that exists with another method is told apart (405 vs 404).
 */
export class Router {
  /** method → static path → route: no key string made per request */
  private readonly exact = new Map<string, Map<string, Route>>();
  private readonly patterned: Route[] = [];
  private readonly knownPaths = new Set<string>();

  add(method: string, pattern: string, handler: Handler): this {
    const route: Route = { method, name: pattern, segments: pattern.split('/'), handler, params: NO_PARAMS };
    if (pattern.includes(':')) this.patterned.push(route);
    else {
      let byPath = this.exact.get(method);
      if (!byPath) this.exact.set(method, (byPath = new Map()));
      byPath.set(pattern, route);
    }
    this.knownPaths.add(pattern);
    return this;
  }

  get(pattern: string, handler: Handler): this {
    return this.add('GET', pattern, handler);
  }

  post(pattern: string, handler: Handler): this {
    return this.add('POST', pattern, handler);
  }

  /** Put `wrap` around one route's handler (the access log wraps the personal-data routes); no such route throws. */
  wrap(method: string, pattern: string, wrap: (handler: Handler) => Handler): void {
    const route = this.exact.get(method)?.get(pattern) ?? this.patterned.find((r) => r.method === method && r.name === pattern);
    if (!route) throw new Error(`no route ${method} ${pattern} to wrap`);
    route.handler = wrap(route.handler);
  }

  /** The route for a request, 'method' when the path exists only for other methods, or null. */
  match(method: string, path: string): RouteMatch | 'method' | null {
    const effective = method === 'HEAD' ? 'GET' : method;
    const exact = this.exact.get(effective)?.get(path);
    if (exact) return exact;
    const segments = path.split('/');
    let pathExists = this.knownPaths.has(path);
    for (const route of this.patterned) {
      if (route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let matched = true;
      for (let i = 0; i < segments.length && matched; i++) {
        const want = route.segments[i]!;
        const got = segments[i]!;
        if (want.startsWith(':')) {
          const value = got === '' ? null : safeDecode(got);
          if (value === null) matched = false;
          else params[want.slice(1)] = value;
        } else if (want !== got) matched = false;
      }
      if (!matched) continue;
      if (route.method === effective) return { handler: route.handler, name: route.name, params };
      pathExists = true;
    }
    return pathExists ? 'method' : null;
  }

  /** The methods a path is served with, and the route's name (for a preflight), or null when none. */
  methodsOf(path: string): { methods: string[]; name: string } | null {
    let name = '';
    const methods = ['GET', 'POST'].filter((method) => {
      const match = this.match(method, path);
      if (match === null || match === 'method') return false;
      name = match.name;
      return true;
    });
    return methods.length ? { methods, name } : null;
  }

  /** Every route's metrics label and method (for pre-registering metrics). */
  routes(): { method: string; name: string }[] {
    return [...[...this.exact.values()].flatMap((byPath) => [...byPath.values()]), ...this.patterned].map((r) => ({ method: r.method, name: r.name }));
  }
}

function safeDecode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}
