/**
 * The vaccination certificate a citizen downloads: one A4 page (pdf-lib, standard fonts) with the
 * holder's and the vaccination's details and the SMART Health Card as a QR code, which any SHC
 * verifier (or teeka's /verify page, or `npm run verify-certificate`) checks offline.
 *
 * The QR code follows the SHC rules: error correction L, two segments (`shc:/` in byte mode, the JWS
 * as digits in numeric mode), one chunk (a teeka card is far below the 1,195 characters a version 22
 * code holds). It is embedded as a PNG image, drawn at 2 modules per point or more so a printout scans.
 */
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';
import QRCode from 'qrcode';
import { SHC_PREFIX, qrText } from '../engine/health-card.js';

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

/** pdf-lib's standard fonts encode WinAnsi only: anything else is replaced, never thrown on. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
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
  const pdf = await PDFDocument.create();
  pdf.setTitle(`Vaccination certificate ${c.certificateId}`);
  pdf.setCreator('teeka');
  pdf.setCreationDate(new Date(0)); // the same certificate renders to the same bytes
  pdf.setModificationDate(new Date(0));
  const page = pdf.addPage([595, 842]); // A4
  const regular = await pdf.embedFont(StandardFonts.Helvetica);
  const bold = await pdf.embedFont(StandardFonts.HelveticaBold);
  let y = 790;
  const line = (text: string, size = 11, font = regular, gap = 18) => {
    page.drawText(printable(text), { x: 50, y, size, font, color: rgb(0.1, 0.1, 0.1) });
    y -= gap;
  };
  const row = (label: string, value: string) => {
    page.drawText(printable(label), { x: 50, y, size: 10, font: regular, color: rgb(0.35, 0.35, 0.35) });
    page.drawText(printable(value), { x: 200, y, size: 11, font: bold, color: rgb(0.1, 0.1, 0.1) });
    y -= 18;
  };

  line('Certificate of Vaccination', 22, bold, 28);
  line(c.countryName, 11, regular, 30);

  line('Beneficiary details', 13, bold, 20);
  row('Name', c.name);
  row('Year of birth', String(c.birthYear));
  row('Photo ID', `${c.photoIdType} ending ${c.photoIdLast4}`);
  row('Beneficiary reference ID', c.referenceId);
  y -= 12;
  line('Vaccination details', 13, bold, 20);
  row('Vaccine', c.vaccine);
  row('Dose', `${c.dose} of ${c.seriesDoses}${c.dose > c.seriesDoses ? ' (precaution)' : ''}`);
  row('Date of dose', c.date);
  row('Vaccinated at', c.centerName);
  row('', c.place);
  row('Country', c.countryName);
  y -= 12;
  row('Certificate ID', c.certificateId);
  row('Issued', c.issuedAt);

  const qr = await pdf.embedPng(await healthCardQrPng(c.jws));
  const side = 300;
  page.drawImage(qr, { x: (595 - side) / 2, y: 80, width: side, height: side });
  page.drawText('Scan to verify (SMART Health Card). Works offline with a verifier that holds the issuer keys.', { x: 50, y: 62, size: 9, font: regular });
  page.drawText(printable(`Issuer: ${c.issuer}    Verify: ${c.issuer}/verify`), { x: 50, y: 48, size: 9, font: regular });
  return pdf.save();
}
