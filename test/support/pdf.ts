/**
 * Reading PDFs the gateway renders with Debian's poppler tools, as a person's viewer would:
 * `pdftotext` for the text, `pdftoppm` for a page as pixels.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function withPdfFile<T>(pdf: Uint8Array, use: (dir: string, file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'teeka-pdf-'));
  try {
    const file = join(dir, 'document.pdf');
    writeFileSync(file, pdf);
    return await use(dir, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The text of every page, in reading order. */
export function pdfText(pdf: Uint8Array): Promise<string> {
  return withPdfFile(pdf, async (_dir, file) => (await run('pdftotext', ['-layout', file, '-'])).stdout);
}

/** The text of each page (pdftotext separates pages with a form feed). */
export async function pdfPages(pdf: Uint8Array): Promise<string[]> {
  const pages = (await pdfText(pdf)).split('\f');
  // the form feed ends every page, the last one included
  if (pages.at(-1)?.trim() === '') pages.pop();
  return pages;
}

/** The first page rendered at `dpi` as a PNG file's bytes. */
export function renderFirstPage(pdf: Uint8Array, dpi = 200): Promise<Buffer> {
  return withPdfFile(pdf, async (dir, file) => {
    await run('pdftoppm', ['-png', '-r', String(dpi), '-f', '1', '-l', '1', '-singlefile', file, join(dir, 'page')]);
    return readFileSync(join(dir, 'page.png'));
  });
}
