/**
 * The vaccination certificate a citizen downloads: one A4 page in the citizen's language, names in
 * their own script (gateway/pdf-page.ts), with the holder's and the vaccination's details and the SMART Health Card as a QR code, which any SHC
 * verifier (or teeka's /verify page, or `npm run verify-certificate`) checks offline.
 *
 * The QR code follows the SHC rules: error correction L, two segments (`shc:/` in byte mode, the JWS
 * as digits in numeric mode), one chunk (a teeka card is far below the 1,195 characters a version 22
 * code holds). It is embedded as a PNG image, drawn at 2 modules per point or more so a printout scans.
 */
import QRCode from 'qrcode';
import { SHC_PREFIX, qrText } from '../engine/health-card.js';
import { fill, type DocumentText } from './i18n.js';
import { PdfPage } from './pdf-page.js';

export interface CertificateContent {
  certificateId: string;
  issuer: string;
  countryName: string;
  name: string;
  birthYear: number;
  referenceId: string;
  photoIdType: string;
  photoIdLast4: string;
  vaccine: string;
  dose: number;
  seriesDoses: number;
  /** DD-MM-YYYY */
  date: string;
  centerName: string;
  place: string;
  /** ISO instant */
  issuedAt: string;
  jws: string;
}

/** The QR code of a SMART Health Card as PNG bytes. */
export function healthCardQrPng(jws: string): Promise<Buffer> {
  const digits = qrText(jws).slice(SHC_PREFIX.length);
  return QRCode.toBuffer(
    [
      { data: Buffer.from(SHC_PREFIX), mode: 'byte' },
      { data: digits, mode: 'numeric' },
    ],
    { errorCorrectionLevel: 'L', type: 'png', margin: 4, scale: 4 },
  );
}

export async function renderCertificate(c: CertificateContent, text: DocumentText): Promise<Uint8Array> {
  const page = await PdfPage.create(`Vaccination certificate ${c.certificateId}`);
  await page.line(text.certificateTitle, 22, 'bold', 28);
  await page.line(c.countryName, 11, 'regular', 30);

  await page.line(text.beneficiaryDetails, 13, 'bold', 20);
  await page.row(text.name, c.name);
  await page.row(text.yearOfBirth, String(c.birthYear));
  await page.row(text.photoId, fill(text.photoIdValue, { type: c.photoIdType, last4: c.photoIdLast4 }));
  await page.row(text.referenceId, c.referenceId);
  page.skip(12);
  await page.line(text.vaccinationDetails, 13, 'bold', 20);
  await page.row(text.vaccine, c.vaccine);
  await page.row(text.dose, fill(text.doseValue, { dose: c.dose, series: c.seriesDoses }) + (c.dose > c.seriesDoses ? (text.precautionSuffix) : ''));
  await page.row(text.dateOfDose, c.date);
  await page.row(text.vaccinatedAt, c.centerName);
  await page.row('', c.place);
  await page.row(text.country, c.countryName);
  page.skip(12);
  await page.row(text.certificateId, c.certificateId);
  await page.row(text.issued, c.issuedAt);

  const qr = await page.pdf.embedPng(await healthCardQrPng(c.jws));
  const side = 300;
  page.page.drawImage(qr, { x: (page.width - side) / 2, y: 80, width: side, height: side });
  await page.footer(text.scanToVerify, 62);
  await page.footer(fill(text.issuerLine, { issuer: c.issuer }), 48);
  return page.save();
}
