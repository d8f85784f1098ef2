/**
 * Identifiers and keyed hashes. Personal data is stored as little as possible: a mobile number
 * becomes an account id (a keyed hash, useless without the deployment secret), a photo ID number
 * becomes a keyed hash of its normal form for the duplicate check plus its last 4 characters for the
 * citizen's slip.
 */
import { createHash, createHmac, randomInt, randomUUID } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function keyedHash(secret: string, purpose: string, value: string): string {
  return createHmac('sha256', secret).update(`${purpose}:${value}`).digest('hex').slice(0, 32);
}

/** The account id of a mobile number. */
export function accountIdOf(mobile: string, secret: string): string {
  return keyedHash(secret, 'mobile', mobile);
}

/**
 * The keyed hash of a photo ID: its type and its number in the type's normal form
 * (`Country.photoIdNumber`), so every way of writing one document gives one hash.
 */
export function photoIdHashOf(photoIdType: number, normalNumber: string, secret: string): string {
  return keyedHash(secret, 'photo-id', `${photoIdType}:${normalNumber}`);
}

/**
 * A session's id is derived from what makes it unique (centre, date, vaccine, age limit), shaped
 * like CoWIN's UUIDs, so publishing the same session again updates it instead of adding another.
 */
export function sessionIdFor(centerId: number, epochDay: number, vaccine: string, minAge: number): string {
  const h = createHash('sha1').update(`session:${centerId}:${epochDay}:${vaccine}:${minAge}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const newAppointmentId = (): string => randomUUID();

/** The first beneficiary reference number handed out: 14 digits, like CoWIN's (engine.ts firstBeneficiaryReference). */
export const FIRST_BENEFICIARY_REFERENCE = 10_000_000_000_000;

/**
 * Where a reference id of the partitioned layout came from: partition p hands out first + n × stride
 * + p for n = 1, 2, … (lua/registerBeneficiary-3.lua; the stride is the most partitions there can
 * be). For any id at or above `first`, `partition` is the residue it falls in and `n` the counter
 * value from which that partition's next id is above it. Null below `first`.
 */
export function referenceOrigin(id: bigint, stride: number, first: number = FIRST_BENEFICIARY_REFERENCE): { partition: number; n: bigint } | null {
  const offset = id - BigInt(first);
  if (offset < 0n) return null;
  return { partition: Number(offset % BigInt(stride)), n: offset / BigInt(stride) };
}

/** A certificate's id, printed on it and named in revocations: random, so it tells nothing about whom. */
export const newCertificateId = (): string => randomUUID();

/**
 * A login transaction id carries the account id, so confirming the OTP runs one script on the
 * account's own keys (one cluster slot) without a lookup table. Clients treat it as opaque.
 */
export const newTxnId = (): string => randomUUID();

/** True when `text` has the shape of a txnId (a UUID), so anything else is refused before Redis. */
export const isTxnId = (text: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text);

export function newOtp(length: number): string {
  return String(randomInt(0, 10 ** length)).padStart(length, '0');
}

export const newLoginSessionId = (): string => randomUUID();
