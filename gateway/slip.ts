/** The appointment slip a citizen shows at the centre, as a one-page PDF (pdf-lib, standard fonts). */
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

export async function renderSlip(slip: SlipContent): Promise<Uint8Array> {
  const page = await PdfPage.create(`Appointment slip ${slip.appointmentId}`);
  const { regular, bold } = page;
  page.line('Vaccination Appointment Slip', 20, bold, 28);
  page.line(slip.countryName, 10);
  page.skip(10);
  page.line(`Appointment confirmation no.: ${slip.appointmentId}`, 11, bold);
  page.line(`Date: ${slip.date}    Time slot: ${slip.slot}`);
  page.line(`Dose: ${slip.dose === 3 ? 'Precaution' : slip.dose}    Vaccine: ${slip.vaccine}`);
  page.skip(6);
  page.line('Vaccination centre', 12, bold);
  page.line(slip.centerName);
  page.line(slip.centerAddress);
  page.line(`${slip.districtName}, ${slip.stateName}${slip.pincode ? ` - ${slip.pincode}` : ''}`);
  page.skip(6);
  page.line('Beneficiaries', 12, bold);
  for (const b of slip.beneficiaries) {
    page.line(`${b.name} (born ${b.birthYear})  Ref. ID ${b.referenceId}`, 11, regular, 15);
    page.line(`   Photo ID: ${b.photoIdType} ending ${b.photoIdLast4}    Status: ${b.status}`, 10, regular, b.securityCode ? 15 : 20);
    if (b.securityCode) page.line(`   Security code: ${b.securityCode}`, 12, bold, 22);
  }
  page.skip(10);
  page.line('Please carry this slip and the photo ID named above to the centre at your time slot.', 9);
  page.line('Give the security code to the vaccinator only when you are vaccinated: it records your dose.', 9);
  return page.save();
}
