/** Login tokens: signed claims, and the gateway's memory of the ones it already verified. */
import { describe, expect, it } from 'vitest';
import { signToken, TokenVerifier, verifyToken } from '../../engine/tokens.js';

const SECRET = 'tokens-test-secret';
const NOW = Date.UTC(2026, 4, 1, 4, 30);

/** `token` with its payload replaced by `claims`, its signature kept (what a forger can make). */
function withPayload(token: string, claims: object): string {
  const [header, , signature] = token.split('.');
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}

describe('tokens', () => {
  it('a token verifies until it expires, and not with another secret', () => {
    const token = signToken(SECRET, { sub: 'acc-1', sid: 'sid-1', role: 'citizen' }, 900, NOW);
    expect(verifyToken(SECRET, token, NOW)).toMatchObject({ sub: 'acc-1', sid: 'sid-1', role: 'citizen' });
    expect(verifyToken(SECRET, token, NOW + 900_000)).toBeNull();
    expect(verifyToken('another-secret', token, NOW)).toBeNull();
  });

  it('the verifier remembers a verified token; a forged payload under a remembered signature is refused', () => {
    const verifier = new TokenVerifier(SECRET);
    const token = signToken(SECRET, { sub: 'acc-1', sid: 'sid-1', role: 'citizen' }, 900, NOW);
    const claims = verifier.verify(token, NOW);
    expect(claims).toMatchObject({ sub: 'acc-1' });
    // remembered: the same claims object, still checked for expiry
    expect(verifier.verify(token, NOW + 1000)).toBe(claims);
    // the signature the verifier remembers, with someone else's account in the payload
    const forged = withPayload(token, { ...claims, sub: 'acc-2' });
    expect(forged.split('.')[2]).toBe(token.split('.')[2]);
    expect(verifier.verify(forged, NOW)).toBeNull();
    // and the genuine one is still remembered after the forgery was refused
    expect(verifier.verify(token, NOW + 2000)).toBe(claims);
    expect(verifier.verify(token, NOW + 900_000)).toBeNull();
  });

  it('the verifier holds at most its capacity, forgetting the oldest first', () => {
    const verifier = new TokenVerifier(SECRET, 2);
    const tokens = [1, 2, 3].map((n) => signToken(SECRET, { sub: `acc-${n}`, sid: `sid-${n}`, role: 'citizen' }, 900, NOW));
    const first = tokens.map((t) => verifier.verify(t, NOW));
    // the first was forgotten: verified again, a new claims object; the third is still remembered
    expect(verifier.verify(tokens[0]!, NOW)).not.toBe(first[0]);
    expect(verifier.verify(tokens[0]!, NOW)).toEqual(first[0]);
    expect(verifier.verify(tokens[2]!, NOW)).toBe(first[2]);
  });
});
