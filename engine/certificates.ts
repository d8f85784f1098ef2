/**
 * Vaccination certificates once issued (the vaccination script issues them, engine.ts signs them):
 * reading them, revoking one issued in error, and what verifiers download (the issuer's published
 * keys with their revocation list versions, and each key's revocation list).
 *
 * Two layouts (engine/keys.ts): the single-slot one keeps every certificate and each key's
 * revocation list in `{bk}`; the partitioned one (given `partitions`) keeps a certificate in its
 * account's partition and a revocation in the certificate's partition, so a revocation is one
 * script in one slot, and a key's revocation list is the union of every partition's.
 */
import type { RedisClient } from './redis.js';
import type { Clock } from './clock.js';
import type { KeyRing, PublishedKey } from './certificate-keys.js';
import type { RevocationList } from './health-card.js';
import { keys } from './keys.js';
import type { Partitions } from './partitions.js';
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
    /** the partitioned layout's partitions; absent, the single-slot layout */
    private readonly partitions?: Partitions,
  ) {}

  private certificateKey(certificateId: string): string {
    return this.partitions ? keys.partitionCertificate(this.partitions, certificateId) : keys.certificate(certificateId);
  }

  /** Each place a key's revocations are kept: `{bk}`'s list, or one per partition. */
  private revocationKeys(kid: string): string[] {
    const partitions = this.partitions;
    if (!partitions) return [keys.certificateRevocations(kid)];
    return partitions.all().map((partition) => keys.partitionCertificateRevocations(partitions, partition, kid));
  }

  async get(certificateId: string): Promise<CertificateRecord | null> {
    return decodeCertificateHash(certificateId, await this.redis.hgetall(this.certificateKey(certificateId)));
  }

  /** The certificate of a beneficiary's latest recorded dose, or null before the first. */
  async latestOf(accountId: string, beneficiaryId: string): Promise<CertificateRecord | null> {
    const indexKey = this.partitions ? keys.forAccount(this.partitions, accountId).beneficiaryCertificates(beneficiaryId) : keys.beneficiaryCertificates(beneficiaryId);
    const byDose = decodeBeneficiaryCertificates(beneficiaryId, await this.redis.hgetall(indexKey));
    const latest = Math.max(...byDose.keys());
    return byDose.size === 0 ? null : this.get(byDose.get(latest)!);
  }

  async revoke(certificateId: string, revokedBy: string, reason: string): Promise<{ ok: true; version: number } | { ok: false; status: Status }> {
    const certificateKey = this.certificateKey(certificateId);
    const kid = await this.redis.hget(certificateKey, 'kid');
    if (kid === null) return { ok: false, status: Status.CERTIFICATE_NOT_FOUND };
    const partition = this.partitions?.of(certificateId);
    const [revocationsKey, outboxKey] =
      this.partitions && partition !== undefined
        ? [keys.partitionCertificateRevocations(this.partitions, partition, kid), keys.partitionOutbox(this.partitions, partition)]
        : [keys.certificateRevocations(kid), keys.outbox()];
    const reply = await this.scripts.run('revokeCertificate', [certificateKey, revocationsKey, outboxKey], [certificateId, this.clock(), revokedBy, reason]);
    if (reply[0] !== Status.OK) return { ok: false, status: reply[0] as Status };
    return { ok: true, version: reply[1] as number };
  }

  /**
   * The key's revocation list as SMART Health Cards publish it; `ctr` counts its updates from 1.
   * The rids in the order they were revoked (each place's list is; the partitions' are merged).
   */
  async revocationList(kid: string): Promise<RevocationList> {
    const lists = await Promise.all(this.revocationKeys(kid).map((key) => this.redis.zrange(key, 0, -1, 'WITHSCORES')));
    const revoked: { rid: string; at: number }[] = [];
    for (const list of lists) for (let i = 0; i < list.length; i += 2) revoked.push({ rid: list[i]!, at: Number(list[i + 1]) });
    revoked.sort((a, b) => a.at - b.at || a.rid.localeCompare(b.rid));
    return { kid, method: 'rid', ctr: revoked.length + 1, rids: revoked.map((r) => r.rid) };
  }

  /** The JWK set: every published key, each with the version (`crlVersion`) of its revocation list. */
  async jwks(): Promise<{ keys: (PublishedKey & { crlVersion: number })[] }> {
    // one ZCARD per place (on a cluster, the partitions' lists live in different slots)
    const counts = await Promise.all(
      this.ring.published.map(async (key) => (await Promise.all(this.revocationKeys(key.kid).map((k) => this.redis.zcard(k)))).reduce((a, b) => a + b, 0)),
    );
    return { keys: this.ring.published.map((key, i) => ({ ...key, crlVersion: counts[i]! + 1 })) };
  }

  /** Whether a key is one the issuer publishes (a revocation list is served only for those). */
  publishes(kid: string): boolean {
    return this.ring.published.some((k) => k.kid === kid);
  }
}
