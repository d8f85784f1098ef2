/**
 * `npm run validate-country -- FILE…`, run as the command a country's team runs (the built script
 * in its own process): every problem of a file at once, each naming its field; exit 0 when every
 * file is valid, 1 when one is not, 2 without a file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../engine/config.js';
import { countryFiles } from '../support/countries.js';

const dir = mkdtempSync(join(tmpdir(), 'teeka-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function validate(...files: string[]) {
  const run = spawnSync(process.execPath, [join(projectRoot(), 'dist', 'scripts', 'validate-country.js'), ...files], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('validate-country', () => {
  it('passes every country file of masterdata/ and the template of docs/adopting.md, with a line that says what each holds', () => {
    const run = validate(...countryFiles(), join(projectRoot(), 'docs', 'country-template.json'));
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('guyana.json: valid. Guyana (demo) (GY, America/Guyana); 10 regions, 18 areas, 21 centres; 5 vaccines (single-dose: JANSSEN)');
    expect(run.stdout).toContain('mobiles +592 7 digits starting with 6; PIN search off; languages en');
    expect(run.stdout).toMatch(/demo-country\.json: valid\. India .*; 2 states, 6 districts, 60 centres;.*PIN search on; languages en, hi, kn/);
    expect(run.stdout).toContain('country-template.json: valid. Your country (ZZ, UTC); 1 state, 1 district, 1 centre; 1 vaccine;');
  });

  it('lists every problem of a broken file at once, naming each field, and exits 1', () => {
    const guyana = JSON.parse(readFileSync(join(projectRoot(), 'masterdata', 'guyana.json'), 'utf8'));
    guyana.country.timezone = 'America/Georgetown';
    guyana.rules.mobile.digits = 'seven';
    guyana.vaccines[4].dose2_after_days = 21;
    guyana.centers[7].sessions[0].min_age_limit = 5;
    guyana.centers[3].district_id = 999;
    delete guyana.country.currency;
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify(guyana));
    const run = validate(file, countryFiles()[0]!);
    expect(run.code).toBe(1);
    expect(run.stderr.split('\n')).toEqual([
      `${file}: 6 problems:`,
      '  - country.timezone: not a known IANA time zone',
      '  - rules.mobile.digits: Invalid input: expected number, received string',
      '  - vaccines[4].dose2_after_days: a single-dose vaccine (doses 1) has no dose 2',
      '  - country.currency: required, since centers[9] is Paid',
      '  - centers[3].district_id: 999 is not a district',
      "  - centers[7].sessions[0].min_age_limit: 5 is below PFIZER's min_age 12",
      '',
    ]);
    // the valid file named with it is still checked and reported
    expect(run.stdout).toMatch(/demo-country\.json: valid\./);
  });

  it('says why a file cannot be read at all, and how to call it without one', () => {
    writeFileSync(join(dir, 'half.json'), '{"country": ');
    const run = validate(join(dir, 'half.json'), join(dir, 'missing.json'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/half\.json: 1 problem:\n {2}- not valid JSON: /);
    expect(run.stderr).toMatch(/missing\.json: 1 problem:\n {2}- cannot read the file: ENOENT/);
    expect(validate()).toMatchObject({ code: 2, stderr: 'usage: npm run validate-country -- FILE [FILE…]\n' });
  });
});
