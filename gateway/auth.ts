/**
 * Who is calling: citizens carry a JWT from the OTP login, operators (admin, vaccinator) one from
 * /teeka/auth/operator. A citizen token is only good while its login session lives in Redis
 * (a quota logout, a block or a newer login ends it). Every gateway thread learns of each ended
 * login from the revocation stream within milliseconds (revocations.ts) and checks tokens in
 * memory; it asks Redis only when its memory cannot tell (the thread is starting or behind, or the
 * token is older than what it has followed).
 */
import type { BookingEngine, Outcome } from '../engine/engine.js';
import { Status, apiErrorFor, REQUEST_ERRORS } from '../engine/status.js';
import { signToken, TokenVerifier, type Role, type TokenClaims } from '../engine/tokens.js';
import { apiError, type HttpRequest, type HttpResponse } from './http.js';
import type { GatewayMetrics } from './metrics.js';
import type { RevocationBook } from './revocations.js';

export interface Citizen {
  accountId: string;
  sid: string;
  /** the token's `iat`, seconds since epoch */
  issuedAt: number;
}

const OPERATOR_TOKEN_SECONDS = 8 * 3600;

export class Authenticator {
  private readonly verifier: TokenVerifier;

  constructor(
    private readonly engine: BookingEngine,
    private readonly secret: string,
    private readonly citizenTokenSeconds: number,
    private readonly revocations: RevocationBook,
    private readonly metrics: GatewayMetrics,
  ) {
    this.verifier = new TokenVerifier(secret);
  }

  private claims(request: HttpRequest): TokenClaims | null {
    const header = request.headers.authorization;
    if (!header.startsWith('Bearer ') || header.length > 4096) return null;
    return this.verifier.verify(header.slice(7).trim(), this.engine.now());
  }

  /**
   * The calling citizen, or the 401 to answer. `checkLogin: false` skips the login check for
   * routes that check the login session their own way (protected search: quota-gate.ts and its script).
   */
  async citizen(request: HttpRequest, checkLogin = true): Promise<Citizen | HttpResponse> {
    const claims = this.claims(request);
    if (!claims || claims.role !== 'citizen') return apiError(apiErrorFor(Status.UNAUTHENTICATED));
    if (checkLogin) {
      const live = this.revocations.loginLive(claims.sid, claims.iat);
      if (live === false) this.metrics.refusedFromMemory('login_revoked');
      else this.metrics.loginChecked(live ? 'memory' : 'redis');
      if (live === false || (live === undefined && !(await this.engine.isLoginLive(claims.sub, claims.sid)))) {
        return apiError(apiErrorFor(Status.UNAUTHENTICATED));
      }
    }
    return { accountId: claims.sub, sid: claims.sid, issuedAt: claims.iat };
  }

  /** The calling operator of `role`, or the 401/403 to answer. */
  operator(request: HttpRequest, role: Exclude<Role, 'citizen'>): TokenClaims | HttpResponse {
    const claims = this.claims(request);
    if (!claims) return apiError(apiErrorFor(Status.UNAUTHENTICATED));
    if (claims.role !== role) return apiError(REQUEST_ERRORS.forbidden());
    return claims;
  }

  citizenToken(accountId: string, sid: string): string {
    return signToken(this.secret, { sub: accountId, sid, role: 'citizen' }, this.citizenTokenSeconds, this.engine.now());
  }

  operatorToken(role: Exclude<Role, 'citizen'>, operatorId: string): string {
    return signToken(this.secret, { sub: operatorId, sid: `${role}:${operatorId}`, role }, OPERATOR_TOKEN_SECONDS, this.engine.now());
  }
}

export function isResponse(value: object): value is HttpResponse {
  return 'status' in value && typeof (value as HttpResponse).status === 'number';
}

/** The HTTP answer for a refused outcome, with Retry-After where waiting helps. */
export function outcomeResponse(outcome: Extract<Outcome, { ok: false }>): HttpResponse {
  const error = apiErrorFor(outcome.status);
  const headers: Record<string, string> = {};
  if (outcome.retryAfterMs !== undefined && outcome.retryAfterMs > 0) headers['retry-after'] = String(Math.ceil(outcome.retryAfterMs / 1000));
  const body = outcome.beneficiaryId ? { ...error, error: `${error.error} (beneficiary ${outcome.beneficiaryId})` } : error;
  return apiError(body, headers);
}
