/**
 * The issuer's key ring for vaccination certificates (SMART Health Cards: ES256 on P-256).
 *
 * A key ring file (TEEKA_CERT_KEYS) lists the issuer's keys and the revocation secret:
 *
 *   { "revocation_secret": "<32 random bytes, base64url>",
 *     "keys": [ { "status": "signing",   "jwk": { "kty": "EC", "crv": "P-256", "x": …, "y": …, "d": … } },
 *               { "status": "published", "jwk": { "kty": "EC", "crv": "P-256", "x": …, "y": … } } ] }
 *
 * - `signing`: exactly one; new certificates are signed with it; published.
 * - `published`: in /.well-known/jwks.json, so certificates signed with it keep verifying; its private
 *   part is dropped once it no longer signs (SHC: retired private keys SHALL be destroyed), or kept
 *   while it waits to sign (a key is published before it signs, so no verifier meets a certificate
 *   whose key it cannot fetch yet).
 * - retired: removed from the file. Certificates signed with it stop verifying.
 *
 * `npm run certificate-keys` writes the file (scripts/certificate-keys.ts). Demo deployments without
 * a file get a ring derived from TEEKA_SECRET, so every process and thread agrees on it.
 */
import { createECDH, createHash, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

export interface PrivateJwk extends PublicJwk {
  d: string;
}

export interface KeyRingFile {
  revocation_secret: string;
  keys: { status: 'signing' | 'published'; jwk: PublicJwk | PrivateJwk }[];
}

/** A key as the JWK set publishes it (SHC: kty EC, use sig, alg ES256, kid the RFC 7638 thumbprint). */
export interface PublishedKey extends PublicJwk {
  kid: string;
  use: 'sig';
  alg: 'ES256';
}

export class KeyRingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyRingError';
  }
}

/** RFC 7638 thumbprint of an EC public key: SHA-256 over its required members in lexicographic order. */
export function thumbprint(jwk: PublicJwk): string {
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url');
}

export function publicPart(jwk: PublicJwk): PublicJwk {
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

export function newSigningJwk(): PrivateJwk {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ format: 'jwk' }) as PrivateJwk;
}

export class KeyRing {
  readonly signingKid: string;
  readonly signingKey: KeyObject;
  readonly published: PublishedKey[];
  readonly revocationSecret: Buffer;

  constructor(file: KeyRingFile) {
    if (!file || !Array.isArray(file.keys)) throw new KeyRingError('expected {"revocation_secret": …, "keys": [...]}');
    const secret = Buffer.from(String(file.revocation_secret ?? ''), 'base64url');
    if (secret.length < 32) throw new KeyRingError('revocation_secret: expected 32 random bytes or more, base64url');
    this.revocationSecret = secret;
    const signing = file.keys.filter((k) => k.status === 'signing');
    if (signing.length !== 1) throw new KeyRingError(`exactly one key must have status "signing" (found ${signing.length})`);
    const seen = new Set<string>();
    this.published = file.keys.map((entry, i) => {
      const { jwk, status } = entry;
      if (status !== 'signing' && status !== 'published') throw new KeyRingError(`keys[${i}].status: expected "signing" or "published"`);
      if (jwk?.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
        throw new KeyRingError(`keys[${i}].jwk: expected an EC P-256 key (ES256)`);
      }
      createPublicKey({ key: { ...publicPart(jwk) }, format: 'jwk' }); // a point not on the curve throws here
      const kid = thumbprint(jwk);
      if (seen.has(kid)) throw new KeyRingError(`keys[${i}]: listed twice (kid ${kid})`);
      seen.add(kid);
      return { ...publicPart(jwk), kid, use: 'sig', alg: 'ES256' };
    });
    const signingJwk = signing[0]!.jwk as PrivateJwk;
    if (typeof signingJwk.d !== 'string') throw new KeyRingError('the signing key has no private part ("d")');
    this.signingKey = createPrivateKey({ key: { ...signingJwk }, format: 'jwk' });
    this.signingKid = thumbprint(signingJwk);
  }

  static fromFile(path: string): KeyRing {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new KeyRingError(`${path}: ${(err as Error).message}`);
    }
    try {
      return new KeyRing(parsed as KeyRingFile);
    } catch (err) {
      throw new KeyRingError(`${path}: ${(err as Error).message}`);
    }
  }

  /** The demo ring: one key and a revocation secret derived from the deployment secret (demo only). */
  static demo(secret: string): KeyRing {
    return new KeyRing(demoKeyRingFile(secret));
  }

  /**
   * The revocation id of a certificate (SHC's recommendation): the first 64 bits of
   * HMAC-SHA-256 keyed with the secret and the signing key's kid, over the certificate id,
   * base64url (11 characters). Meaningless to anyone without the secret.
   */
  revocationId(kid: string, certificateId: string): string {
    return createHmac('sha256', Buffer.concat([this.revocationSecret, Buffer.from(kid)]))
      .update(certificateId)
      .digest()
      .subarray(0, 8)
      .toString('base64url');
  }
}

/** A P-256 private key from deterministic bytes: the scalar must be in [1, n-1], else hash again. */
function derivedJwk(seed: Buffer): PrivateJwk {
  for (let counter = 0; ; counter++) {
    const d = createHash('sha256').update(seed).update(String(counter)).digest();
    const ecdh = createECDH('prime256v1');
    try {
      ecdh.setPrivateKey(d);
    } catch {
      continue; // at or above the group order: vanishingly rare
    }
    const point = ecdh.getPublicKey(); // 0x04 || X || Y
    return { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url'), d: d.toString('base64url') };
  }
}

export function demoKeyRingFile(secret: string): KeyRingFile {
  const seed = (purpose: string) => createHmac('sha256', secret).update(`teeka demo certificates: ${purpose}`).digest();
  return { revocation_secret: seed('revocation secret').toString('base64url'), keys: [{ status: 'signing', jwk: derivedJwk(seed('signing key 1')) }] };
}

/** A new key ring file: one signing key and a fresh revocation secret. */
export function newKeyRingFile(): KeyRingFile {
  return { revocation_secret: randomBytes(32).toString('base64url'), keys: [{ status: 'signing', jwk: newSigningJwk() }] };
}
