/**
 * `npm run verify-certificate -- FILE|TEXT [--issuer URL] [--jwks FILE|URL]`: verify a vaccination
 * certificate (a SMART Health Card) as any verifier would, and say valid, invalid or revoked with the
 * holder's details.
 *
 * FILE may be the certificate PDF (its QR code is read from the embedded image), a photo or scan as
 * PNG, a `.smart-health-card` file, or a text file; TEXT may be the QR code's text (`shc:/…`) or the
 * JWS itself. Only the trusted issuer's certificates can be valid: by default the deployment's own
 * (TEEKA_CERT_ISSUER, as the gateway names it), fetched from `<issuer>/.well-known/jwks.json`, with
 * each key's revocation list when the key announces one. `--jwks FILE` verifies offline against
 * saved keys (no revocation list is read then unless the keys carry none).
 *
 * Exit status: 0 valid, 1 invalid, 2 revoked, 3 could not check (unreadable input, issuer unreachable).
 */
import { existsSync, readFileSync } from 'node:fs';
import jsQRModule from 'jsqr';
import { decodePDFRawStream, PDFDict, PDFDocument, PDFName, PDFNumber, PDFRawStream } from 'pdf-lib';
import { PNG } from 'pngjs';
import { runAsCommand } from '../engine/command.js';
import { loadConfig } from '../engine/config.js';
import type { PublishedKey } from '../engine/certificate-keys.js';
import { jwsFromText, verifyHealthCard, type CardVerdict, type RevocationList } from '../engine/health-card.js';

// jsqr is CommonJS whose types declare an ES default export: at run time the import is the function
const jsQR = ((jsQRModule as unknown as { default?: unknown }).default ?? jsQRModule) as unknown as typeof jsQRModule.default;

/** The text of the first QR code found in RGBA pixels, or null. */
function qrInPixels(rgba: Uint8ClampedArray, width: number, height: number): string | null {
  return jsQR(rgba, width, height, { inversionAttempts: 'attemptBoth' })?.data ?? null;
}

/** The QR code texts in a PDF's images (the certificate embeds its QR code as one). */
export async function qrCodesInPdf(bytes: Uint8Array): Promise<string[]> {
  const document = await PDFDocument.load(bytes);
  const found: string[] = [];
  for (const page of document.getPages()) {
    const xobjects = page.node.Resources()?.lookupMaybe(PDFName.of('XObject'), PDFDict);
    if (!xobjects) continue;
    for (const name of xobjects.keys()) {
      const image = xobjects.lookup(name);
      if (!(image instanceof PDFRawStream) || image.dict.lookup(PDFName.of('Subtype')) !== PDFName.of('Image')) continue;
      const width = (image.dict.lookup(PDFName.of('Width'), PDFNumber) as PDFNumber).asNumber();
      const height = (image.dict.lookup(PDFName.of('Height'), PDFNumber) as PDFNumber).asNumber();
      const bits = (image.dict.lookup(PDFName.of('BitsPerComponent'), PDFNumber) as PDFNumber).asNumber();
      if (bits !== 8) continue;
      const pixels = decodePDFRawStream(image).decode();
      const components = pixels.length / (width * height);
      if (components !== 1 && components !== 3) continue;
      const rgba = new Uint8ClampedArray(width * height * 4);
      for (let i = 0; i < width * height; i++) {
        for (let c = 0; c < 3; c++) rgba[i * 4 + c] = pixels[i * components + (components === 3 ? c : 0)]!;
        rgba[i * 4 + 3] = 255;
      }
      const text = qrInPixels(rgba, width, height);
      if (text) found.push(text);
    }
  }
  return found;
}

/** The JWS (one or more) in a file or a text given on the command line. */
export async function certificatesIn(input: string): Promise<string[]> {
  if (!existsSync(input)) return [jwsFromText(input)];
  const bytes = readFileSync(input);
  if (bytes.subarray(0, 5).toString('latin1') === '%PDF-') {
    const texts = await qrCodesInPdf(bytes);
    if (!texts.length) throw new Error(`${input}: no QR code found in the PDF's images`);
    return texts.map(jwsFromText);
  }
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    const png = PNG.sync.read(bytes);
    const text = qrInPixels(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
    if (!text) throw new Error(`${input}: no QR code found in the image`);
    return [jwsFromText(text)];
  }
  const text = bytes.toString('utf8').trim();
  if (text.startsWith('{')) {
    // a .smart-health-card file: {"verifiableCredential": ["<JWS>", …]}
    const file = JSON.parse(text) as { verifiableCredential?: unknown };
    if (!Array.isArray(file.verifiableCredential)) throw new Error(`${input}: expected {"verifiableCredential": [...]}`);
    return file.verifiableCredential.map(String);
  }
  return [jwsFromText(text)];
}

async function readJson(source: string): Promise<unknown> {
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`${source}: HTTP ${response.status}`);
    return response.json();
  }
  return JSON.parse(readFileSync(source, 'utf8'));
}

export interface VerifyOptions {
  issuer: string;
  /** a saved JWK set (file or URL); default `<issuer>/.well-known/jwks.json` */
  jwks?: string;
  now?: number;
}

/** Verify every certificate in `input` against the trusted issuer's keys and revocation lists. */
export async function verifyCertificates(input: string, options: VerifyOptions): Promise<CardVerdict[]> {
  const jwsList = await certificatesIn(input);
  const set = (await readJson(options.jwks ?? `${options.issuer}/.well-known/jwks.json`)) as { keys?: (PublishedKey & { crlVersion?: number })[] };
  const keys = Array.isArray(set.keys) ? set.keys : [];
  const lists = new Map<string, RevocationList>();
  for (const key of keys) {
    if (key.crlVersion === undefined) continue;
    lists.set(key.kid, (await readJson(`${options.issuer}/.well-known/crl/${key.kid}.json`)) as RevocationList);
  }
  return jwsList.map((jws) => verifyHealthCard(jws, { issuer: options.issuer, keys, revocations: (kid) => lists.get(kid), now: options.now ?? Date.now() }));
}

export function describeVerdict(verdict: CardVerdict): string {
  const lines: string[] = [];
  if (verdict.status === 'valid') lines.push(`VALID: a SMART Health Card signed by the issuer (key ${verdict.kid})`);
  else if (verdict.status === 'revoked') lines.push(`REVOKED: the issuer revoked this certificate (key ${verdict.kid})`);
  else lines.push(`INVALID: ${verdict.reason}`);
  const card = verdict.card;
  if (card) {
    const label = verdict.status === 'invalid' ? '  (unverified) ' : '  ';
    lines.push(`${label}Name: ${card.name}    Year of birth: ${card.birthYear}    Photo ID: ${card.photoId}`);
    lines.push(`${label}Vaccine: ${card.vaccine}, dose ${card.dose} of ${card.seriesDoses}, on ${card.date}`);
    lines.push(`${label}At: ${card.performer}`);
    lines.push(`${label}Certificate ID: ${card.certificateId}    Issuer: ${card.issuer}`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  let issuer: string | undefined;
  let jwks: string | undefined;
  const inputs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--issuer') issuer = args[++i];
    else if (args[i] === '--jwks') jwks = args[++i];
    else inputs.push(args[i]!);
  }
  if (inputs.length !== 1) {
    console.error('usage: npm run verify-certificate -- FILE|TEXT [--issuer URL] [--jwks FILE|URL]');
    return 3;
  }
  const verdicts = await verifyCertificates(inputs[0]!, { issuer: issuer ?? loadConfig().certIssuer, jwks });
  for (const verdict of verdicts) console.log(describeVerdict(verdict));
  if (verdicts.some((v) => v.status === 'invalid')) return 1;
  if (verdicts.some((v) => v.status === 'revoked')) return 2;
  return 0;
}

runAsCommand(import.meta.url, 'verify-certificate', main);
