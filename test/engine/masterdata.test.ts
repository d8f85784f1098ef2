import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCowinDate, localEpochDay } from '../../engine/dates.js';
import { keys } from '../../engine/keys.js';
import { loadCountry, MasterDataError, parseCountry, type CountryFile } from '../../engine/masterdata.js';
import { publishPlannedSessions } from '../../engine/seed.js';
import { plannedSessions } from '../../engine/sessions.js';
import { Status } from '../../engine/status.js';
import { generateCountry } from '../../masterdata/generate.js';
import { accountWithBeneficiaries } from '../support/booking.js';
import { testCountries, testCountry } from '../support/countries.js';
import { demoCountry, describe, expect, test } from '../support/fixtures.js';

const clone = (): CountryFile => structuredClone(demoCountry().data);

function problemsOf(raw: unknown): string[] {
  try {
    parseCountry(raw, 'test.json');
  } catch (err) {
    if (err instanceof MasterDataError) return err.problems;
    throw err;
  }
  return [];
}

describe('the country file', () => {
  test('the demo country is realistic: 2+ states, 5+ districts, 50+ centres, sessions every day of the coming week', () => {
    const country = demoCountry();
    expect(country.data.states.length).toBeGreaterThanOrEqual(2);
    expect(country.data.districts.length).toBeGreaterThanOrEqual(5);
    expect(country.data.centers.length).toBeGreaterThanOrEqual(50);
    for (const d of country.data.districts) expect(country.centersByDistrict.get(d.district_id)?.length, d.district_name).toBeGreaterThan(0);
    const today = localEpochDay(Date.now(), country.timeZone);
    const planned = plannedSessions(country, today, 7);
    expect(new Set(planned.map((s) => s.date)).size).toBe(7);
    expect(planned.length).toBeGreaterThan(300);
  });

  test('errors name the bad field', () => {
    const badReference = clone();
    badReference.centers[3]!.district_id = 999;
    expect(problemsOf(badReference)).toContain('centers[3].district_id: 999 is not a district');

    const badType = clone() as unknown as { rules: { otp: { length: unknown } } };
    badType.rules.otp.length = 'six';
    expect(problemsOf(badType).join('\n')).toMatch(/^rules\.otp\.length: /m);

    const typo = clone() as unknown as { rules: Record<string, unknown> };
    typo.rules.booking_cutof_hour = 15;
    expect(problemsOf(typo).join('\n')).toMatch(/rules.*booking_cutof_hour/);

    const rate = clone() as unknown as { rules: { fair_admission: { admission_rate: unknown } } };
    rate.rules.fair_admission.admission_rate = 0;
    expect(problemsOf(rate).join('\n')).toMatch(/^rules\.fair_admission\.admission_rate: /m);

    const zone = clone();
    zone.country.timezone = 'Asia/Atlantis';
    expect(problemsOf(zone)).toContain('country.timezone: not a known IANA time zone');

    const vaccine = clone();
    vaccine.centers[0]!.sessions[0]!.vaccine = 'PLACEBO';
    expect(problemsOf(vaccine)).toContain('centers[0].sessions[0].vaccine: PLACEBO is not a vaccine');

    const duplicate = clone();
    duplicate.districts.push({ ...duplicate.districts[0]! });
    expect(problemsOf(duplicate).join('\n')).toMatch(/districts\[\d+\]: id \d+ repeats districts\[0\]/);

    const slot = clone();
    slot.rules.slots[0] = '9 to 11';
    expect(problemsOf(slot).join('\n')).toMatch(/^rules\.slots\[0\]: expected a slot label/m);
  });

  test("the rules a country sets are checked against each other: PIN search and pincodes, schedules, ages, currency, mobiles", () => {
    const noPin = clone();
    delete noPin.centers[4]!.pincode;
    expect(problemsOf(noPin)).toEqual(['centers[4].pincode: required while rules.search_by_pincode is on']);
    noPin.rules.search_by_pincode = false;
    expect(problemsOf(noPin)).toEqual([]);

    const schedules = clone();
    schedules.vaccines[0] = { ...schedules.vaccines[0]!, doses: 1 };
    delete schedules.vaccines[1]!.dose2_after_days;
    expect(problemsOf(schedules)).toEqual([
      'vaccines[0].dose2_after_days: a single-dose vaccine (doses 1) has no dose 2',
      'vaccines[1].dose2_after_days: required for a two-dose vaccine',
    ]);

    const young = clone();
    young.centers[0]!.sessions[0]!.min_age_limit = 12;
    expect(problemsOf(young)).toEqual([`centers[0].sessions[0].min_age_limit: 12 is below ${young.centers[0]!.sessions[0]!.vaccine}'s min_age ${young.vaccines.find((v) => v.name === young.centers[0]!.sessions[0]!.vaccine)!.min_age}`]);

    const noCurrency = clone();
    delete noCurrency.country.currency;
    expect(problemsOf(noCurrency)).toEqual([expect.stringMatching(/^country\.currency: required, since \d+ centres \(centers\[\d+\], .*\) are Paid$/)]);

    const mobiles = clone();
    mobiles.rules.mobile.example = '5123456789';
    mobiles.demo = { test_mobile_prefix: '5555' };
    expect(problemsOf(mobiles)).toEqual([
      'rules.mobile.example: "5123456789" is not 10 digits starting with 6, 7, 8 or 9',
      'demo.test_mobile_prefix: no mobile number starting 5555 is 10 digits starting with 6, 7, 8 or 9 (rules.mobile)',
    ]);
  });

  test('every problem at once: wrong shapes and wrong references together, each named once', () => {
    const broken = clone() as unknown as Record<string, any>;
    broken.rules.mobile.digits = 'ten';
    broken.centers[2].lat = 123;
    broken.centers[3].district_id = 999;
    broken.centers[5].sessions[0].vaccine = 'PLACEBO';
    delete broken.centers[6].district_id;
    expect(problemsOf(broken)).toEqual([
      'rules.mobile.digits: Invalid input: expected number, received string',
      'centers[2].lat: Too big: expected number to be <=90',
      'centers[6].district_id: Invalid input: expected number, received undefined',
      'centers[3].district_id: 999 is not a district',
      'centers[5].sessions[0].vaccine: PLACEBO is not a vaccine',
    ]);
  });

  test('each photo ID type says how its numbers are written: one normal form per document', () => {
    const country = demoCountry();
    const idOf = (type: string) => country.data.photo_id_types.find((t) => t.type === type)!.id;
    const aadhaar = idOf('Aadhaar Card');
    for (const written of ['1234 5678 9012', '1234-5678-9012', '123456789012', ' 1234 5678-9012 ']) {
      expect(country.photoIdNumber(aadhaar, written), written).toEqual({ ok: true, normal: '123456789012' });
    }
    for (const written of ['----', '1234 5678 901', '1234 5678 90123', '1234.5678.9012', 'ABCD 5678 9012']) {
      expect(country.photoIdNumber(aadhaar, written), written).toEqual({ ok: false, expected: '12 digits for Aadhaar Card, like 1234 5678 9012' });
    }
    expect(country.photoIdNumber(idOf('PAN Card'), 'abcde 1234f')).toEqual({ ok: true, normal: 'ABCDE1234F' });
    expect(country.photoIdNumber(idOf('PAN Card'), 'ABCD-1234F').ok).toBe(false);
    expect(country.photoIdNumber(idOf('Passport'), 'k1234567')).toEqual({ ok: true, normal: 'K1234567' });
    expect(country.photoIdNumber(idOf('Voter ID'), 'ABC/1234567')).toEqual({ ok: true, normal: 'ABC1234567' });
    expect(country.photoIdNumber(999, '123456789012').ok).toBe(false);
    // every type in the file has a rule, and the file's own example of it passes
    for (const type of country.data.photo_id_types) expect(country.photoIdNumber(type.id, type.number.example).ok, type.type).toBe(true);

    const badExample = clone();
    badExample.photo_id_types[0]!.number.example = '1234 5678';
    expect(problemsOf(badExample)).toContain('photo_id_types[0].number.example: "1234 5678" does not match its own pattern after dropping separators');
    const badPattern = clone();
    badPattern.photo_id_types[1]!.number.pattern = '[0-9';
    expect(problemsOf(badPattern)).toContain('photo_id_types[1].number.pattern: not a valid regular expression');
    const missing = clone() as unknown as { photo_id_types: Record<string, unknown>[] };
    delete missing.photo_id_types[2]!.number;
    expect(problemsOf(missing).join('\n')).toMatch(/^photo_id_types\[2\]\.number: /m);
  });

  test('a file that is missing or not JSON gets a readable error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'teeka-country-'));
    expect(() => loadCountry(join(dir, 'missing.json'))).toThrow(/missing\.json is not a valid country file:\n {2}- cannot read the file/);
    writeFileSync(join(dir, 'broken.json'), '{"country": ');
    expect(() => loadCountry(join(dir, 'broken.json'))).toThrow(/not valid JSON/);
  });

  test('the generator writes a valid country of the size asked for', () => {
    const country = parseCountry(generateCountry({ states: 3, districts: 20, centersPerDistrict: 5, seed: 7 }));
    expect([country.data.states.length, country.data.districts.length, country.data.centers.length]).toEqual([3, 20, 100]);
    expect(JSON.stringify(generateCountry({ states: 3, districts: 20, centersPerDistrict: 5, seed: 7 }))).toBe(
      JSON.stringify(generateCountry({ states: 3, districts: 20, centersPerDistrict: 5, seed: 7 })),
    );
  });
});

describe.each(testCountries())('the country file $name', ({ country }) => {
  test.override({ country });

  test('is valid and usable: every district has centres, and the plans give sessions on each of the coming 7 days', () => {
    for (const d of country.data.districts) expect(country.centersByDistrict.get(d.district_id)?.length, d.district_name).toBeGreaterThan(0);
    for (const s of country.data.states) expect(country.districtsByState.get(s.state_id)?.length, s.state_name).toBeGreaterThan(0);
    const planned = plannedSessions(country, localEpochDay(Date.now(), country.timeZone), 7);
    expect(new Set(planned.map((s) => s.date)).size).toBe(7);
  });

  test('its plans publish for 7 days, every one accepted; publishing again changes nothing', async ({ engine, redis }) => {
    const first = await publishPlannedSessions(engine, engine.today(), 7);
    expect(first.refused).toEqual([]);
    expect(first.published).toBe(plannedSessions(country, engine.today(), 7).length);
    const outboxAfterFirst = await redis.xlen(keys.outbox());
    const second = await publishPlannedSessions(engine, engine.today(), 7);
    expect(second).toMatchObject({ published: 0, unchanged: first.published, refused: [] });
    expect(await redis.xlen(keys.outbox())).toBe(outboxAfterFirst);
  });
});

describe('the Guyana demo is as different from India as the country is', () => {
  const { country } = testCountry('guyana');
  const data = country.data;

  test('10 regions, called Regions, with areas; no postal codes and PIN search off', () => {
    expect(data.states).toHaveLength(10);
    expect(data.country.admin_levels).toEqual({ state: 'Region', district: 'Area' });
    expect(data.rules.search_by_pincode).toBe(false);
    expect(data.centers.every((c) => c.pincode === undefined)).toBe(true);
    expect(country.pincodeOf(data.centers[0]!)).toBe(0);
  });

  test('7-digit mobiles starting with 6 under +592; the demo test numbers start 699', () => {
    expect(data.rules.mobile).toMatchObject({ country_code: '592', digits: 7 });
    expect(['6091234', '6999999'].map((m) => country.mobile.accepts(m))).toEqual([true, true]);
    expect(['609123', '60912345', '5091234', '9999000'].map((m) => country.mobile.accepts(m))).toEqual([false, false, false, false]);
    expect(data.demo?.test_mobile_prefix).toBe('699');
  });

  test('America/Guyana time, English only, fees in Guyana dollars, its own ID types', () => {
    expect([data.country.timezone, data.country.languages, data.country.currency]).toEqual(['America/Guyana', ['en'], 'GYD']);
    expect(data.photo_id_types.map((t) => t.type)).toEqual(['National ID Card', 'Passport', "Driver's Licence"]);
    const id = (type: string) => data.photo_id_types.find((t) => t.type === type)!.id;
    expect(country.photoIdNumber(id('National ID Card'), '123-456-789')).toEqual({ ok: true, normal: '123456789' });
    expect(country.photoIdNumber(id('Passport'), 'r0123456')).toEqual({ ok: true, normal: 'R0123456' });
    expect(country.photoIdNumber(id('National ID Card'), '1234 5678 9012').ok).toBe(false);
  });

  test('a single-dose vaccine, a 21-day two-dose vaccine given from 12, boosters', () => {
    const janssen = country.vaccinesByName.get('JANSSEN')!;
    expect([janssen.doses, janssen.dose2_after_days, janssen.precaution_after_days]).toEqual([1, undefined, 60]);
    expect(country.primaryDoses('JANSSEN')).toBe(1);
    const pfizer = country.vaccinesByName.get('PFIZER')!;
    expect([pfizer.doses, pfizer.dose2_after_days, pfizer.min_age]).toEqual([2, 21, 12]);
    expect(data.vaccines.every((v) => v.precaution_after_days !== undefined)).toBe(true);
    expect(data.centers.some((c) => c.sessions.some((s) => s.vaccine === 'PFIZER' && s.min_age_limit === 12))).toBe(true);
  });
});

describe('seeding and adopting', () => {
  test('another country adopts teeka with its own file: its slots, time zone and rules apply', async ({ makeEngine, clock }) => {
    const demo = clone();
    const country = parseCountry({
      ...demo,
      country: { code: 'DE', name: 'Germany', timezone: 'Europe/Berlin' },
      rules: { ...demo.rules, beneficiaries_per_account: 2, booking_cutoff_hour: 0, slots: ['08:00AM-12:00PM', '01:00PM-05:00PM'] },
      vaccines: [{ name: 'COMIRNATY', dose2_after_days: 21, precaution_after_days: 180 }],
      states: [{ state_id: 1, state_name: 'Berlin' }],
      districts: [{ district_id: 11, district_name: 'Mitte', state_id: 1 }],
      centers: [
        {
          center_id: 1,
          name: 'Impfzentrum Messe',
          address: 'Messedamm 22',
          district_id: 11,
          block_name: 'Westend',
          pincode: 14055,
          lat: 52.5,
          long: 13.27,
          from: '08:00:00',
          to: '17:00:00',
          fee_type: 'Free',
          sessions: [{ vaccine: 'COMIRNATY', min_age_limit: 12, capacity_dose1: 2, capacity_dose2: 2 }],
        },
      ],
    });
    clock.ms = Date.UTC(2026, 2, 28, 12); // the day before the spring DST change in Berlin
    const engine = makeEngine({ country });
    const seeded = await publishPlannedSessions(engine, engine.today(), 3);
    expect(seeded.published).toBe(3);
    const [session] = await engine.loadSessions(engine.today() + 1, engine.today() + 1);
    expect(session!.slots).toEqual(['08:00AM-12:00PM', '01:00PM-05:00PM']);
    expect(formatCowinDate(session!.date)).toBe('29-03-2026');
    expect(session!.day_end - session!.day_start).toBe(23 * 3_600_000); // the short DST day
    // cutoff hour 0: bookings for a day close at local midnight before it
    expect(session!.cutoff_at).toBe(session!.day_start);

    const family = await accountWithBeneficiaries(engine, 2, 2010);
    const third = await engine.addBeneficiary(family.accountId, {
      name: 'Drei',
      birth_year: 2000,
      gender_id: 1,
      photo_id_type: 1,
      photo_id_number: '3000 0000 0003',
      comorbidity_ind: 'N',
      consent_version: 'V1',
    });
    expect(third).toMatchObject({ ok: false, status: Status.BENEFICIARY_LIMIT });
    const booked = await engine.book({
      accountId: family.accountId,
      sessionId: session!.session_id,
      slot: '08:00AM-12:00PM',
      dose: 1,
      beneficiaryIds: family.beneficiaryIds,
    });
    expect(booked.ok).toBe(true);
  });
});
