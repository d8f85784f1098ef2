/**
 * One A4 page written top to bottom, as the appointment slip and the vaccination certificate are.
 * It owns what both share: a document that renders to the same bytes every time (fixed dates, font
 * names without pdf-lib's random suffix), the fonts, and the line cursor.
 *
 * Names are printed in the script they were registered in. Text is cut into runs by Unicode script
 * and each run drawn with a Noto Sans font for that script (embedded as a subset, with fontkit
 * shaping conjuncts and vowel signs); spaces, digits and punctuation stay in the run around them.
 * Each piece of text is also marked with its exact Unicode text (PDF `ActualText`), so copying it or
 * extracting it (pdftotext, screen readers) gives the name as typed: a shaped Indic word draws some
 * vowel signs before the consonant they follow, and the glyphs alone would read back reordered.
 *
 * Scripts with a font: Latin (with Greek and Cyrillic), and the Indic scripts of CoWIN's languages:
 * Devanagari, Bengali, Gujarati, Gurmukhi, Kannada, Malayalam, Oriya, Tamil, Telugu. A character no
 * font has (right-to-left and CJK scripts today) prints as `?`: pdf-lib lays text out left to right
 * only, so Arabic-script names would print in the wrong order. Adding a script is a row in SCRIPT_FONTS
 * and a dependency.
 */
import 'regenerator-runtime/runtime.js'; // @pdf-lib/fontkit's Indic shaper expects it as a global
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fontkit from '@pdf-lib/fontkit';
import { PDFDocument, PDFHexString, PDFName, PDFOperator, PDFOperatorNames, rgb, type PDFFont, type PDFPage, type RGB } from 'pdf-lib';

const A4: [number, number] = [595, 842];
const INK = rgb(0.1, 0.1, 0.1);
const LABEL_INK = rgb(0.35, 0.35, 0.35);

export type Weight = 'regular' | 'bold';

/**
 * Unicode script → the `@expo-google-fonts` package and file stem of its font: Noto Sans for each
 * Indic script, Roboto for Latin, Greek and Cyrillic (Noto Sans's own Latin file loses most of its
 * glyphs in @pdf-lib/fontkit's subsetter; test/gateway/documents.test.ts renders a line of every
 * script and checks it is inked along its length).
 */
const SCRIPT_FONTS = {
  Latin: ['roboto', 'Roboto'],
  Devanagari: ['noto-sans-devanagari', 'NotoSansDevanagari'],
  Bengali: ['noto-sans-bengali', 'NotoSansBengali'],
  Gujarati: ['noto-sans-gujarati', 'NotoSansGujarati'],
  Gurmukhi: ['noto-sans-gurmukhi', 'NotoSansGurmukhi'],
  Kannada: ['noto-sans-kannada', 'NotoSansKannada'],
  Malayalam: ['noto-sans-malayalam', 'NotoSansMalayalam'],
  Oriya: ['noto-sans-oriya', 'NotoSansOriya'],
  Tamil: ['noto-sans-tamil', 'NotoSansTamil'],
  Telugu: ['noto-sans-telugu', 'NotoSansTelugu'],
} as const;
type Script = keyof typeof SCRIPT_FONTS;

/** Which script a character is written in; Greek and Cyrillic are in Noto Sans with Latin. */
const SCRIPT_OF: [Script, RegExp][] = [
  ...(Object.keys(SCRIPT_FONTS) as Script[]).filter((s) => s !== 'Latin').map((s): [Script, RegExp] => [s, new RegExp(`\\p{Script=${s}}`, 'u')]),
  ['Latin', /[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}]/u],
];
/** Characters of no script of their own (spaces, digits, punctuation, joiners): they join the run they are in. */
const SHARED = /[\p{Script=Common}\p{Script=Inherited}]/u;
/** format characters: zero-width joiners and non-joiners, which shape a word but have no glyph */
const INVISIBLE = /\p{Cf}/u;

const require = createRequire(import.meta.url);
const fontFiles = new Map<string, Uint8Array>();

/** A font file's bytes, read once per process. */
function fontFile(script: Script, weight: Weight): Uint8Array {
  const [pkg, stem] = SCRIPT_FONTS[script];
  const style = weight === 'bold' ? '700Bold' : '400Regular';
  const path = require.resolve(`@expo-google-fonts/${pkg}/${style}/${stem}_${style}.ttf`);
  let bytes = fontFiles.get(path);
  if (!bytes) {
    bytes = readFileSync(path);
    fontFiles.set(path, bytes);
  }
  return bytes;
}

/**
 * @pdf-lib/fontkit 1.1.1 (pdf-lib's fontkit, last released in 2021) throws on a mark-to-base
 * attachment whose anchor is NULL, which OpenType allows ("this base takes no mark of this class")
 * and Noto Sans Gurmukhi, Malayalam and Telugu use. Upstream fontkit leaves such a mark where it is;
 * so does this patch of that one method, applied once to the positioning processor's prototype
 * (reached through a font's layout engine: the library does not export it).
 */
let nullAnchorsPatched = false;
function patchNullAnchors(): void {
  if (nullAnchorsPatched) return;
  type Processor = { applyAnchor: (markRecord: { markAnchor: unknown }, baseAnchor: unknown, baseGlyphIndex: number) => void };
  const font = fontkit.create(Buffer.from(fontFile('Telugu', 'regular'))) as unknown as { _layoutEngine?: { engine?: { GPOSProcessor?: Processor } } };
  const processor = font._layoutEngine?.engine?.GPOSProcessor;
  if (!processor) throw new Error('@pdf-lib/fontkit changed: its positioning processor is not where gateway/pdf-page.ts expects it');
  const prototype = Object.getPrototypeOf(processor) as Processor;
  const applyAnchor = prototype.applyAnchor;
  prototype.applyAnchor = function (markRecord, baseAnchor, baseGlyphIndex) {
    if (!baseAnchor || !markRecord.markAnchor) return;
    applyAnchor.call(this, markRecord, baseAnchor, baseGlyphIndex);
  };
  nullAnchorsPatched = true;
}

function scriptOf(char: string): Script | null {
  if (SHARED.test(char)) return null;
  for (const [script, pattern] of SCRIPT_OF) if (pattern.test(char)) return script;
  return 'Latin'; // no font for it: Latin's prints it as '?'
}

/** `text` cut into runs of one script each; shared characters stay in the run around them. */
export function scriptRuns(text: string): { script: Script; text: string }[] {
  const runs: { script: Script; text: string }[] = [];
  for (const char of text) {
    const script = scriptOf(char);
    const last = runs[runs.length - 1];
    if (last && (script === null || script === last.script)) last.text += char;
    else runs.push({ script: script ?? 'Latin', text: char });
  }
  // shared characters that opened the text belong with what follows them
  if (runs.length > 1 && !/[^\p{Script=Common}\p{Script=Inherited}]/u.test(runs[0]!.text)) {
    runs[1]!.text = runs[0]!.text + runs[1]!.text;
    runs.shift();
  }
  return runs;
}

interface EmbeddedFont {
  font: PDFFont;
  characters: Set<number>;
}

/** where a page's first line sits, and the lowest a line may go, in points from the bottom */
const TOP = 790;
const BOTTOM = 50;

export class PdfPage {
  /** the baseline of the next line, in points from the bottom */
  y = TOP;
  private readonly fonts = new Map<string, Promise<EmbeddedFont>>();

  private constructor(
    readonly pdf: PDFDocument,
    /** the page being written: a long document (a slip for many people) goes on to another */
    public page: PDFPage,
  ) {}

  static async create(title: string): Promise<PdfPage> {
    patchNullAnchors();
    const pdf = await PDFDocument.create();
    pdf.registerFontkit(fontkit);
    pdf.setTitle(title);
    pdf.setCreator('teeka');
    // the same content renders to the same bytes
    pdf.setCreationDate(new Date(0));
    pdf.setModificationDate(new Date(0));
    return new PdfPage(pdf, pdf.addPage(A4));
  }

  get width(): number {
    return A4[0];
  }

  /** One line at the left margin; the cursor moves down by `gap`. */
  async line(text: string, size = 11, weight: Weight = 'regular', gap = 18): Promise<void> {
    this.keepTogether(0);
    await this.draw(text, 50, this.y, size, weight, INK);
    this.y -= gap;
  }

  /** A label and its value side by side (the certificate's details). */
  async row(label: string, value: string): Promise<void> {
    this.keepTogether(0);
    await this.draw(label, 50, this.y, 10, 'regular', LABEL_INK);
    await this.draw(value, 200, this.y, 11, 'bold', INK);
    this.y -= 18;
  }

  /**
   * Start a new page unless the next `points` (below the next line) fit on this one: a block such
   * as one person on a slip is not cut in two.
   */
  keepTogether(points: number): void {
    if (this.y - points >= BOTTOM) return;
    this.page = this.pdf.addPage(A4);
    this.y = TOP;
  }

  /** Leave `points` of space. */
  skip(points: number): void {
    this.y -= points;
  }

  /** Small text at a fixed height (a footer), outside the cursor. */
  async footer(text: string, y: number): Promise<void> {
    await this.draw(text, 50, y, 9, 'regular', INK);
  }

  save(): Promise<Uint8Array> {
    return this.pdf.save();
  }

  /** The script's font in this document, embedded (as a subset) the first time a run needs it. */
  private fontFor(script: Script, weight: Weight): Promise<EmbeddedFont> {
    const key = `${script}-${weight}`;
    let embedded = this.fonts.get(key);
    if (!embedded) {
      embedded = this.pdf
        // subset: only the glyphs drawn (a whole Noto font is 200–600 KB; pdf-lib also draws Indic text
        // wrong from a whole font). A fixed name: pdf-lib would otherwise add a random suffix, and the
        // bytes would differ each time
        .embedFont(fontFile(script, weight), { subset: true, customName: `teeka-${key}` })
        .then((font) => ({ font, characters: new Set(font.getCharacterSet()) }));
      this.fonts.set(key, embedded);
    }
    return embedded;
  }

  private async draw(text: string, x: number, y: number, size: number, weight: Weight, color: RGB): Promise<void> {
    const normalized = text.normalize('NFC');
    if (!normalized) return;
    // what copying or extracting the text gives, whatever the glyphs' order. BDC takes its property
    // dictionary inline (PDF 32000-1 §14.6.2); pdf-lib writes it, though its operand type omits dictionaries
    const properties = this.pdf.context.obj({ ActualText: PDFHexString.fromText(normalized) }) as unknown as PDFName;
    this.page.pushOperators(PDFOperator.of(PDFOperatorNames.BeginMarkedContentSequence, [PDFName.of('Span'), properties]));
    for (const run of scriptRuns(normalized)) {
      const { font, characters } = await this.fontFor(run.script, weight);
      // a joiner the font does not know is left out (it is invisible), anything else it lacks is a '?'
      const printable = [...run.text].map((c) => (characters.has(c.codePointAt(0)!) ? c : INVISIBLE.test(c) ? '' : '?')).join('');
      this.page.drawText(printable, { x, y, size, font, color });
      x += font.widthOfTextAtSize(printable, size);
    }
    this.page.pushOperators(PDFOperator.of(PDFOperatorNames.EndMarkedContent));
  }
}
