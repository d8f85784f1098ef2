/**
 * Checks country files and lists every problem of each at once, each naming its field, so a
 * country's team fixes a file in one pass rather than one error per start.
 *
 *   npm run validate-country -- masterdata/guyana.json [more files…]
 *
 * Exit 0 when every file is valid, 1 when any has a problem, 2 when no file is named.
 */
import { runAsCommand } from '../engine/command.js';
import { countryFileProblems, loadCountry, type Country } from '../engine/masterdata.js';
import { plannedSessions } from '../engine/sessions.js';

/** `1 centre`, `21 centres` */
const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One line about a valid country: what a reader checks it against. */
export function describeCountry(country: Country): string {
  const { data } = country;
  const levels = data.country.admin_levels;
  const singleDose = data.vaccines.filter((v) => v.doses === 1).map((v) => v.name);
  return [
    `${data.country.name} (${data.country.code}, ${data.country.timezone})`,
    `${count(data.states.length, levels.state.toLowerCase())}, ${count(data.districts.length, levels.district.toLowerCase())}, ${count(data.centers.length, 'centre')}`,
    `${count(data.vaccines.length, 'vaccine')}${singleDose.length ? ` (single-dose: ${singleDose.join(', ')})` : ''}`,
    `${plannedSessions(country, 0, 7).length} planned sessions a week`,
    `mobiles +${data.rules.mobile.country_code} ${country.mobile.format}`,
    `PIN search ${data.rules.search_by_pincode ? 'on' : 'off'}`,
    `languages ${data.country.languages.join(', ')}`,
  ].join('; ');
}

/** Check each file; print its problems or its summary. Returns the exit code. */
export function validateCountryFiles(files: string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): number {
  if (!files.length) {
    err('usage: npm run validate-country -- FILE [FILE…]');
    return 2;
  }
  let invalid = 0;
  for (const file of files) {
    const problems = countryFileProblems(file);
    if (problems.length) {
      invalid += 1;
      err(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:`);
      for (const problem of problems) err(`  - ${problem}`);
    } else {
      out(`${file}: valid. ${describeCountry(loadCountry(file))}`);
    }
  }
  return invalid ? 1 : 0;
}

runAsCommand(import.meta.url, 'validate-country', async () => validateCountryFiles(process.argv.slice(2)));
