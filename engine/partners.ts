/**
 * Partners: the third parties (apps, bots, portals) an admin lets use the API with an API key, as
 * CoWIN's did from 2021. An admin registers a partner with its scopes and limits and issues it keys;
 * each key is shown once and only its sha256 is kept (a key is 192 random bits, so a fast hash is
 * as good as a slow one here, and the gateway can check one on every call). A partner holds several
 * live keys, so it rotates without downtime: issue, switch, revoke.
 *
 * - `availability`: the public endpoints, counted against the partner's own limits instead of the
 *   per-address one.
 * - `booking`: the protected endpoints, always with the citizen's own token (a citizen who logged in
 *   with their OTP through the partner's app); a key never widens what a token allows.
 *
 * Limits: calls per minute and per day, both counted by one atomic script per call in the partner's
 * own slot (`{partner:<id>}`), each a window that opens with its first call.
 *
 * The registry lives in `{partners}` (engine/keys.ts): partner and key records, and the stream of
 * revocations and changes that every gateway thread follows (gateway/partner-gate.ts).
 *
 * Durability: every change is also recorded in PostgreSQL (`partners`, `partner_keys`; the key's
 * sha256 only), which `npm run rebuild` lays the registry out from again. The booking changes reach
 * PostgreSQL through the outbox, written by the very script that makes them; the registry's scripts
 * run in the `{partners}` slot, which in a cluster cannot reach the outbox's `{bk}`, so here the
 * admin's path records each change itself (a PartnerLedger), in this order:
 * 1. Redis first: its script decides (the version, a key id's clash, a key already revoked) and a
 *    revocation or suspension is in force on every gateway thread at once, PostgreSQL up or not;
 * 2. then the record as Redis now holds it goes to PostgreSQL, guarded (a partner row only moves to a
 *    higher version, a key only from active to revoked), so concurrent admins and a repeat converge.
 * If PostgreSQL refuses step 2, the operation fails to the admin (the error propagates: 503 for an
 * outage, as every backend failure): no change is acknowledged without its record. Repeating it
 * records it (register, suspend and revoke are repeatable as they stand); a key whose record failed
 * is revoked in Redis at once instead, since its text is never shown. Until repeated, the difference
 * is not silent: `npm run reconcile` names every partner and key whose Redis record and row differ.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from './clock.js';
import { keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { Fields, streamFields } from './records.js';
import type { LuaScripts } from './scripts.js';
import { Status } from './status.js';

export const PARTNER_SCOPES = ['availability', 'booking'] as const;
export type PartnerScope = (typeof PARTNER_SCOPES)[number];

/** Partner ids: lower-case letters, digits and '-', 2 to 40 characters (they appear in key names and API keys). */
export const PARTNER_ID = /^[a-z0-9][a-z0-9-]{1,39}$/;
/** Key ids: 8 lower-case hex digits, random. */
const KEY_ID = /^[0-9a-f]{8}$/;
/** `tk.<partner id>.<key id>.<secret>`: the ids tell the gateway where to look; the secret, 32 base64url characters, proves it. */
const API_KEY = /^tk\.([a-z0-9][a-z0-9-]{1,39})\.([0-9a-f]{8})\.([A-Za-z0-9_-]{32})$/;

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
/** The most calls a limit may allow (per minute or per day): a guard against a typo, far above any partner's need. */
const MAX_LIMIT = 100_000_000;
/** Entries the partner stream keeps (MAXLEN ~): revocations and changes are rare. */
export const PARTNER_STREAM_CAP = 10_000;

export interface PartnerLimits {
  perMinute: number;
  perDay: number;
}

/** What an admin gives to register or change a partner. */
export interface PartnerInput {
  partnerId: string;
  name: string;
  contact: string;
  scopes: PartnerScope[];
  limits: PartnerLimits;
  /** default active */
  status?: 'active' | 'suspended';
}

export interface PartnerKeyRecord {
  keyId: string;
  status: 'active' | 'revoked';
  issuedAt: number;
  issuedBy: string;
  revokedAt?: number;
  revokedBy?: string;
}

export interface PartnerRecord {
  partnerId: string;
  name: string;
  contact: string;
  scopes: PartnerScope[];
  limits: PartnerLimits;
  status: 'active' | 'suspended';
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
  version: number;
}

/** Who a verified API key speaks for: what a gateway keeps in memory. */
export interface VerifiedPartner {
  partnerId: string;
  keyId: string;
  scopes: ReadonlySet<PartnerScope>;
  limits: PartnerLimits;
}

/** One call counted (or refused) against a partner's limits. */
export interface PartnerQuotaAnswer {
  allowed: boolean;
  minute: { used: number; limit: number; resetMs: number };
  day: { used: number; limit: number; resetMs: number };
}

export type PartnerOutcome<T> = ({ ok: true } & T) | { ok: false; status: Status };

/** A partner or key an admin described in a way that cannot be stored; the message says which field and why. */
export class PartnerInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PartnerInputError';
  }
}

/** The ids inside an API key's text, or null when it is not shaped like one. */
export function parseApiKey(text: string): { partnerId: string; keyId: string } | null {
  const match = API_KEY.exec(text);
  return match ? { partnerId: match[1]!, keyId: match[2]! } : null;
}

/** sha256 hex of an API key's whole text: what the registry keeps. */
export function apiKeyHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Whether two sha256 hex digests are equal, in constant time. */
export function sameKeyHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

function checkedInput(input: PartnerInput): PartnerInput {
  if (!PARTNER_ID.test(input.partnerId)) throw new PartnerInputError(`partner_id: expected 2 to 40 of a-z, 0-9 and '-', starting with a letter or digit (got "${input.partnerId}")`);
  const name = input.name.trim();
  if (name.length < 1 || name.length > 100) throw new PartnerInputError('name: expected 1 to 100 characters');
  const contact = input.contact.trim();
  if (contact.length < 3 || contact.length > 200) throw new PartnerInputError('contact: expected 3 to 200 characters (an e-mail address or phone number)');
  if (input.scopes.length === 0) throw new PartnerInputError(`scopes: expected one or more of ${PARTNER_SCOPES.join(', ')}`);
  const unknown = input.scopes.find((scope) => !(PARTNER_SCOPES as readonly string[]).includes(scope));
  if (unknown !== undefined) throw new PartnerInputError(`scopes: "${unknown}" is not one of ${PARTNER_SCOPES.join(', ')}`);
  for (const [field, value] of [['per_minute', input.limits.perMinute], ['per_day', input.limits.perDay]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_LIMIT) throw new PartnerInputError(`${field}: expected a whole number of calls from 1 to ${MAX_LIMIT}`);
  }
  if (input.limits.perDay < input.limits.perMinute) throw new PartnerInputError('per_day: must be at least per_minute');
  const status = input.status ?? 'active';
  if (status !== 'active' && status !== 'suspended') throw new PartnerInputError('status: expected active or suspended');
  const scopes = PARTNER_SCOPES.filter((scope) => input.scopes.includes(scope));
  return { ...input, name, contact, scopes, status };
}

// ---------------------------------------------------------------- records (what the scripts above write)

/** The partner hash as registerPartner-3.lua writes it. */
export function decodePartnerHash(partnerId: string, hash: Record<string, string>): PartnerRecord | null {
  if (Object.keys(hash).length === 0) return null;
  const fields = new Fields(`partner hash ${partnerId}`, hash);
  const scopes = fields.text('scopes').split(',');
  return {
    partnerId,
    name: fields.text('name'),
    contact: fields.text('contact'),
    scopes: PARTNER_SCOPES.filter((scope) => scopes.includes(scope)),
    limits: { perMinute: fields.int('per_minute'), perDay: fields.int('per_day') },
    status: fields.oneOf('status', ['active', 'suspended'] as const),
    createdAt: fields.int('created_at'),
    updatedAt: fields.int('updated_at'),
    updatedBy: fields.text('updated_by'),
    version: fields.int('version'),
  };
}

/** A key hash as issuePartnerKey-3.lua and revokePartnerKey-2.lua write it (with its sha256, which never leaves the engine). */
export function decodePartnerKeyHash(keyName: string, keyId: string, hash: Record<string, string>): StoredPartnerKey | null {
  if (Object.keys(hash).length === 0) return null;
  const fields = new Fields(`partner key ${keyName}`, hash);
  const record: StoredPartnerKey = {
    keyId,
    hash: fields.text('hash'),
    status: fields.oneOf('status', ['active', 'revoked'] as const),
    issuedAt: fields.int('issued_at'),
    issuedBy: fields.text('issued_by'),
  };
  const revokedAt = fields.optionalInt('revoked_at');
  if (revokedAt !== undefined) {
    record.revokedAt = revokedAt;
    record.revokedBy = fields.text('revoked_by');
  }
  return record;
}

/** An entry of the partner stream: a key revoked (`keyId`), or the partner changed (no `keyId`). */
export interface PartnerStreamEntry {
  partnerId: string;
  keyId?: string;
}

export function decodePartnerStreamEntry(id: string, fields: string[]): PartnerStreamEntry {
  const reader = new Fields(`partner stream entry ${id}`, streamFields(fields));
  const keyId = reader.optionalText('k');
  return keyId === undefined ? { partnerId: reader.text('p') } : { partnerId: reader.text('p'), keyId };
}

/** The partner hash's fields, as registerPartner-3.lua writes them (a rebuild lays them out again). */
export function encodePartnerHash(partner: PartnerRecord): (string | number)[] {
  return [
    'name', partner.name, 'contact', partner.contact, 'scopes', partner.scopes.join(','), 'per_minute', partner.limits.perMinute,
    'per_day', partner.limits.perDay, 'status', partner.status, 'created_at', partner.createdAt, 'updated_at', partner.updatedAt,
    'updated_by', partner.updatedBy, 'version', partner.version,
  ]; // prettier-ignore
}

/** A key hash's fields, as issuePartnerKey-3.lua and revokePartnerKey-2.lua write them. */
export function encodePartnerKeyHash(key: StoredPartnerKey): (string | number)[] {
  const fields: (string | number)[] = ['hash', key.hash, 'status', key.status, 'issued_at', key.issuedAt, 'issued_by', key.issuedBy];
  if (key.revokedAt !== undefined) fields.push('revoked_at', key.revokedAt, 'revoked_by', key.revokedBy ?? '');
  return fields;
}

/** A key as the registry stores it: with its sha256, which never leaves the engine and PostgreSQL. */
export type StoredPartnerKey = PartnerKeyRecord & { hash: string };

/** A partner with every key it was issued, as stored. */
export type StoredPartner = PartnerRecord & { keys: StoredPartnerKey[] };

/**
 * Where the registry's changes are recorded durably (worker/partners.ts: PostgreSQL). Each call
 * resolves once the record is stored, or throws; a record older than the stored one (a lower
 * version; a key revoked already) leaves the stored one as it is.
 */
export interface PartnerLedger {
  recordPartner(partner: PartnerRecord): Promise<void>;
  recordKey(partnerId: string, key: StoredPartnerKey): Promise<void>;
}

/** A partner and its keys with their hashes, as Redis holds them (reconcile compares them with PostgreSQL's). */
export async function readStoredPartner(redis: RedisClient, partnerId: string): Promise<StoredPartner | null> {
  if (!PARTNER_ID.test(partnerId)) return null;
  const partner = decodePartnerHash(partnerId, await redis.hgetall(keys.partner(partnerId)));
  if (!partner) return null;
  const keyIds = (await redis.smembers(keys.partnerKeys(partnerId))).sort();
  const records: StoredPartnerKey[] = [];
  for (const keyId of keyIds) {
    const name = keys.partnerKey(partnerId, keyId);
    const stored = decodePartnerKeyHash(name, keyId, await redis.hgetall(name));
    if (stored) records.push(stored);
  }
  return { ...partner, keys: records.sort((a, b) => a.issuedAt - b.issuedAt || (a.keyId < b.keyId ? -1 : 1)) };
}

/** Every registered partner (the index) with its keys and their hashes, as Redis holds them. */
export async function readStoredPartners(redis: RedisClient): Promise<StoredPartner[]> {
  const ids = await redis.zrange(keys.partnerIndex(), 0, -1);
  const partners = await Promise.all(ids.map((id) => readStoredPartner(redis, id)));
  return partners.filter((p): p is StoredPartner => p !== null);
}

// ---------------------------------------------------------------- the registry

export class Partners {
  constructor(
    private readonly redis: RedisClient,
    private readonly scripts: LuaScripts,
    private readonly clock: Clock,
    /** where every change is recorded after Redis (see the header: a refusal fails the operation) */
    private readonly ledger: PartnerLedger,
  ) {}

  /** The partner's record and its key's as Redis holds them now, to the ledger. */
  private async recordPartner(partnerId: string): Promise<void> {
    const partner = decodePartnerHash(partnerId, await this.redis.hgetall(keys.partner(partnerId)));
    if (partner) await this.ledger.recordPartner(partner);
  }

  private async recordKey(partnerId: string, keyId: string): Promise<void> {
    const name = keys.partnerKey(partnerId, keyId);
    const key = decodePartnerKeyHash(name, keyId, await this.redis.hgetall(name));
    if (key) await this.ledger.recordKey(partnerId, key);
  }

  /** Register a partner, or change one (every field as given). Throws PartnerInputError for bad input. */
  async register(input: PartnerInput, by: string): Promise<PartnerOutcome<{ version: number; created: boolean }>> {
    const partner = checkedInput(input);
    const reply = await this.scripts.run(
      'registerPartner',
      [keys.partner(partner.partnerId), keys.partnerIndex(), keys.partnerRevocations()],
      [
        partner.partnerId,
        partner.name,
        partner.contact,
        partner.scopes.join(','),
        partner.limits.perMinute,
        partner.limits.perDay,
        partner.status!,
        this.clock(),
        by,
        PARTNER_STREAM_CAP,
      ],
    );
    if (reply[0] !== Status.OK) return { ok: false, status: reply[0] as Status };
    await this.recordPartner(partner.partnerId);
    return { ok: true, version: reply[1] as number, created: reply[2] === 1 };
  }

  /** Issue a new API key to a partner: the key's text is in this answer only. */
  async issueKey(partnerId: string, by: string): Promise<PartnerOutcome<{ keyId: string; apiKey: string }>> {
    if (!PARTNER_ID.test(partnerId)) return { ok: false, status: Status.PARTNER_NOT_FOUND };
    // a clash of random key ids is refused by the script: draw again (one in four billion per key)
    for (;;) {
      const keyId = randomBytes(4).toString('hex');
      const apiKey = `tk.${partnerId}.${keyId}.${randomBytes(24).toString('base64url')}`;
      const reply = await this.scripts.run(
        'issuePartnerKey',
        [keys.partner(partnerId), keys.partnerKey(partnerId, keyId), keys.partnerKeys(partnerId)],
        [keyId, apiKeyHash(apiKey), this.clock(), by],
      );
      if (reply[0] === Status.OK) {
        try {
          // the partner's row first: a key row names it (the partner may predate PostgreSQL's record)
          await this.recordPartner(partnerId);
          await this.recordKey(partnerId, keyId);
        } catch (error) {
          // never shown, so never to be used: revoked at once, and the admin issues again
          await this.revokeKey(partnerId, keyId, 'teeka: not recorded').catch(() => {});
          throw error;
        }
        return { ok: true, keyId, apiKey };
      }
      if (reply[0] !== Status.PARTNER_KEY_REFUSED) return { ok: false, status: reply[0] as Status };
    }
  }

  /** Revoke one of a partner's keys; every gateway thread refuses it from the stream's delay on. */
  async revokeKey(partnerId: string, keyId: string, by: string): Promise<PartnerOutcome<{ revokedNow: boolean }>> {
    if (!PARTNER_ID.test(partnerId) || !KEY_ID.test(keyId)) return { ok: false, status: Status.PARTNER_KEY_NOT_FOUND };
    const reply = await this.scripts.run(
      'revokePartnerKey',
      [keys.partnerKey(partnerId, keyId), keys.partnerRevocations()],
      [partnerId, keyId, this.clock(), by, PARTNER_STREAM_CAP],
    );
    if (reply[0] !== Status.OK) return { ok: false, status: reply[0] as Status };
    // recorded even when it was revoked already: the repeat of a revocation whose record failed
    await this.recordKey(partnerId, keyId);
    return { ok: true, revokedNow: reply[1] === 1 };
  }

  /**
   * Who an API key speaks for, read from Redis: null when the text is not a key, no such key was
   * issued, it was revoked, or its partner is suspended.
   */
  async verifyKey(apiKey: string): Promise<VerifiedPartner | null> {
    const ids = parseApiKey(apiKey);
    if (!ids) return null;
    // one round trip: both records are in the {partners} slot
    const replies = await this.redis
      .pipeline()
      .hgetall(keys.partner(ids.partnerId))
      .hgetall(keys.partnerKey(ids.partnerId, ids.keyId))
      .exec();
    const [partnerReply, keyReply] = replies ?? [];
    if (!partnerReply || !keyReply) return null;
    if (partnerReply[0]) throw partnerReply[0];
    if (keyReply[0]) throw keyReply[0];
    const partner = decodePartnerHash(ids.partnerId, partnerReply[1] as Record<string, string>);
    const key = decodePartnerKeyHash(keys.partnerKey(ids.partnerId, ids.keyId), ids.keyId, keyReply[1] as Record<string, string>);
    if (!partner || !key || partner.status !== 'active' || key.status !== 'active' || !sameKeyHash(key.hash, apiKeyHash(apiKey))) return null;
    return { partnerId: partner.partnerId, keyId: key.keyId, scopes: new Set(partner.scopes), limits: partner.limits };
  }

  /** Count one call of a verified partner against its limits per minute and per day (one script). */
  async consumeQuota(partnerId: string, limits: PartnerLimits): Promise<PartnerQuotaAnswer> {
    const reply = (await this.scripts.run(
      'consumePartnerQuota',
      [keys.partnerMinute(partnerId), keys.partnerDay(partnerId)],
      [this.clock(), MINUTE_MS, limits.perMinute, DAY_MS, limits.perDay],
    )) as number[];
    return {
      allowed: reply[0] === Status.OK,
      minute: { used: reply[1]!, limit: limits.perMinute, resetMs: reply[2]! },
      day: { used: reply[3]!, limit: limits.perDay, resetMs: reply[4]! },
    };
  }

  /** A partner's calls in its open windows now (0 when a window is not open), for an admin's view. */
  async usage(partnerId: string): Promise<{ minute: number; day: number }> {
    const now = this.clock();
    const [minute, day] = await Promise.all([this.redis.hmget(keys.partnerMinute(partnerId), 'since', 'count'), this.redis.hmget(keys.partnerDay(partnerId), 'since', 'count')]);
    const open = ([since, count]: (string | null)[], windowMs: number) => (since !== null && now < Number(since) + windowMs ? Number(count ?? 0) : 0);
    return { minute: open(minute, MINUTE_MS), day: open(day, DAY_MS) };
  }

  async get(partnerId: string): Promise<(PartnerRecord & { keys: PartnerKeyRecord[] }) | null> {
    const stored = await this.stored(partnerId);
    if (!stored) return null;
    return { ...stored, keys: stored.keys.map(({ hash: _hash, ...record }) => record) };
  }

  async stored(partnerId: string): Promise<StoredPartner | null> {
    return readStoredPartner(this.redis, partnerId);
  }

  /** Every partner with its keys (partners number in the dozens). */
  async list(): Promise<(PartnerRecord & { keys: PartnerKeyRecord[] })[]> {
    const ids = await this.redis.zrange(keys.partnerIndex(), 0, -1);
    const partners = await Promise.all(ids.map((id) => this.get(id)));
    return partners.filter((p): p is NonNullable<typeof p> => p !== null);
  }
}
