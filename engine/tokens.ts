/**
 * Login tokens: JWT with HS256, as CoWIN issued them. Node's own HMAC keeps verification at a few
 * microseconds on the search hot path; the algorithm is fixed, so a token claiming another (or
 * `none`) is refused.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type Role = 'citizen' | 'admin' | 'vaccinator';

export interface TokenClaims {
  /** account id (citizen) or operator id (admin, vaccinator) */
  sub: string;
  role: Role;
  /** login session id: revoked by deleting it in Redis (quota logout, a newer login) */
  sid: string;
  iat: number;
  exp: number;
}

/**
 * The claims CoWIN's citizen tokens carried, which 2021 clients decode (teeka decides nothing by
 * them): the account as `user_name`/`user_id`, `user_type`, the mobile masked but for its last 4
 * digits, the login request's User-Agent and the login time.
 */
export interface CowinClaims {
  user_name: string;
  user_id: string;
  user_type: 'BENEFICIARY';
  mobile_number: string;
  ua: string;
  date_modified: string;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

function sign(secret: string, data: string): Buffer {
  return createHmac('sha256', secret).update(data).digest();
}

export function signToken(
  secret: string,
  claims: Omit<TokenClaims, 'iat' | 'exp'> & Partial<CowinClaims>,
  ttlSeconds: number,
  nowMs: number,
): string {
  const iat = Math.floor(nowMs / 1000);
  const payload = Buffer.from(JSON.stringify({ ...claims, iat, exp: iat + ttlSeconds })).toString('base64url');
  const data = `${HEADER}.${payload}`;
  return `${data}.${sign(secret, data).toString('base64url')}`;
}

/** The claims of a valid, unexpired token, or null. */
export function verifyToken(secret: string, token: string, nowMs: number): TokenClaims | null {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 0 || second < 0 || token.indexOf('.', second + 1) >= 0) return null;
  if (token.slice(0, first) !== HEADER) return null;
  const expected = sign(secret, token.slice(0, second));
  const given = Buffer.from(token.slice(second + 1), 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let claims: TokenClaims;
  try {
    claims = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8')) as TokenClaims;
  } catch {
    return null;
  }
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= nowMs) return null;
  if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string') return null;
  if (claims.role !== 'citizen' && claims.role !== 'admin' && claims.role !== 'vaccinator') return null;
  return claims;
}

/**
 * Verifies tokens, remembering the ones already verified: a citizen polling search sends the same
 * token again and again, and a map lookup is cheaper than an HMAC and a JSON parse. A remembered
 * token is still checked for expiry on every use; the cache holds at most `capacity` tokens.
 */
export class TokenVerifier {
  private readonly verified = new Map<string, TokenClaims>();

  constructor(
    private readonly secret: string,
    private readonly capacity = 100_000,
  ) {}

  verify(token: string, nowMs: number): TokenClaims | null {
    const known = this.verified.get(token);
    if (known) return known.exp * 1000 > nowMs ? known : null;
    const claims = verifyToken(this.secret, token, nowMs);
    if (claims) {
      if (this.verified.size >= this.capacity) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, claims);
    }
    return claims;
  }
}
