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

describe('seeding and adopting', () => {
  test('publishing the demo plans for 7 days, then again: the second run changes nothing', async ({ engine, redis }) => {
    const first = await publishPlannedSessions(engine, engine.today(), 7);
    expect(first.refused).toEqual([]);
    expect(first.published).toBeGreaterThan(300);
    const outboxAfterFirst = await redis.xlen(keys.outbox());
    const second = await publishPlannedSessions(engine, engine.today(), 7);
    expect(second).toMatchObject({ published: 0, unchanged: first.published, refused: [] });
    expect(await redis.xlen(keys.outbox())).toBe(outboxAfterFirst);
    const loaded = await engine.loadSessions(engine.today(), engine.today() + 6);
    expect(loaded).toHaveLength(first.published);
  });

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
