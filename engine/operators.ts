/**
 * Operators: the vaccinators and admins who act on centres' appointments. An admin issues each
 * operator an id, a role, the centres they work at and a secret (shown once; only its scrypt hash is
 * kept), and revokes them; an operator logs in with id and secret and gets a token whose login
 * session lives in Redis, so a revocation or new credentials end it at once.
 *
 * The deployment's admin key (TEEKA_ADMIN_KEY) stays a way in for the first admin: it opens the
 * built-in `admin` operator's session, which no one can be issued.
 */
import { randomBytes, randomUUID, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { allKeys, type RedisClient } from './redis.js';
import type { Clock } from './clock.js';
import { keys } from './keys.js';
import { decodeOperatorHash, decodeOperatorSessionHash } from './records.js';
import type { LuaScripts } from './scripts.js';
import { Status } from './status.js';

export type OperatorRole = 'vaccinator' | 'admin';

/** The operator id the deployment's admin key logs in as; never issued to anyone. */
export const KEY_ADMIN_ID = 'admin';

/** Operator ids: letters, digits and . _ - ; 2 to 64 characters, starting with a letter or digit. */
export const OPERATOR_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$/;

export interface OperatorRecord {
  operatorId: string;
  role: OperatorRole;
  centerIds: number[];
  status: 'active' | 'revoked';
  issuedAt: number;
  issuedBy: string;
  revokedAt?: number;
  revokedBy?: string;
  version: number;
}

/** Who an operator token speaks for, as its live login session says. */
export interface OperatorSession {
  operatorId: string;
  role: OperatorRole;
  centerIds: number[];
}

export type OperatorOutcome<T> = ({ ok: true } & T) | { ok: false; status: Status };

// scrypt's recommended interactive parameters (N = 2^14, r = 8, p = 1): about 16 MiB and tens of
// milliseconds per check, which a login pays once and a guesser pays every time
const SCRYPT: ScryptOptions = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LENGTH = 32;

function scrypt(secret: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCallback(secret, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt$N$r$p$<salt>$<hash>` (base64url): the parameters travel with the hash, so they can be raised later. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Whether `secret` is the one `stored` (from hashSecret) was made from; constant time in the secret. */
export async function secretMatches(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const expected = Buffer.from(parts[5]!, 'base64url');
  const actual = await scrypt(secret, Buffer.from(parts[4]!, 'base64url'), { N: N!, r: r!, p: p!, maxmem: SCRYPT.maxmem! });
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** A new operator secret: 192 random bits, 32 characters of base64url. */
export function newOperatorSecret(): string {
  return randomBytes(24).toString('base64url');
}

const parseCenters = (text: string | undefined): number[] => (text ? text.split(',').map(Number) : []);

export class Operators {
  constructor(
    private readonly redis: RedisClient,
    private readonly scripts: LuaScripts,
    private readonly clock: Clock,
    /** an operator login session's lifetime (the operator token's) */
    readonly sessionTtlMs = 8 * 3_600_000,
  ) {}

  /**
   * Issue credentials: a new operator, or new ones for an existing operator (its old secret and
   * login end). Returns the secret, which is never stored and cannot be shown again.
   */
  async issue(
    operatorId: string,
    role: OperatorRole,
    centerIds: number[],
    issuedBy: string,
  ): Promise<OperatorOutcome<{ secret: string; version: number }>> {
    if (!OPERATOR_ID.test(operatorId) || operatorId === KEY_ADMIN_ID) throw new Error(`not an operator id that can be issued: ${operatorId}`);
    const secret = newOperatorSecret();
    const reply = await this.scripts.run(
      'issueOperator',
      [keys.operator(operatorId), keys.operatorSession(operatorId), keys.outbox()],
      [operatorId, role, [...new Set(centerIds)].sort((a, b) => a - b).join(','), await hashSecret(secret), this.clock(), issuedBy],
    );
    if (reply[0] !== Status.OK) return { ok: false, status: reply[0] as Status };
    return { ok: true, secret, version: reply[1] as number };
  }

  async revoke(operatorId: string, revokedBy: string): Promise<OperatorOutcome<{ version: number }>> {
    const reply = await this.scripts.run(
      'revokeOperator',
      [keys.operator(operatorId), keys.operatorSession(operatorId), keys.outbox()],
      [operatorId, this.clock(), revokedBy],
    );
    if (reply[0] !== Status.OK) return { ok: false, status: reply[0] as Status };
    return { ok: true, version: reply[1] as number };
  }

  /** Log an operator in with their id and secret: a new login session (the previous one ends). */
  async login(operatorId: string, secret: string, role?: string): Promise<OperatorOutcome<OperatorSession & { sid: string }>> {
    const refused = { ok: false as const, status: Status.OPERATOR_REFUSED };
    if (!OPERATOR_ID.test(operatorId) || operatorId === KEY_ADMIN_ID) return refused;
    const operator = decodeOperatorHash(operatorId, await this.redis.hgetall(keys.operator(operatorId)));
    // an unknown id costs a hash too, so the time taken does not tell which ids exist
    const matches = await secretMatches(secret, operator?.secret_hash ?? UNKNOWN_OPERATOR_HASH);
    if (!operator || operator.status !== 'active' || !matches) return refused;
    // a login that asks for another role is refused before it opens a session (and ends the live one)
    if (role !== undefined && operator.role !== role) return refused;
    return this.openSession(operatorId, operator.secret_hash);
  }

  /** The session of the deployment's admin key, which the caller has checked against its configuration. */
  loginWithAdminKey(): Promise<OperatorOutcome<OperatorSession & { sid: string }>> {
    return this.openSession(KEY_ADMIN_ID, '');
  }

  private async openSession(operatorId: string, verifiedHash: string): Promise<OperatorOutcome<OperatorSession & { sid: string }>> {
    const sid = randomUUID();
    const reply = await this.scripts.run(
      'openOperatorSession',
      [keys.operator(operatorId), keys.operatorSession(operatorId)],
      [verifiedHash, sid, this.clock(), this.sessionTtlMs],
    );
    if (reply[0] !== Status.OK) return { ok: false, status: reply[0] as Status };
    return { ok: true, operatorId, sid, role: reply[1] as OperatorRole, centerIds: parseCenters(reply[2] as string) };
  }

  /** The live session a token's `sid` names, or null once it was replaced, revoked or expired. */
  async session(operatorId: string, sid: string): Promise<OperatorSession | null> {
    const live = decodeOperatorSessionHash(operatorId, await this.redis.hgetall(keys.operatorSession(operatorId)));
    if (!live || live.sid !== sid) return null;
    return { operatorId, role: live.role, centerIds: parseCenters(live.centers) };
  }

  async get(operatorId: string): Promise<OperatorRecord | null> {
    return recordOf(operatorId, await this.redis.hgetall(keys.operator(operatorId)));
  }

  /** Every operator record (an admin's list; operators number in the thousands, not millions). */
  async list(): Promise<OperatorRecord[]> {
    const head = keys.operator('');
    const records: OperatorRecord[] = [];
    for (const key of await allKeys(this.redis, `${head}*`)) {
      const operatorId = key.slice(head.length);
      const record = recordOf(operatorId, await this.redis.hgetall(keys.operator(operatorId)));
      if (record) records.push(record);
    }
    return records.sort((a, b) => (a.operatorId < b.operatorId ? -1 : 1));
  }
}

/** A hash no secret matches (its salt and value are fixed), for ids that do not exist. */
const UNKNOWN_OPERATOR_HASH = `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(KEY_LENGTH).toString('base64url')}`;

/** The operator as the admin's views show it (the secret's hash stays in Redis). */
function recordOf(operatorId: string, hash: Record<string, string>): OperatorRecord | null {
  const stored = decodeOperatorHash(operatorId, hash);
  if (!stored) return null;
  const record: OperatorRecord = {
    operatorId,
    role: stored.role,
    centerIds: parseCenters(stored.centers),
    status: stored.status,
    issuedAt: stored.issued_at,
    issuedBy: stored.issued_by,
    version: stored.version,
  };
  if (stored.revoked_at !== undefined) {
    record.revokedAt = stored.revoked_at;
    record.revokedBy = stored.revoked_by ?? '';
  }
  return record;
}
