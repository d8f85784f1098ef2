/**
 * Partners in PostgreSQL (migrations/1795910000000_partners.sql): the ledger the registry records
 * every change in (engine/partners.ts says why the admin's path writes it, not the outbox), the
 * rebuild of the registry in Redis from it, and reconcile's comparison of the two.
 */
import type pg from 'pg';
import { keys } from '../engine/keys.js';
import {
  encodePartnerHash,
  encodePartnerKeyHash,
  PARTNER_SCOPES,
  PARTNER_STREAM_CAP,
  readStoredPartners,
  type PartnerLedger,
  type PartnerRecord,
  type StoredPartner,
  type StoredPartnerKey,
} from '../engine/partners.js';
import type { RedisClient } from '../engine/redis.js';

/** A partner row moves to a higher version only: an older write (a slower concurrent admin) changes nothing. */
const UPSERT_PARTNER = `
  INSERT INTO partners (partner_id, name, contact, scopes, per_minute, per_day, status, created_at_ms, updated_at_ms, updated_by, version)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
  ON CONFLICT (partner_id) DO UPDATE SET
    name = excluded.name, contact = excluded.contact, scopes = excluded.scopes, per_minute = excluded.per_minute,
    per_day = excluded.per_day, status = excluded.status, updated_at_ms = excluded.updated_at_ms,
    updated_by = excluded.updated_by, version = excluded.version
  WHERE partners.version < excluded.version`;

/** A key row is written once, and then only revoked: a revoked key never comes back. */
const UPSERT_KEY = `
  INSERT INTO partner_keys (partner_id, key_id, key_hash, status, issued_at_ms, issued_by, revoked_at_ms, revoked_by)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
  ON CONFLICT (partner_id, key_id) DO UPDATE SET
    status = excluded.status, revoked_at_ms = excluded.revoked_at_ms, revoked_by = excluded.revoked_by
  WHERE partner_keys.status = 'active' AND excluded.status = 'revoked'`;

export class PostgresPartnerLedger implements PartnerLedger {
  constructor(private readonly pool: pg.Pool) {}

  async recordPartner(p: PartnerRecord): Promise<void> {
    await this.pool.query(UPSERT_PARTNER, [p.partnerId, p.name, p.contact, p.scopes, p.limits.perMinute, p.limits.perDay, p.status, p.createdAt, p.updatedAt, p.updatedBy, p.version]);
  }

  async recordKey(partnerId: string, k: StoredPartnerKey): Promise<void> {
    await this.pool.query(UPSERT_KEY, [partnerId, k.keyId, k.hash, k.status, k.issuedAt, k.issuedBy, k.revokedAt ?? null, k.revokedAt === undefined ? null : (k.revokedBy ?? '')]);
  }
}

interface PartnerRow {
  partner_id: string;
  name: string;
  contact: string;
  scopes: string[];
  per_minute: number;
  per_day: number;
  status: 'active' | 'suspended';
  created_at_ms: string;
  updated_at_ms: string;
  updated_by: string;
  version: number;
}

interface KeyRow {
  partner_id: string;
  key_id: string;
  key_hash: string;
  status: 'active' | 'revoked';
  issued_at_ms: string;
  issued_by: string;
  revoked_at_ms: string | null;
  revoked_by: string | null;
}

/** Every partner with its keys, as PostgreSQL holds them, by partner id. */
export async function readPartnersFromPostgres(pool: pg.Pool): Promise<Map<string, StoredPartner>> {
  const partners = new Map<string, StoredPartner>();
  for (const row of (await pool.query<PartnerRow>('SELECT * FROM partners ORDER BY created_at_ms, partner_id')).rows) {
    partners.set(row.partner_id, {
      partnerId: row.partner_id,
      name: row.name,
      contact: row.contact,
      scopes: PARTNER_SCOPES.filter((scope) => row.scopes.includes(scope)),
      limits: { perMinute: row.per_minute, perDay: row.per_day },
      status: row.status,
      createdAt: Number(row.created_at_ms),
      updatedAt: Number(row.updated_at_ms),
      updatedBy: row.updated_by,
      version: row.version,
      keys: [],
    });
  }
  for (const row of (await pool.query<KeyRow>('SELECT * FROM partner_keys ORDER BY issued_at_ms, key_id')).rows) {
    const key: StoredPartnerKey = { keyId: row.key_id, hash: row.key_hash, status: row.status, issuedAt: Number(row.issued_at_ms), issuedBy: row.issued_by };
    if (row.revoked_at_ms !== null) Object.assign(key, { revokedAt: Number(row.revoked_at_ms), revokedBy: row.revoked_by ?? '' });
    partners.get(row.partner_id)?.keys.push(key);
  }
  return partners;
}

/**
 * Lay the registry out in Redis from PostgreSQL (`npm run rebuild`): every partner's record, its
 * keys and their ids, the index. Each record is replaced whole, so a key PostgreSQL holds revoked is
 * revoked in Redis whatever Redis held. Each partner also gets an entry in the partner stream, so a
 * gateway thread running beside the rebuild forgets the keys it had verified for it. A partner only
 * Redis knows (its record failed and was never repeated) is left as it is: reconcile names it.
 * Returns the partners and keys restored.
 */
export async function rebuildPartners(redis: RedisClient, pool: pg.Pool): Promise<{ partners: number; keys: number }> {
  const partners = await readPartnersFromPostgres(pool);
  let keyCount = 0;
  for (const partner of partners.values()) {
    // all in the {partners} slot: one MULTI per partner
    const multi = redis.multi();
    multi.del(keys.partner(partner.partnerId)).hset(keys.partner(partner.partnerId), ...encodePartnerHash(partner));
    multi.zadd(keys.partnerIndex(), partner.createdAt, partner.partnerId);
    for (const key of partner.keys) {
      multi.del(keys.partnerKey(partner.partnerId, key.keyId)).hset(keys.partnerKey(partner.partnerId, key.keyId), ...encodePartnerKeyHash(key));
      multi.sadd(keys.partnerKeys(partner.partnerId), key.keyId);
    }
    multi.xadd(keys.partnerRevocations(), 'MAXLEN', '~', PARTNER_STREAM_CAP, '*', 'p', partner.partnerId, 'at', partner.updatedAt);
    for (const [err] of (await multi.exec()) ?? []) if (err) throw err;
    keyCount += partner.keys.length;
  }
  return { partners: partners.size, keys: keyCount };
}

/** Reconcile: every partner and key the same in Redis and PostgreSQL (a key's hash compared, never printed). Returns the partners compared. */
export async function reconcilePartners(redis: RedisClient, pool: pg.Pool, problem: (scope: string, detail: string) => void): Promise<number> {
  const inRedis = new Map((await readStoredPartners(redis)).map((p) => [p.partnerId, p]));
  const inPostgres = await readPartnersFromPostgres(pool);
  for (const id of new Set([...inRedis.keys(), ...inPostgres.keys()])) {
    const r = inRedis.get(id);
    const p = inPostgres.get(id);
    const scope = `partner ${id}`;
    if (!r || !p) {
      problem(scope, r ? 'in Redis, missing in PostgreSQL' : 'in PostgreSQL, missing in Redis');
      continue;
    }
    const fields: [string, string | number, string | number][] = [
      ['name', r.name, p.name],
      ['contact', r.contact, p.contact],
      ['scopes', r.scopes.join(','), p.scopes.join(',')],
      ['per minute', r.limits.perMinute, p.limits.perMinute],
      ['per day', r.limits.perDay, p.limits.perDay],
      ['status', r.status, p.status],
      ['version', r.version, p.version],
    ];
    for (const [name, a, b] of fields) if (a !== b) problem(scope, `${name}: Redis ${a}, PostgreSQL ${b}`);
    const pgKeys = new Map(p.keys.map((k) => [k.keyId, k]));
    const redisKeys = new Map(r.keys.map((k) => [k.keyId, k]));
    for (const keyId of new Set([...redisKeys.keys(), ...pgKeys.keys()])) {
      const a = redisKeys.get(keyId);
      const b = pgKeys.get(keyId);
      const keyScope = `partner ${id} key ${keyId}`;
      if (!a || !b) problem(keyScope, a ? 'in Redis, missing in PostgreSQL' : 'in PostgreSQL, missing in Redis');
      else if (a.status !== b.status) problem(keyScope, `status: Redis ${a.status}, PostgreSQL ${b.status}`);
      else if (a.hash !== b.hash) problem(keyScope, 'the key hashes differ between Redis and PostgreSQL');
    }
  }
  return inRedis.size;
}
