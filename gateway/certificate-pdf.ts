/**
 * The vaccination certificate a citizen downloads: one A4 page (pdf-lib, standard fonts) with the
 * holder's and the vaccination's details and the SMART Health Card as a QR code, which any SHC
 * verifier (or teeka's /verify page, or `npm run verify-certificate`) checks offline.
 *
 * The QR code follows the SHC rules: error correction L, two segments (`shc:/` in byte mode, the JWS
 * as digits in numeric mode), one chunk (a teeka card is far below the 1,195 characters a version 22
 * code holds). It is embedded as a PNG image, drawn at 2 modules per point or more so a printout scans.
 */
import QRCode from 'qrcode';
import { SHC_PREFIX, qrText } from '../engine/health-card.js';
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

export async function renderCertificate(c: CertificateContent): Promise<Uint8Array> {
  const page = await PdfPage.create(`Vaccination certificate ${c.certificateId}`);
  const { regular, bold } = page;
  page.line('Certificate of Vaccination', 22, bold, 28);
  page.line(c.countryName, 11, regular, 30);

  page.line('Beneficiary details', 13, bold, 20);
  page.row('Name', c.name);
  page.row('Year of birth', String(c.birthYear));
  page.row('Photo ID', `${c.photoIdType} ending ${c.photoIdLast4}`);
  page.row('Beneficiary reference ID', c.referenceId);
  page.skip(12);
  page.line('Vaccination details', 13, bold, 20);
  page.row('Vaccine', c.vaccine);
  page.row('Dose', `${c.dose} of ${c.seriesDoses}${c.dose > c.seriesDoses ? ' (precaution)' : ''}`);
  page.row('Date of dose', c.date);
  page.row('Vaccinated at', c.centerName);
  page.row('', c.place);
  page.row('Country', c.countryName);
  page.skip(12);
  page.row('Certificate ID', c.certificateId);
  page.row('Issued', c.issuedAt);

  const qr = await page.pdf.embedPng(await healthCardQrPng(c.jws));
  const side = 300;
  page.page.drawImage(qr, { x: (page.width - side) / 2, y: 80, width: side, height: side });
  page.footer('Scan to verify (SMART Health Card). Works offline with a verifier that holds the issuer keys.', 62);
  page.footer(`Issuer: ${c.issuer}    Verify: ${c.issuer}/verify`, 48);
  return page.save();
}
