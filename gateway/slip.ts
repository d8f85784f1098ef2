/**
 * The appointment slip a citizen shows at the centre, as a PDF (one page, a second for a family of more than about ten) in the citizen's language,
 * with names in the script they were registered in (gateway/pdf-page.ts).
 */
import { fill, type DocumentText } from './i18n.js';
import { PdfPage } from './pdf-page.js';

export interface SlipContent {
  appointmentId: string;
  countryName: string;
  centerName: string;
  centerAddress: string;
  districtName: string;
  stateName: string;
  /** 0 when the centre has none (a country without postal codes) */
  pincode: number;
  date: string;
  slot: string;
  dose: number;
  vaccine: string;
  beneficiaries: {
    referenceId: string;
    name: string;
    birthYear: number;
    photoIdType: string;
    photoIdLast4: string;
    status: string;
    /** the 4 digits the citizen gives the vaccinator ('' for an appointment booked before codes) */
    securityCode: string;
  }[];
}

export async function renderSlip(slip: SlipContent, text: DocumentText): Promise<Uint8Array> {
  const page = await PdfPage.create(`Appointment slip ${slip.appointmentId}`);
  await page.line(text.slipTitle, 20, 'bold', 28);
  await page.line(slip.countryName, 10);
  page.skip(10);
  await page.line(fill(text.appointmentNumber, { id: slip.appointmentId }), 11, 'bold');
  await page.line(fill(text.dateAndSlot, { date: slip.date, slot: slip.slot }));
  await page.line(fill(text.doseAndVaccine, { dose: slip.dose === 3 ? (text.precaution) : slip.dose, vaccine: slip.vaccine }));
  page.skip(6);
  await page.line(text.centre, 12, 'bold');
  await page.line(slip.centerName);
  await page.line(slip.centerAddress);
  await page.line(`${slip.districtName}, ${slip.stateName}${slip.pincode ? ` - ${slip.pincode}` : ''}`);
  page.skip(6);
  await page.line(text.beneficiaries, 12, 'bold');
  for (const b of slip.beneficiaries) {
    // a person's three lines stay on one page (a family of more than about ten goes on to a second)
    page.keepTogether(15 + (b.securityCode ? 15 + 22 : 20));
    await page.line(fill(text.beneficiaryLine, { name: b.name, year: b.birthYear, ref: b.referenceId }), 11, 'regular', 15);
    const status = text.status[b.status] ?? b.status;
    await page.line(fill(text.photoIdLine, { type: b.photoIdType, last4: b.photoIdLast4, status }), 10, 'regular', b.securityCode ? 15 : 20);
    if (b.securityCode) await page.line(fill(text.securityCode, { code: b.securityCode }), 12, 'bold', 22);
  }
  page.skip(10);
  await page.line(text.carrySlip, 9);
  await page.line(text.codeAdvice, 9);
  return page.save();
}
