/**
 * One A4 page written top to bottom, as the appointment slip and the vaccination certificate are.
 * It owns what both share: a document that renders to the same bytes every time (fixed dates),
 * pdf-lib's standard fonts, the WinAnsi guard they need, and the line cursor. The day the pages
 * print names in any script (issue 13), the embedded font changes here, for both.
 */
import { PDFDocument, StandardFonts, rgb, type PDFFont, type PDFPage } from 'pdf-lib';

const A4: [number, number] = [595, 842];
const INK = rgb(0.1, 0.1, 0.1);
const LABEL_INK = rgb(0.35, 0.35, 0.35);

/** pdf-lib's standard fonts encode WinAnsi only: anything else is replaced, never thrown on. */
export function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

export class PdfPage {
  /** the baseline of the next line, in points from the bottom */
  y = 790;

  private constructor(
    readonly pdf: PDFDocument,
    readonly page: PDFPage,
    readonly regular: PDFFont,
    readonly bold: PDFFont,
  ) {}

  static async create(title: string): Promise<PdfPage> {
    const pdf = await PDFDocument.create();
    pdf.setTitle(title);
    pdf.setCreator('teeka');
    // the same content renders to the same bytes
    pdf.setCreationDate(new Date(0));
    pdf.setModificationDate(new Date(0));
    const page = pdf.addPage(A4);
    return new PdfPage(pdf, page, await pdf.embedFont(StandardFonts.Helvetica), await pdf.embedFont(StandardFonts.HelveticaBold));
  }

  get width(): number {
    return A4[0];
  }

  /** One line at the left margin; the cursor moves down by `gap`. */
  line(text: string, size = 11, font: PDFFont = this.regular, gap = 18): void {
    this.page.drawText(printable(text), { x: 50, y: this.y, size, font, color: INK });
    this.y -= gap;
  }

  /** A label and its value side by side (the certificate's details). */
  row(label: string, value: string): void {
    this.page.drawText(printable(label), { x: 50, y: this.y, size: 10, font: this.regular, color: LABEL_INK });
    this.page.drawText(printable(value), { x: 200, y: this.y, size: 11, font: this.bold, color: INK });
    this.y -= 18;
  }

  /** Leave `points` of space. */
  skip(points: number): void {
    this.y -= points;
  }

  /** Small text at a fixed height (a footer), outside the cursor. */
  footer(text: string, y: number): void {
    this.page.drawText(printable(text), { x: 50, y, size: 9, font: this.regular });
  }

  save(): Promise<Uint8Array> {
    return this.pdf.save();
  }
}
