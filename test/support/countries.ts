/**
 * Every country file in masterdata/, as a test parameter: the suites that prove adoption by
 * configuration run once per file (`describe.each(testCountries())`), so a second country is
 * tested by adding its file, not by copying tests. Also country-shaped test data: mobiles, test
 * numbers and photo ID numbers that fit each country's rules.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../engine/config.js';
import { loadCountry, type Country, type Vaccine } from '../../engine/masterdata.js';
import { morningIn } from './clock.js';

export interface TestCountry {
  /** the file's name without `.json` (`demo-country`, `guyana`): names the parameterised suite */
  name: string;
  /** the file's path */
  file: string;
  country: Country;
  /** 10:00 on the tests' working day in the country's time zone */
  morning: number;
}

const masterdataDir = () => join(projectRoot(), 'masterdata');

/** The country files of masterdata/, in name order. */
export function countryFiles(): string[] {
  return readdirSync(masterdataDir())
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => join(masterdataDir(), name));
}

let loaded: TestCountry[] | undefined;
/** Every country of masterdata/, loaded once per test file. */
export function testCountries(): TestCountry[] {
  loaded ??= countryFiles().map((file) => {
    const country = loadCountry(file);
    return { name: file.slice(file.lastIndexOf('/') + 1, -'.json'.length), file, country, morning: morningIn(country.timeZone) };
  });
  return loaded;
}

/** The country of one masterdata file by name (`guyana`). */
export function testCountry(name: string): TestCountry {
  const found = testCountries().find((c) => c.name === name);
  if (!found) throw new Error(`no masterdata/${name}.json`);
  return found;
}

/**
 * The vaccine the generic tests book: the country's first two-dose vaccine given from age 18 or
 * younger (India's COVISHIELD, Guyana's PFIZER).
 */
export function twoDoseVaccine(country: Country): Vaccine {
  const found = country.data.vaccines.find((v) => v.doses === 2 && v.min_age <= 18);
  if (!found) throw new Error(`${country.data.country.name} has no two-dose vaccine for adults`);
  return found;
}

/** Another two-dose vaccine than `than` (for the vaccine-mismatch rule). */
export function otherTwoDoseVaccine(country: Country, than: Vaccine): Vaccine {
  const found = country.data.vaccines.find((v) => v.doses === 2 && v.min_age <= 18 && v.name !== than.name);
  if (!found) throw new Error(`${country.data.country.name} has a single two-dose vaccine`);
  return found;
}

/** The country's single-dose vaccine, if it has one (Guyana's JANSSEN). */
export function singleDoseVaccine(country: Country): Vaccine | undefined {
  return country.data.vaccines.find((v) => v.doses === 1);
}

/** The demo's test-number prefix of a country (`demo.test_mobile_prefix`): India 9999, Guyana 699. */
export function testPrefixOf(country: Country): string {
  const prefix = country.data.demo?.test_mobile_prefix;
  if (!prefix) throw new Error(`${country.data.country.name} names no demo.test_mobile_prefix`);
  return prefix;
}

/** Test number `n` of a country: its prefix, then `n` filling the rest of its digits. */
export function testMobileOf(country: Country, n: number): string {
  const prefix = testPrefixOf(country);
  const rest = country.rules.mobile.digits - prefix.length;
  if (n >= 10 ** rest) throw new Error(`test number ${n} does not fit in ${rest} digits after ${prefix}`);
  return `${prefix}${String(n).padStart(rest, '0')}`;
}

/**
 * The first two digits of the ordinary (not test) mobiles made for a country: ones its rule
 * accepts that cannot begin a test number (India 60…, Guyana 60…).
 */
function ordinaryHead(country: Country): string {
  const prefix = country.data.demo?.test_mobile_prefix ?? '';
  for (let head = 10; head < 100; head++) {
    const text = String(head);
    if (country.mobile.acceptsPrefix(text) && !prefix.startsWith(text) && !text.startsWith(prefix || '-')) return text;
  }
  throw new Error(`no two-digit start of ${country.data.country.name}'s mobiles avoids its test numbers`);
}

let mobileCounter = 0;
/**
 * A fresh ordinary mobile of the country per call (its rule accepts it; never a test number),
 * distinct across the test files running at once by process id.
 */
export function nextMobileOf(country: Country): string {
  mobileCounter += 1;
  const rest = country.rules.mobile.digits - 2;
  const counter = String(mobileCounter % 10_000).padStart(4, '0');
  const mobile = `${ordinaryHead(country)}${String(process.pid % 10 ** (rest - 4)).padStart(rest - 4, '0')}${counter}`;
  if (!country.mobile.accepts(mobile)) throw new Error(`made ${mobile}, which ${country.data.country.name}'s rule refuses`);
  return mobile;
}

/**
 * The photo ID type test data uses: the first whose example ends in 7 or more digits (India's
 * Aadhaar Card, Guyana's National ID Card). Fresh numbers replace those digits.
 */
export function testPhotoIdType(country: Country): { id: number; prefix: string; digits: number } {
  for (const type of country.data.photo_id_types) {
    const normal = [...type.number.example].filter((c) => !type.number.separators.includes(c)).join('').trim().toUpperCase();
    const digits = /\d+$/.exec(normal)?.[0].length ?? 0;
    if (digits >= 7) return { id: type.id, prefix: normal.slice(0, normal.length - digits), digits };
  }
  throw new Error(`${country.data.country.name} has no photo ID type whose numbers end in 7 digits`);
}

let photoCounter = 0;
/** The next serial number for photo IDs: one counter for every generator of them, so they never repeat each other. */
export function nextPhotoSerial(): number {
  photoCounter += 1;
  return photoCounter;
}

/** A fresh photo ID number of the country per call, with its type, distinct across test files by process id. */
export function nextPhotoIdOf(country: Country): { type: number; number: string } {
  const serial = nextPhotoSerial();
  const { id, prefix, digits } = testPhotoIdType(country);
  const number = `${prefix}${String(process.pid % 10 ** (digits - 6)).padStart(digits - 6, '0')}${String(serial % 1_000_000).padStart(6, '0')}`;
  if (!country.photoIdNumber(id, number).ok) throw new Error(`made photo ID ${number}, which ${country.data.country.name}'s rule refuses`);
  return { type: id, number };
}
