/** The appointment slip a citizen shows at the centre, as a one-page PDF (pdf-lib, standard fonts). */
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';

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

/** pdf-lib's standard fonts encode WinAnsi only: anything else is replaced, never thrown on. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

export async function renderSlip(slip: SlipContent): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  pdf.setTitle(`Appointment slip ${slip.appointmentId}`);
  pdf.setCreator('teeka');
  pdf.setCreationDate(new Date(0)); // the same slip renders to the same bytes
  pdf.setModificationDate(new Date(0));
  const page = pdf.addPage([595, 842]); // A4
  const regular = await pdf.embedFont(StandardFonts.Helvetica);
  const bold = await pdf.embedFont(StandardFonts.HelveticaBold);
  let y = 790;
  const line = (text: string, size = 11, font = regular, gap = 18) => {
    page.drawText(printable(text), { x: 50, y, size, font, color: rgb(0.1, 0.1, 0.1) });
    y -= gap;
  };
  line('Vaccination Appointment Slip', 20, bold, 28);
  line(slip.countryName, 10);
  y -= 10;
  line(`Appointment confirmation no.: ${slip.appointmentId}`, 11, bold);
  line(`Date: ${slip.date}    Time slot: ${slip.slot}`);
  line(`Dose: ${slip.dose === 3 ? 'Precaution' : slip.dose}    Vaccine: ${slip.vaccine}`);
  y -= 6;
  line('Vaccination centre', 12, bold);
  line(slip.centerName);
  line(slip.centerAddress);
  line(`${slip.districtName}, ${slip.stateName}${slip.pincode ? ` - ${slip.pincode}` : ''}`);
  y -= 6;
  line('Beneficiaries', 12, bold);
  for (const b of slip.beneficiaries) {
    line(`${b.name} (born ${b.birthYear})  Ref. ID ${b.referenceId}`, 11, regular, 15);
    line(`   Photo ID: ${b.photoIdType} ending ${b.photoIdLast4}    Status: ${b.status}`, 10, regular, b.securityCode ? 15 : 20);
    if (b.securityCode) line(`   Security code: ${b.securityCode}`, 12, bold, 22);
  }
  y -= 10;
  line('Please carry this slip and the photo ID named above to the centre at your time slot.', 9);
  line('Give the security code to the vaccinator only when you are vaccinated: it records your dose.', 9);
  return pdf.save();
}
