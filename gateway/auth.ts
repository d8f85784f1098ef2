/**
 * Who is calling: citizens carry a JWT from the OTP login, operators (admin, vaccinator) one from
 * /teeka/auth/operator. A token is only good while its login session lives in Redis (a quota logout,
 * a block, a newer login, an operator's revocation or new credentials end it). Every gateway thread
 * learns of each ended citizen login from the revocation stream within milliseconds (revocations.ts)
 * and checks citizen tokens in memory; it asks Redis only when its memory cannot tell (the thread is
 * starting or behind, or the token is older than what it has followed).
 */
import type { BookingEngine, Outcome } from '../engine/engine.js';
import type { OperatorSession, Operators } from '../engine/operators.js';
import { Status, apiErrorFor, REQUEST_ERRORS } from '../engine/status.js';
import { signToken, TokenVerifier, type Role, type TokenClaims } from '../engine/tokens.js';
import { apiError, type HttpRequest, type HttpResponse } from './http.js';
import type { GatewayMetrics } from './metrics.js';
import type { RevocationBook } from './revocations.js';

export interface Citizen {
  accountId: string;
  sid: string;
  /** the last 4 digits of the account's mobile, from the token (teeka stores only a keyed hash) */
  mobileLast4: string;
  /** the token's `iat`, seconds since epoch */
  issuedAt: number;
}

/** What a login knows besides the account: for CoWIN's token claims. */
export interface LoginFacts {
  mobileLast4: string;
  userAgent: string;
}

export class Authenticator {
  private readonly verifier: TokenVerifier;

  constructor(
    private readonly engine: BookingEngine,
    private readonly secret: string,
    private readonly citizenTokenSeconds: number,
    private readonly operators: Operators,
    private readonly revocations: RevocationBook,
    private readonly metrics: GatewayMetrics,
  ) {
    this.verifier = new TokenVerifier(secret);
  }

  /** The request's token's verified claims, or null (the access log names callers by them too). */
  claims(request: HttpRequest): TokenClaims | null {
    if (request.claims !== undefined) return request.claims;
    const header = request.headers.authorization;
    request.claims = !header.startsWith('Bearer ') || header.length > 4096 ? null : this.verifier.verify(header.slice(7).trim(), this.engine.now());
    return request.claims;
  }

  /**
   * The citizen a bare token names (a WebSocket message carries it: browsers cannot set headers on
   * a WebSocket), or the 401 to answer; checked as `citizen` checks a request's.
   */
  citizenOfToken(token: string): Citizen | HttpResponse | Promise<Citizen | HttpResponse> {
    return this.citizenOfClaims(token.length > 4096 ? null : this.verifier.verify(token.trim(), this.engine.now()), true);
  }

  /**
   * The calling citizen, or the 401 to answer. `checkLogin: false` skips the login check for
   * routes that check the login session their own way (protected search: quota-gate.ts and its script).
   * Answered at once when memory decides (the token, then the login: the common case); a promise
   * only when the login must be asked of Redis.
   */
  citizen(request: HttpRequest, checkLogin = true): Citizen | HttpResponse | Promise<Citizen | HttpResponse> {
    return this.citizenOfClaims(this.claims(request), checkLogin);
  }

  private citizenOfClaims(claims: TokenClaims | null, checkLogin: boolean): Citizen | HttpResponse | Promise<Citizen | HttpResponse> {
    if (!claims || claims.role !== 'citizen') return apiError(apiErrorFor(Status.UNAUTHENTICATED));
    if (checkLogin) {
      const live = this.revocations.loginLive(claims.sub, claims.sid, claims.iat);
      if (live === false) this.metrics.refusedFromMemory('login_revoked');
      else this.metrics.loginChecked(live ? 'memory' : 'redis');
      if (live === false) return apiError(apiErrorFor(Status.UNAUTHENTICATED));
      if (live === undefined) {
        return this.engine.isLoginLive(claims.sub, claims.sid).then((stillLive) => (stillLive ? citizenOf(claims) : apiError(apiErrorFor(Status.UNAUTHENTICATED))));
      }
    }
    return citizenOf(claims);
  }

  /**
   * The calling operator of `role` as their live login session says (role and centres as issued),
   * or the 401/403 to answer: a revoked or re-issued operator's token is refused from the next request.
   */
  async operator(request: HttpRequest, role: Exclude<Role, 'citizen'>): Promise<OperatorSession | HttpResponse> {
    const claims = this.claims(request);
    if (!claims) return apiError(apiErrorFor(Status.UNAUTHENTICATED));
    if (claims.role !== role) return apiError(REQUEST_ERRORS.forbidden());
    const session = await this.operators.session(claims.sub, claims.sid);
    if (!session) return apiError(apiErrorFor(Status.UNAUTHENTICATED));
    if (session.role !== role) return apiError(REQUEST_ERRORS.forbidden());
    return session;
  }

  citizenToken(accountId: string, sid: string, login: LoginFacts): string {
    const now = this.engine.now();
    return signToken(
      this.secret,
      {
        sub: accountId,
        sid,
        role: 'citizen',
        user_name: accountId,
        user_id: accountId,
        user_type: 'BENEFICIARY',
        mobile_number: login.mobileLast4 ? `XXXXXX${login.mobileLast4}` : '',
        // bounded: the token travels with every request
        ua: login.userAgent.slice(0, 200),
        date_modified: new Date(now).toISOString(),
      },
      this.citizenTokenSeconds,
      now,
    );
  }

  /** The token of an operator login session (Operators.login), as long-lived as the session. */
  operatorToken(session: OperatorSession & { sid: string }): string {
    const seconds = Math.floor(this.operators.sessionTtlMs / 1000);
    return signToken(this.secret, { sub: session.operatorId, sid: session.sid, role: session.role }, seconds, this.engine.now());
  }
}

function citizenOf(claims: TokenClaims): Citizen {
  const masked = (claims as TokenClaims & { mobile_number?: unknown }).mobile_number;
  return { accountId: claims.sub, sid: claims.sid, issuedAt: claims.iat, mobileLast4: typeof masked === 'string' ? masked.slice(-4) : '' };
}

export function isResponse(value: object): value is HttpResponse {
  return 'status' in value && typeof (value as HttpResponse).status === 'number';
}

/** The HTTP answer for a refused outcome, with Retry-After where waiting helps. */
export function outcomeResponse(outcome: Extract<Outcome, { ok: false }>): HttpResponse {
  const error = apiErrorFor(outcome.status);
  const headers = outcome.retryAfterMs !== undefined && outcome.retryAfterMs > 0 ? { 'retry-after': String(Math.ceil(outcome.retryAfterMs / 1000)) } : undefined;
  const body = outcome.beneficiaryId ? { ...error, error: `${error.error} (beneficiary ${outcome.beneficiaryId})` } : error;
  return apiError(body, headers);
}
