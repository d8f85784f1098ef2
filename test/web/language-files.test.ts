/**
 * The language files (web/i18n/<language>.json) as the pages use them: adding a language is adding
 * a file with exactly English's keys, its placeholders intact, so every file is checked against
 * English; and every key the pages' code and markup name exists (and every page key is used).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../engine/config.js';
import { i18nDirectory, languageFile, PAGE_SECTIONS, pageText } from '../../gateway/i18n.js';
import { testCountries } from '../support/countries.js';

type Tree = { [key: string]: string | Tree };
const PLURAL_FORMS = new Set(['zero', 'one', 'two', 'few', 'many', 'other']);
const isPlural = (node: Tree) => Object.keys(node).length > 0 && Object.keys(node).every((k) => PLURAL_FORMS.has(k)) && 'other' in node;

/** key → the placeholders of its words (a plural set's forms together), for every key of a file. */
function flatten(tree: Tree, prefix = ''): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix + key;
    if (typeof value === 'string') out.set(path, placeholders(value));
    else if (isPlural(value)) out.set(path, [...new Set(Object.values(value).flatMap((v) => placeholders(v as string)))].sort());
    else for (const [k, v] of flatten(value, `${path}.`)) out.set(k, v);
  }
  return out;
}
const placeholders = (text: string) => [...new Set([...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!))].sort();

const files = readdirSync(i18nDirectory()).filter((f) => f.endsWith('.json'));
const english = flatten(languageFile('en') as Tree);

describe('the language files', () => {
  it.each(files)('%s has exactly the keys of English, each with the same placeholders', (file) => {
    const own = flatten(languageFile(file.slice(0, -'.json'.length)) as Tree);
    expect([...own.keys()].sort()).toEqual([...english.keys()].sort());
    // a plural set may drop {count} in a form (Hindi "one"), so only names English has are allowed
    for (const [key, names] of own) expect(names.filter((n) => !english.get(key)!.includes(n)), `${file}: ${key}`).toEqual([]);
  });

  it("every language of every country file has a file, named in its own language", () => {
    for (const { country } of testCountries()) {
      for (const language of country.languages) {
        const file = languageFile(language);
        expect(file, `${country.data.country.code}: ${language}`).not.toBeNull();
        expect(typeof (file!.language as Tree).name).toBe('string');
      }
    }
  });

  it("has words for every country's names of its administrative levels", () => {
    for (const { country } of testCountries()) {
      for (const word of Object.values(country.data.country.admin_levels)) expect(english.has(`levels.${word}`), `${country.data.country.code}: ${word}`).toBe(true);
    }
  });

  it('serves the pages only their sections, each language complete', () => {
    for (const file of files) {
      const served = pageText(file.slice(0, -'.json'.length));
      expect(Object.keys(served).sort()).toEqual([...PAGE_SECTIONS].sort());
      expect([...flatten(served).keys()].length).toBe([...english.keys()].filter((k) => !k.startsWith('documents.')).length);
    }
  });

  it('every key the pages name exists in English, and every page key is named by a page', () => {
    const web = join(projectRoot(), 'web');
    const sources = ['citizen.js', 'fair-queue.js', 'api.js', 'dashboard.js', 'index.html', 'dashboard.html'].map((f) => readFileSync(join(web, f), 'utf8')).join('\n');
    const named = new Set([
      ...[...sources.matchAll(/\bt\('([\w.]+)'/g)].map((m) => m[1]!),
      ...[...sources.matchAll(/data-i18n="([\w.]+)"/g)].map((m) => m[1]!),
      ...[...sources.matchAll(/data-i18n-attr="([^"]+)"/g)].flatMap((m) => m[1]!.split(',').map((pair) => pair.split('=')[1]!.trim())),
      ...[...sources.matchAll(/\bt\(\s*\w+\s*\?\s*'([\w.]+)'\s*:\s*'([\w.]+)'/g)].flatMap((m) => [m[1]!, m[2]!]),
    ]);
    for (const key of named) expect(english.has(key), key).toBe(true);
    // keys chosen at run time: a family the code builds from a value (t(`errors.${code}`), …)
    const families = [...sources.matchAll(/\bt\(`([\w.]+)\.\$\{/g)].map((m) => `${m[1]!}.`);
    const unused = [...english.keys()].filter((k) => !k.startsWith('documents.') && !k.startsWith('language.') && !named.has(k) && !families.some((f) => k.startsWith(f)));
    expect(unused).toEqual([]);
  });

  it('every error code the API can answer these pages has words', () => {
    const status = readFileSync(join(projectRoot(), 'engine', 'status.ts'), 'utf8');
    const codes = new Set([...status.matchAll(/errorCode: '([A-Z]{6}\d{4})'/g)].map((m) => m[1]!));
    // the vaccinator's security codes, operators, certificates, session admin and partners (their
    // API keys and the partner admin endpoints; the pages never send a key): other callers' endpoints
    const notForThesePages = new Set([
      'APPOIN0035', 'APPOIN0036', 'APPOIN0037', 'OPRADM0001', 'CERTIF0001', 'CERTIF0002', 'SESADM0001', 'SESADM0002',
      'PRTADM0001', 'PRTADM0002', 'PRTAUT0001', 'PRTAUT0002',
    ]);
    expect(codes.size).toBeGreaterThan(20);
    expect([...codes].filter((code) => !notForThesePages.has(code) && !english.has(`errors.${code}`))).toEqual([]);
  });
});
