/**
 * Vaccination certificates as SMART Health Cards (https://spec.smarthealth.cards, the HL7 SMART
 * Health Cards and Links IG): a FHIR R4 Bundle (the Patient, the Immunization) in a JWT-shaped
 * payload, minified, raw-DEFLATE compressed and signed as a compact JWS with ES256 (header
 * `{alg: "ES256", zip: "DEF", kid}`), the issuer's keys at `<iss>/.well-known/jwks.json`, revocation
 * through `vc.rid` and per-key lists at `<iss>/.well-known/crl/<kid>.json`, and a QR code of two
 * segments: `shc:/` in byte mode, then the JWS as digits (each character's code minus 45, two
 * digits each) in numeric mode. Why this standard and not a W3C VC: docs/certificates.md.
 *
 * The bundle follows the spec's rules for cards shown as QR codes: no Resource.id, meta, text,
 * CodeableConcept.text or Coding.display; `resource:N` references.
 */
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { CompactSign } from 'jose';
import type { KeyRing, PublishedKey } from './certificate-keys.js';

/**
 * CVX codes (CDC's vaccine code set, which SMART Health Cards use). A card carries its vaccine's code
 * from the country file (`vaccines[].cvx`); a vaccine without one is "COVID-19 vaccine, unspecified
 * formulation". A verifier reads cards of any issuer, so it names the COVID-19 codes it knows with
 * this public table, and a deployment's own page with its country's names (vaccineNamesByCvx).
 */
export const CVX_UNSPECIFIED = '213';
export const CVX_SYSTEM = 'http://hl7.org/fhir/sid/cvx';
export const VACCINE_NAMES_BY_CVX: Readonly<Record<string, string>> = {
  '207': 'MODERNA',
  '208': 'PFIZER',
  '210': 'COVISHIELD',
  '212': 'JANSSEN',
  '502': 'COVAXIN',
  '505': 'SPUTNIK V',
  '510': 'SINOPHARM',
  '511': 'CORONAVAC',
  [CVX_UNSPECIFIED]: 'COVID-19 vaccine',
};

/** The vaccine names a country's certificates use, by CVX code, over the public table. */
export function vaccineNamesByCvx(vaccines: readonly { name: string; cvx?: string | undefined }[]): Record<string, string> {
  return { ...VACCINE_NAMES_BY_CVX, ...Object.fromEntries(vaccines.filter((v) => v.cvx).map((v) => [v.cvx!, v.name])) };
}

export const HEALTH_CARD_TYPE = 'https://smarthealth.cards#health-card';
/** Codes SMART Health Cards in a QR code: the JWS as pairs of digits after this prefix. */
export const SHC_PREFIX = 'shc:/';

/** What a certificate states. */
export interface CertificateFacts {
  certificateId: string;
  /** the issuer URL (no trailing slash) */
  issuer: string;
  /** when it was issued, ms since epoch (the JWT `nbf`, in seconds) */
  issuedAt: number;
  name: string;
  birthYear: number;
  /** the photo ID's type as the country names it, and its last 4 characters */
  photoIdType: string;
  photoIdLast4: string;
  vaccine: string;
  /** the vaccine's CVX code (the country file's `vaccines[].cvx`, else CVX_UNSPECIFIED) */
  cvx: string;
  dose: number;
  /** doses in the vaccine's series (a precaution dose counts past it: 3 of 3) */
  seriesDoses: number;
  /** the vaccination date, YYYY-MM-DD */
  date: string;
  centerName: string;
  /** district and state, as printed */
  place: string;
  countryName: string;
  countryCode: string;
}

export interface SignedCertificate {
  certificateId: string;
  jws: string;
  kid: string;
  rid: string;
}

/** The system of the certificate's own identifier, and of the photo ID type codes, under the issuer. */
const certificateIdSystem = (issuer: string) => `${issuer}/certificate-id`;
const photoIdTypeSystem = (issuer: string) => `${issuer}/photo-id-type`;

/** The JWT-shaped payload of a card (before minifying and compressing). */
export function healthCardPayload(facts: CertificateFacts, rid: string): object {
  const patient = {
    resourceType: 'Patient',
    name: [{ text: facts.name }],
    // a FHIR date may be a year alone: the birth year is all teeka keeps
    birthDate: String(facts.birthYear),
    identifier: [
      {
        type: { coding: [{ system: photoIdTypeSystem(facts.issuer), code: facts.photoIdType }] },
        value: `XXXX${facts.photoIdLast4}`,
      },
    ],
  };
  const immunization = {
    resourceType: 'Immunization',
    identifier: [{ system: certificateIdSystem(facts.issuer), value: facts.certificateId }],
    status: 'completed',
    vaccineCode: { coding: [{ system: CVX_SYSTEM, code: facts.cvx }] },
    patient: { reference: 'resource:0' },
    occurrenceDateTime: facts.date,
    performer: [{ actor: { display: `${facts.centerName}, ${facts.place}, ${facts.countryName}` } }],
    protocolApplied: [{ doseNumberPositiveInt: facts.dose, seriesDosesPositiveInt: facts.seriesDoses }],
  };
  return {
    iss: facts.issuer,
    nbf: Math.floor(facts.issuedAt / 1000),
    vc: {
      type: [HEALTH_CARD_TYPE],
      credentialSubject: {
        fhirVersion: '4.0.1',
        fhirBundle: {
          resourceType: 'Bundle',
          type: 'collection',
          entry: [
            { fullUrl: 'resource:0', resource: patient },
            { fullUrl: 'resource:1', resource: immunization },
          ],
        },
      },
      rid,
    },
  };
}

/** Sign a certificate with the ring's signing key (jose), minified and raw-DEFLATE compressed. */
export async function signHealthCard(ring: KeyRing, facts: CertificateFacts): Promise<SignedCertificate> {
  const kid = ring.signingKid;
  const rid = ring.revocationId(kid, facts.certificateId);
  const payload = deflateRawSync(Buffer.from(JSON.stringify(healthCardPayload(facts, rid))));
  const jws = await new CompactSign(payload).setProtectedHeader({ alg: 'ES256', zip: 'DEF', kid }).sign(ring.signingKey);
  return { certificateId: facts.certificateId, jws, kid, rid };
}

/** The text of a card's QR code: `shc:/` and the JWS as digits. */
export function qrText(jws: string): string {
  let digits = '';
  for (let i = 0; i < jws.length; i++) digits += String(jws.charCodeAt(i) - 45).padStart(2, '0');
  return SHC_PREFIX + digits;
}

/** The JWS in a card's QR text (`shc:/…`), or the text itself when it already is a JWS. */
export function jwsFromText(text: string): string {
  const trimmed = text.trim();
  if (!trimmed.startsWith(SHC_PREFIX)) return trimmed;
  const digits = trimmed.slice(SHC_PREFIX.length);
  if (!/^(\d\d)+$/.test(digits)) throw new Error('not a single-chunk SMART Health Card QR code (shc:/ followed by pairs of digits)');
  let jws = '';
  for (let i = 0; i < digits.length; i += 2) jws += String.fromCharCode(Number(digits.slice(i, i + 2)) + 45);
  return jws;
}

/** A card's content, read back for people: who, what, when, where. */
export interface CardSummary {
  issuer: string;
  issuedAt: number;
  certificateId: string;
  name: string;
  birthYear: string;
  photoId: string;
  vaccine: string;
  dose: number;
  seriesDoses: number;
  date: string;
  performer: string;
  rid: string | undefined;
}

export type CardVerdict =
  | { status: 'valid'; kid: string; card: CardSummary }
  | { status: 'revoked'; kid: string; card: CardSummary }
  | { status: 'invalid'; reason: string; card?: CardSummary };

/** The header and decompressed payload of a JWS, without checking anything. */
export function readJws(jws: string): { header: Record<string, unknown>; payload: any } {
  const parts = jws.split('.');
  if (parts.length !== 3) throw new Error('not a compact JWS (three base64url parts)');
  const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  const raw = Buffer.from(parts[1]!, 'base64url');
  const payload = JSON.parse((header.zip === 'DEF' ? inflateRawSync(raw) : raw).toString('utf8'));
  return { header, payload };
}

export function summarize(payload: any): CardSummary {
  const entries: any[] = payload?.vc?.credentialSubject?.fhirBundle?.entry ?? [];
  const patient = entries.find((e) => e.resource?.resourceType === 'Patient')?.resource ?? {};
  const immunization = entries.find((e) => e.resource?.resourceType === 'Immunization')?.resource ?? {};
  const idType = patient.identifier?.[0]?.type?.coding?.[0]?.code ?? '';
  const cvx = immunization.vaccineCode?.coding?.[0]?.code ?? '';
  return {
    issuer: String(payload?.iss ?? ''),
    issuedAt: Number(payload?.nbf ?? 0) * 1000,
    certificateId: String(immunization.identifier?.[0]?.value ?? ''),
    name: String(patient.name?.[0]?.text ?? ''),
    birthYear: String(patient.birthDate ?? ''),
    photoId: `${idType} ${patient.identifier?.[0]?.value ?? ''}`.trim(),
    vaccine: VACCINE_NAMES_BY_CVX[cvx] ?? `CVX ${cvx}`,
    dose: Number(immunization.protocolApplied?.[0]?.doseNumberPositiveInt ?? 0),
    seriesDoses: Number(immunization.protocolApplied?.[0]?.seriesDosesPositiveInt ?? 0),
    date: String(immunization.occurrenceDateTime ?? ''),
    performer: String(immunization.performer?.[0]?.actor?.display ?? ''),
    rid: payload?.vc?.rid,
  };
}

/** A card revocation list (SHC): `{kid, method: "rid", ctr, rids: ["<rid>" | "<rid>.<seconds>"]}`. */
export interface RevocationList {
  kid: string;
  method: 'rid';
  ctr: number;
  rids: string[];
}

/** Whether a card with `rid`, issued at `nbf` (seconds), is on the list. */
export function isRevoked(list: RevocationList, rid: string | undefined, nbf: number): boolean {
  if (!rid) return false;
  return list.rids.some((entry) => {
    const [id, until] = entry.split('.');
    return id === rid && (until === undefined || nbf < Number(until));
  });
}

/**
 * Verify a card against an issuer's published keys (and its revocation list for the card's key, when
 * the key has one): the header, the signature (Node's own ECDSA), the payload, the issuer.
 */
export function verifyHealthCard(
  jws: string,
  trust: { issuer: string; keys: (PublishedKey & { crlVersion?: number })[]; revocations?: (kid: string) => RevocationList | undefined; now: number },
): CardVerdict {
  let header: Record<string, unknown>;
  let payload: any;
  try {
    ({ header, payload } = readJws(jws));
  } catch (err) {
    return { status: 'invalid', reason: `unreadable: ${(err as Error).message}` };
  }
  let card: CardSummary;
  try {
    card = summarize(payload);
  } catch {
    return { status: 'invalid', reason: 'the payload is not a SMART Health Card' };
  }
  if (header.alg !== 'ES256' || header.zip !== 'DEF' || typeof header.kid !== 'string') {
    return { status: 'invalid', reason: 'the header is not a SMART Health Card header (ES256, DEF, kid)', card };
  }
  if (payload.iss !== trust.issuer) return { status: 'invalid', reason: `issued by ${String(payload.iss)}, not by the trusted issuer ${trust.issuer}`, card };
  const key = trust.keys.find((k) => k.kid === header.kid);
  if (!key) return { status: 'invalid', reason: `the issuer publishes no key ${String(header.kid)} (unknown or retired)`, card };
  const [head, body, signature] = jws.split('.') as [string, string, string];
  const publicKey = createPublicKey({ key: { kty: key.kty, crv: key.crv, x: key.x, y: key.y }, format: 'jwk' });
  const good = verifySignature('sha256', Buffer.from(`${head}.${body}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
  if (!good) return { status: 'invalid', reason: 'the signature does not match: the card was altered or not signed by this issuer', card };
  if (!payload.vc?.type?.includes(HEALTH_CARD_TYPE)) return { status: 'invalid', reason: 'not a health card (vc.type)', card };
  if (typeof payload.exp === 'number' && payload.exp * 1000 < trust.now) return { status: 'invalid', reason: 'expired', card };
  if (key.crlVersion !== undefined) {
    const list = trust.revocations?.(key.kid);
    if (!list) return { status: 'invalid', reason: `the revocation list of key ${key.kid} could not be read`, card };
    if (isRevoked(list, card.rid, Number(payload.nbf))) return { status: 'revoked', kid: key.kid, card };
  }
  return { status: 'valid', kid: key.kid, card };
}
