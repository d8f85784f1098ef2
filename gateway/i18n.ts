/**
 * The words teeka shows people, one file per language: `web/i18n/<language>.json` (English is the
 * reference: every key it has, the others may have). Which languages a deployment offers is the
 * country file's `country.languages`; adding a language is adding its file there. A key a file lacks
 * falls back to English, so a half-translated language still shows every line.
 *
 * The files carry the printed documents' words (the appointment slip and the certificate, `documents`)
 * and every word of the two pages (`common`, `levels`, `citizen`, `errors`, `dashboard`), which the
 * gateway serves to them (`pageText`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../engine/config.js';
import type { Country } from '../engine/masterdata.js';

export const REFERENCE_LANGUAGE = 'en';

type Strings = { [key: string]: string | Strings };

/** The words of the slip and the certificate: the keys of `documents` in web/i18n/en.json. */
export const DOCUMENT_KEYS = [
  'slipTitle',
  'appointmentNumber',
  'dateAndSlot',
  'doseAndVaccine',
  'precaution',
  'centre',
  'beneficiaries',
  'beneficiaryLine',
  'photoIdLine',
  'securityCode',
  'carrySlip',
  'codeAdvice',
  'certificateTitle',
  'beneficiaryDetails',
  'name',
  'yearOfBirth',
  'photoId',
  'photoIdValue',
  'referenceId',
  'vaccinationDetails',
  'vaccine',
  'dose',
  'doseValue',
  'precautionSuffix',
  'dateOfDose',
  'vaccinatedAt',
  'country',
  'certificateId',
  'issued',
  'scanToVerify',
  'issuerLine',
] as const;
export type DocumentText = Record<(typeof DOCUMENT_KEYS)[number], string> & { status: Record<string, string> };

const cache = new Map<string, Strings>();

export function i18nDirectory(): string {
  return join(projectRoot(), 'web', 'i18n');
}

/** A language's file, parsed (read once per process); null when there is none. */
export function languageFile(language: string): Strings | null {
  if (!/^[a-z]{2,3}$/.test(language)) return null;
  let strings = cache.get(language);
  if (!strings) {
    const path = join(i18nDirectory(), `${language}.json`);
    if (!existsSync(path)) return null;
    strings = JSON.parse(readFileSync(path, 'utf8')) as Strings;
    cache.set(language, strings);
  }
  return strings;
}

function merged(reference: Strings, own: Strings | undefined): Strings {
  const result: Strings = {};
  for (const [key, value] of Object.entries(reference)) {
    const mine = own?.[key];
    result[key] = typeof value === 'string' ? (typeof mine === 'string' ? mine : value) : merged(value, typeof mine === 'object' ? mine : undefined);
  }
  return result;
}

/** The documents' words in `language`, each missing one in English. */
export function documentText(language: string): DocumentText {
  const reference = languageFile(REFERENCE_LANGUAGE)!.documents as Strings;
  const own = languageFile(language)?.documents;
  return merged(reference, typeof own === 'object' ? own : undefined) as DocumentText;
}

/** The sections of a language file the pages use (the rest, `documents`, is printed by the gateway). */
export const PAGE_SECTIONS = ['language', 'common', 'levels', 'citizen', 'errors', 'dashboard'] as const;

/** The pages' words in `language`, each missing one in English: what the gateway serves as i18n-<language>.json. */
export function pageText(language: string): Strings {
  const reference = languageFile(REFERENCE_LANGUAGE)!;
  const own = languageFile(language) ?? {};
  const sections = (file: Strings): Strings => Object.fromEntries(PAGE_SECTIONS.filter((name) => name in file).map((name) => [name, file[name]!]));
  return merged(sections(reference), sections(own));
}

/** `template` with each `{name}` replaced by `values.name`. */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

/**
 * The language a document is printed in: `?lang=` when the country offers it (the page passes its
 * chosen language), else the request's Accept-Language, as for the `*_l` names.
 */
export function documentLanguage(country: Country, lang: string | null, acceptLanguage: string | undefined): string {
  if (lang && country.languages.includes(lang)) return lang;
  return country.language(acceptLanguage);
}
