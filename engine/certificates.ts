/**
 * Vaccination certificates once issued (the vaccination script issues them, engine.ts signs them):
 * reading them, revoking one issued in error, and what verifiers download (the issuer's published
 * keys with their revocation list versions, and each key's revocation list).
 */
import type { RedisClient } from './redis.js';
import type { Clock } from './clock.js';
import type { KeyRing, PublishedKey } from './certificate-keys.js';
import type { RevocationList } from './health-card.js';
import { keys } from './keys.js';
import { decodeBeneficiaryCertificates, decodeCertificateHash, type CertificateRecord } from './records.js';
import type { LuaScripts } from './scripts.js';
import { Status } from './status.js';

// a certificate's stored layout is engine/records.ts's
export type { CertificateRecord } from './records.js';

export class Certificates {
  constructor(
    private readonly redis: RedisClient,
    private readonly scripts: LuaScripts,
    private readonly clock: Clock,
    readonly ring: KeyRing,
    readonly issuer: string,
  ) {}

  async get(certificateId: string): Promise<CertificateRecord | null> {
    return decodeCertificateHash(certificateId, await this.redis.hgetall(keys.certificate(certificateId)));
  }

  /** The certificate of a beneficiary's latest recorded dose, or null before the first. */
  async latestOf(beneficiaryId: string): Promise<CertificateRecord | null> {
    const byDose = decodeBeneficiaryCertificates(beneficiaryId, await this.redis.hgetall(keys.beneficiaryCertificates(beneficiaryId)));
    const latest = Math.max(...byDose.keys());
    return byDose.size === 0 ? null : this.get(byDose.get(latest)!);
  }

  async revoke(certificateId: string, revokedBy: string, reason: string): Promise<{ ok: true; version: number } | { ok: false; status: Status }> {
    const kid = await this.redis.hget(keys.certificate(certificateId), 'kid');
    if (kid === null) return { ok: false, status: Status.CERTIFICATE_NOT_FOUND };
    const reply = await this.scripts.run(
      'revokeCertificate',
      [keys.certificate(certificateId), keys.certificateRevocations(kid), keys.outbox()],
      [certificateId, this.clock(), revokedBy, reason],
    );
    if (reply[0] !== Status.OK) return { ok: false, status: reply[0] as Status };
    return { ok: true, version: reply[1] as number };
  }

  /** The key's revocation list as SMART Health Cards publish it; `ctr` counts its updates from 1. */
  async revocationList(kid: string): Promise<RevocationList> {
    const rids = await this.redis.zrange(keys.certificateRevocations(kid), 0, -1);
    return { kid, method: 'rid', ctr: rids.length + 1, rids };
  }

  /** The JWK set: every published key, each with the version (`crlVersion`) of its revocation list. */
  async jwks(): Promise<{ keys: (PublishedKey & { crlVersion: number })[] }> {
    const pipeline = this.redis.pipeline();
    for (const key of this.ring.published) pipeline.zcard(keys.certificateRevocations(key.kid));
    const counts = (await pipeline.exec()) ?? [];
    return {
      keys: this.ring.published.map((key, i) => {
        const [err, count] = counts[i]!;
        if (err) throw err;
        return { ...key, crlVersion: (count as number) + 1 };
      }),
    };
  }

  /** Whether a key is one the issuer publishes (a revocation list is served only for those). */
  publishes(kid: string): boolean {
    return this.ring.published.some((k) => k.kid === kid);
  }
}
