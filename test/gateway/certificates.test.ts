/**
 * From appointment to proof, over real HTTP, Redis and PostgreSQL: a vaccination issues a SMART
 * Health Card; the citizen's PDF carries it as a QR code (read back by rendering the page with
 * poppler's pdftoppm and decoding it with jsQR); its signature verifies with Node's own crypto
 * against the published keys (not with jose, which signed it); a changed byte, a revocation, a
 * retired key are each told; keys rotate without breaking old certificates; certificates reach
 * PostgreSQL through the outbox once.
 */
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, randomUUID, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import jsQRModule from 'jsqr';
import pg from 'pg';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newKeyRingFile, type KeyRingFile } from '../../engine/certificate-keys.js';
import { projectRoot } from '../../engine/config.js';
import { openPool } from '../../worker/database.js';
import { drainOutboxDirectly } from '../../worker/drain.js';
import { outboxStreams } from '../../worker/outbox.js';
import { migrate } from '../../worker/migrate.js';
import { reconcile, formatReconcileReport } from '../../worker/reconcile.js';
import { addKey, promoteKey, retireKey } from '../../scripts/certificate-keys.js';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';
import { pdfText, renderFirstPage } from '../support/pdf.js';

const jsQR = ((jsQRModule as unknown as { default?: unknown }).default ?? jsQRModule) as unknown as typeof jsQRModule.default;
const run = promisify(execFile);
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const schema = `gw_certificates_${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(join(tmpdir(), 'teeka-cert-'));
const ringFile = join(dir, 'certificate-keys.json');
let gateway: RunningGateway;
let pool: pg.Pool;
let admin: CowinClient;
let vaccinator: CowinClient;
let centerId: number;

async function start(env: Record<string, string> = {}) {
  gateway = await startGateway({ TEEKA_PG_SCHEMA: schema, TEEKA_CERT_KEYS: ringFile, ...env });
  admin = new CowinClient(gateway.url);
  admin.token = (await admin.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' })).json.token;
  const issued = await admin.post('/teeka/admin/operators', { operator_id: 'vax-cert', role: 'vaccinator', center_ids: [centerId] });
  vaccinator = new CowinClient(gateway.url);
  vaccinator.token = (await vaccinator.post('/teeka/auth/operator', { operator_id: 'vax-cert', secret: issued.json.secret })).json.token;
}

/** A gateway on the same port, Redis and PostgreSQL, with the key ring as it is now (a deploy). */
async function restart() {
  const { prefix, port } = gateway;
  await gateway.stop({ keepData: true });
  await start({ TEEKA_REDIS_PREFIX: prefix, PORT: String(port) });
}

beforeAll(async () => {
  writeFileSync(ringFile, JSON.stringify(newKeyRingFile()));
  await migrate(DATABASE_URL, schema);
  pool = openPool({ databaseUrl: DATABASE_URL, schema, onIdleError: () => {} });
  centerId = (await import('../support/fixtures.js')).demoCountry().data.centers[0]!.center_id;
  await start();
});

afterAll(async () => {
  await gateway?.stop();
  await pool?.end();
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
  rmSync(dir, { recursive: true, force: true });
});

/** A citizen booked today at the vaccinator's centre and vaccinated with the code on their slip. */
async function vaccinated(name: string, birthYear = 1985) {
  const published = await gateway.engine.publishSession({ center_id: centerId, date: gateway.engine.today(), vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 100, capacity_dose2: 0, slot_capacity: [50, 50, 50, 50] });
  if (!published.ok) throw new Error('publish failed');
  const citizen = await new CowinClient(gateway.url).login(testMobile());
  const photoId = testPhotoId();
  const beneficiaryId = await citizen.addBeneficiary(name, birthYear, photoId);
  const slot = gateway.engine.country.slotsOf(gateway.engine.country.centersById.get(centerId)!)[0];
  const booked = await citizen.post('/api/v2/appointment/schedule', { dose: 1, session_id: published.sessionId, slot, beneficiaries: [beneficiaryId] });
  expect(booked.status, booked.text).toBe(200);
  const done = await vaccinator.post('/teeka/vaccinator/vaccinate', {
    appointment_id: booked.json.appointment_confirmation_no,
    beneficiary_reference_id: beneficiaryId,
    security_code: booked.json.security_codes[0].security_code,
  });
  expect(done.status, done.text).toBe(200);
  return { citizen, beneficiaryId, photoId, certificateId: done.json.certificate_id as string };
}

async function downloadCertificate(citizen: CowinClient, beneficiaryId: string, language: { lang?: string; acceptLanguage?: string } = {}) {
  const lang = language.lang ? `&lang=${language.lang}` : '';
  const response = await fetch(`${gateway.url}/api/v2/registration/certificate/public/download?beneficiary_reference_id=${beneficiaryId}${lang}`, {
    headers: { authorization: `Bearer ${citizen.token}`, ...(language.acceptLanguage ? { 'accept-language': language.acceptLanguage } : {}) },
  });
  return { status: response.status, type: response.headers.get('content-type'), bytes: Buffer.from(await response.arrayBuffer()) };
}

/** The text of the QR code on the PDF's first page, as a phone camera would read the printed page. */
async function qrTextOfPdf(pdf: Uint8Array): Promise<{ data: string; modes: string[] }> {
  const png = PNG.sync.read(await renderFirstPage(pdf, 150));
  const code = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
  if (!code) throw new Error('no QR code found on the rendered page');
  return { data: code.data, modes: code.chunks.map((c) => c.type) };
}

/** SMART Health Cards' numeric QR text back to the JWS, written here from the specification. */
function jwsOfQrText(text: string): string {
  expect(text.startsWith('shc:/')).toBe(true);
  const digits = text.slice('shc:/'.length);
  return (digits.match(/\d\d/g) ?? []).map((pair) => String.fromCharCode(Number(pair) + 45)).join('');
}

interface Jwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  use: string;
  alg: string;
  crlVersion?: number;
}

/** Node's own ECDSA verification of a compact JWS against a JWK set, independent of jose and of teeka's verifier. */
function signatureVerifies(jws: string, jwks: { keys: Jwk[] }): boolean {
  const [head, body, signature] = jws.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg: string; kid: string };
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (header.alg !== 'ES256' || !jwk) return false;
  const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
  return verify('sha256', Buffer.from(`${head}.${body}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
}

async function jwksOf(): Promise<{ keys: Jwk[] }> {
  const response = await fetch(`${gateway.url}/.well-known/jwks.json`);
  expect(response.status).toBe(200);
  expect(response.headers.get('access-control-allow-origin')).toBe('*');
  return (await response.json()) as { keys: Jwk[] };
}

async function storedJws(certificateId: string): Promise<string> {
  return (await gateway.redis.hget(gateway.engine.records.certificate(certificateId), 'jws'))!;
}

/** `npm run verify-certificate` as a user runs it (from dist/, built by the test setup). */
async function verifyCli(input: string, issuer = gateway.url): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await run(process.execPath, [join(projectRoot(), 'dist', 'scripts', 'verify-certificate.js'), input, '--issuer', issuer]);
    return { code: 0, output: stdout };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

/** The JWS with one character of its payload changed (still valid base64url). */
function tampered(jws: string): string {
  const [head, body, signature] = jws.split('.') as [string, string, string];
  const i = Math.floor(body.length / 2);
  const changed = body[i] === 'A' ? 'B' : 'A';
  return `${head}.${body.slice(0, i)}${changed}${body.slice(i + 1)}.${signature}`;
}

describe('from appointment to proof', () => {
  it('book → vaccinate with the right code → a certificate; the QR code in its PDF decodes to exactly the signed card', async () => {
    const { citizen, beneficiaryId, certificateId } = await vaccinated('Asha Verma');
    expect(certificateId).toMatch(/^[0-9a-f-]{36}$/);
    const pdf = await downloadCertificate(citizen, beneficiaryId);
    expect(pdf.status).toBe(200);
    expect(pdf.type).toBe('application/pdf');

    const qr = await qrTextOfPdf(pdf.bytes);
    expect(qr.modes).toEqual(['byte', 'numeric']); // SHC: `shc:/` in byte mode, the JWS as digits
    const jws = jwsOfQrText(qr.data);
    expect(jws).toBe(await storedJws(certificateId));

    // the card itself, read as the specification describes it
    const [head, body] = jws.split('.') as [string, string];
    expect(JSON.parse(Buffer.from(head, 'base64url').toString())).toEqual({ alg: 'ES256', zip: 'DEF', kid: expect.any(String) });
    const payload = JSON.parse(inflateRawSync(Buffer.from(body, 'base64url')).toString());
    expect(payload).toMatchObject({ iss: gateway.url, nbf: expect.any(Number), vc: { type: ['https://smarthealth.cards#health-card'], rid: expect.stringMatching(/^[\w-]{11}$/) } });
    const [patient, immunization] = payload.vc.credentialSubject.fhirBundle.entry.map((e: any) => e.resource);
    expect(payload.vc.credentialSubject.fhirVersion).toBe('4.0.1');
    expect(patient).toMatchObject({ resourceType: 'Patient', name: [{ text: 'Asha Verma' }], birthDate: '1985' });
    expect(patient.identifier[0].type.coding[0].code).toBe('Aadhaar Card');
    expect(immunization).toMatchObject({
      resourceType: 'Immunization',
      status: 'completed',
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '210' }] },
      patient: { reference: 'resource:0' },
      protocolApplied: [{ doseNumberPositiveInt: 1, seriesDosesPositiveInt: 2 }],
      identifier: [{ value: certificateId }],
    });
    expect(immunization.performer[0].actor.display).toContain(gateway.engine.country.centersById.get(centerId)!.name);
    // the QR rules: no ids, no display texts
    expect(JSON.stringify(payload)).not.toMatch(/"id":|"display":"[^"]*"\}\]|"meta":/);
  });

  it("in the citizen's language and script: Hindi asked by ?lang=, Kannada by Accept-Language; the name as registered, the QR code unchanged", async () => {
    const { citizen, beneficiaryId, certificateId } = await vaccinated('मीना अय्यर');
    const center = gateway.engine.country.centersById.get(centerId)!;

    const hindi = await downloadCertificate(citizen, beneficiaryId, { lang: 'hi' });
    expect(hindi.status).toBe(200);
    const hindiText = await pdfText(hindi.bytes);
    expect(hindiText).toContain('टीकाकरण प्रमाणपत्र');
    expect(hindiText).toContain('मीना अय्यर'); // exactly as typed: pdftotext reads the text layer
    expect(hindiText).toContain(center.localized!.hi!.name!);
    expect(hindiText).toContain('2 में से 1');
    expect(hindiText).not.toContain('?');
    expect(jwsOfQrText((await qrTextOfPdf(hindi.bytes)).data)).toBe(await storedJws(certificateId));

    const kannada = await downloadCertificate(citizen, beneficiaryId, { acceptLanguage: 'kn-IN,kn;q=0.9,en;q=0.5' });
    const kannadaText = await pdfText(kannada.bytes);
    expect(kannadaText).toContain('ಲಸಿಕೆ ಪ್ರಮಾಣಪತ್ರ');
    expect(kannadaText).toContain('ಫಲಾನುಭವಿಯ ವಿವರಗಳು');
    expect(kannadaText).toContain('मीना अय्यर');

    // a language the country does not offer: its Accept-Language choice, English here
    const english = await pdfText((await downloadCertificate(citizen, beneficiaryId, { lang: 'fr' })).bytes);
    expect(english).toContain('Certificate of Vaccination');
    expect(english).toContain('मीना अय्यर');
  });

  it("the signature verifies with Node's crypto against /.well-known/jwks.json; one changed byte does not", async () => {
    const { certificateId } = await vaccinated('Ravi Kumar', 1970);
    const jws = await storedJws(certificateId);
    const jwks = await jwksOf();
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256', crlVersion: expect.any(Number) });
      expect(key).not.toHaveProperty('d');
      // kid: the RFC 7638 thumbprint, computed here
      expect(key.kid).toBe(createHash('sha256').update(`{"crv":"${key.crv}","kty":"${key.kty}","x":"${key.x}","y":"${key.y}"}`).digest('base64url'));
    }
    expect(signatureVerifies(jws, jwks)).toBe(true);
    expect(signatureVerifies(tampered(jws), jwks)).toBe(false);
    // and one changed byte of the signature itself
    const signatureChanged = jws.slice(0, -5) + (jws.at(-5) === 'A' ? 'B' : 'A') + jws.slice(-4);
    expect(signatureVerifies(signatureChanged, jwks)).toBe(false);
  });

  it('npm run verify-certificate: valid for the PDF and the QR text, invalid when tampered with or from another issuer', async () => {
    const { citizen, beneficiaryId, certificateId } = await vaccinated('Meera Pillai', 1992);
    const file = join(dir, `${beneficiaryId}.pdf`);
    writeFileSync(file, (await downloadCertificate(citizen, beneficiaryId)).bytes);
    const fromPdf = await verifyCli(file);
    expect(fromPdf.code, fromPdf.output).toBe(0);
    expect(fromPdf.output).toMatch(/^VALID: /);
    expect(fromPdf.output).toContain('Name: Meera Pillai');
    expect(fromPdf.output).toContain('COVISHIELD, dose 1 of 2');
    expect(fromPdf.output).toContain(`Certificate ID: ${certificateId}`);

    const jws = await storedJws(certificateId);
    const qrText = `shc:/${[...jws].map((c) => String(c.charCodeAt(0) - 45).padStart(2, '0')).join('')}`;
    expect((await verifyCli(qrText)).code).toBe(0);
    const forged = await verifyCli(tampered(jws));
    expect(forged.code).toBe(1);
    expect(forged.output).toMatch(/^INVALID: /);
    // the signature is good, but the card does not come from the issuer this verifier trusts
    expect((await verifyCli(jws, 'https://another-issuer.example')).code).not.toBe(0);
  });

  it("an admin revokes a certificate issued in error: its key's revocation list names it, verifiers say revoked, the download says so", async () => {
    const { citizen, beneficiaryId, certificateId } = await vaccinated('Issued InError');
    const kid = (await gateway.redis.hget(gateway.engine.records.certificate(certificateId), 'kid'))!;
    const before = (await jwksOf()).keys.find((k) => k.kid === kid)!.crlVersion!;
    const vaccinatorTries = await vaccinator.post('/teeka/admin/certificates/revoke', { certificate_id: certificateId, reason: 'wrong person' });
    expect(vaccinatorTries.status).toBe(403);
    const revoked = await admin.post('/teeka/admin/certificates/revoke', { certificate_id: certificateId, reason: 'recorded for the wrong person' });
    expect(revoked.status, revoked.text).toBe(200);
    expect((await admin.post('/teeka/admin/certificates/revoke', { certificate_id: randomUUID(), reason: 'x' })).status).toBe(404);

    expect((await jwksOf()).keys.find((k) => k.kid === kid)!.crlVersion).toBe(before + 1);
    const list = (await (await fetch(`${gateway.url}/.well-known/crl/${kid}.json`)).json()) as { kid: string; method: string; ctr: number; rids: string[] };
    const rid = (await gateway.redis.hget(gateway.engine.records.certificate(certificateId), 'rid'))!;
    expect(list).toEqual({ kid, method: 'rid', ctr: before + 1, rids: expect.arrayContaining([rid]) });
    const verdict = await verifyCli(await storedJws(certificateId));
    expect(verdict.code).toBe(2);
    expect(verdict.output).toMatch(/^REVOKED: /);
    const download = await downloadCertificate(citizen, beneficiaryId);
    expect(download.status).toBe(410);
    expect(JSON.parse(download.bytes.toString()).errorCode).toBe('CERTIF0002');
    expect((await fetch(`${gateway.url}/.well-known/crl/${'x'.repeat(43)}.json`)).status).toBe(404);
  });

  it("a citizen downloads only their own beneficiary's certificate; before a dose there is none", async () => {
    const { beneficiaryId } = await vaccinated('Only Mine');
    const stranger = await new CowinClient(gateway.url).login(testMobile());
    const notTheirs = await downloadCertificate(stranger, beneficiaryId);
    const missing = await downloadCertificate(stranger, '99999999999999');
    expect(notTheirs.status).toBe(404);
    expect(notTheirs.bytes.toString()).toBe(missing.bytes.toString());
    const own = await stranger.addBeneficiary('Not Yet', 1990, testPhotoId());
    const none = await downloadCertificate(stranger, own);
    expect(none.status).toBe(404);
    expect(JSON.parse(none.bytes.toString()).errorCode).toBe('CERTIF0001');
    expect((await fetch(`${gateway.url}/api/v2/registration/certificate/public/download?beneficiary_reference_id=${own}`)).status).toBe(401);
  });

  it('certificates reach PostgreSQL through the outbox exactly once; reconcile agrees with Redis', async () => {
    const { certificateId } = await vaccinated('Persisted Person');
    await drainOutboxDirectly(gateway.redis, pool, 500, outboxStreams(gateway.engine.partitions));
    await drainOutboxDirectly(gateway.redis, pool, 500, outboxStreams(gateway.engine.partitions)); // nothing left: a no-op
    const { rows } = await pool.query('SELECT certificate_id, status, version, jws FROM certificates WHERE certificate_id = $1', [certificateId]);
    expect(rows).toEqual([{ certificate_id: certificateId, status: 'issued', version: 1, jws: await storedJws(certificateId) }]);
    const revokedBefore = await pool.query(`SELECT count(*)::int AS n FROM certificates WHERE status = 'revoked'`);
    expect(revokedBefore.rows[0].n).toBe(1); // the one revoked above
    const report = await reconcile(gateway.redis, pool, gateway.engine.partitions);
    expect(report.ok, formatReconcileReport(report)).toBe(true);
    expect(report.counts.certificates).toBeGreaterThanOrEqual(5);
  });

  it('after a key rotation old and new certificates verify; once the old key is retired only the new one does', async () => {
    const old = await vaccinated('Before Rotation');
    const oldJws = await storedJws(old.certificateId);
    const ring = JSON.parse(readFileSync(ringFile, 'utf8')) as KeyRingFile;
    const oldKid = JSON.parse(Buffer.from(oldJws.split('.')[0]!, 'base64url').toString()).kid as string;
    // add the new key (published), deploy; promote it, deploy: as the key tool's rotation runs
    const newKid = addKey(ring);
    writeFileSync(ringFile, JSON.stringify(ring));
    await restart();
    expect((await jwksOf()).keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    promoteKey(ring, newKid);
    writeFileSync(ringFile, JSON.stringify(ring));
    expect(ring.keys.find((k) => k.status === 'published')!.jwk).not.toHaveProperty('d'); // the old private key is gone
    await restart();

    const fresh = await vaccinated('After Rotation');
    const freshJws = await storedJws(fresh.certificateId);
    expect(JSON.parse(Buffer.from(freshJws.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);
    const jwks = await jwksOf();
    expect(signatureVerifies(oldJws, jwks)).toBe(true);
    expect(signatureVerifies(freshJws, jwks)).toBe(true);
    expect((await verifyCli(oldJws)).code).toBe(0);
    expect((await verifyCli(freshJws)).code).toBe(0);

    retireKey(ring, oldKid);
    writeFileSync(ringFile, JSON.stringify(ring));
    await restart();
    const afterRetirement = await jwksOf();
    expect(afterRetirement.keys.map((k) => k.kid)).toEqual([newKid]);
    expect(signatureVerifies(oldJws, afterRetirement)).toBe(false);
    const retired = await verifyCli(oldJws);
    expect(retired.code).toBe(1);
    expect(retired.output).toContain('unknown or retired');
    expect((await verifyCli(freshJws)).code).toBe(0);
  });
});
