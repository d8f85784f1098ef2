/**
 * A citizen's whole journey through the real gateway, for every country file in masterdata/ (the
 * demo India and Guyana): login with the country's mobile numbers, registration with its ID types,
 * search in its calendar (PIN search on or off as its file says), booking, rescheduling, the slip,
 * cancelling, vaccination, dose 2, the booster, the single-dose vaccine, the search quota, and the
 * citizen page's country settings. One test file, parameterised by country, not one per country.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BookingEngine } from '../../engine/engine.js';
import { formatCowinDate } from '../../engine/dates.js';
import { readJws, summarize } from '../../engine/health-card.js';
import type { Center } from '../../engine/masterdata.js';
import { check, COWIN_PUBLIC_API } from '../support/cowin-schema.js';
import { nextPhotoIdOf, singleDoseVaccine, testCountries, testCountry, twoDoseVaccine } from '../support/countries.js';
import { CowinClient, startGateway, testMobile, type RunningGateway } from '../support/gateway.js';

/** Searches see new sessions through the availability stream: ask until the answer shows what is expected. */
async function eventually(client: CowinClient, path: string, predicate: (body: any) => boolean) {
  for (let i = 0; i < 60; i++) {
    const response = await client.get(path);
    if (response.status === 200 && predicate(response.json)) return response;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never saw the expected answer at ${path}`);
}

/**
 * What CoWIN's published schema finds wrong with an answer, but for the bounds it puts on lat and
 * long: those are India's, and another country's centres lie elsewhere.
 */
function schemaProblems(schema: keyof typeof COWIN_PUBLIC_API, body: unknown, countryCode: string): string[] {
  const problems = check(COWIN_PUBLIC_API[schema]!, body);
  return countryCode === 'IN' ? problems : problems.filter((p) => !/\.(lat|long): -?[\d.]+ is (below|above) /.test(p));
}

let vaccinatorSeq = 0;
/** A vaccinator of the centres the journey books at (the first two of the file), with credentials the demo admin issues. */
async function vaccinator(gateway: RunningGateway): Promise<CowinClient> {
  const admin = new CowinClient(gateway.url);
  admin.token = (await admin.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' })).json.token;
  const operatorId = `vax-${process.pid}-${++vaccinatorSeq}`;
  const centerIds = gateway.engine.country.data.centers.slice(0, 2).map((c) => c.center_id);
  const issued = await admin.post('/teeka/admin/operators', { operator_id: operatorId, role: 'vaccinator', center_ids: centerIds });
  expect(issued.status, issued.text).toBe(200);
  const client = new CowinClient(gateway.url);
  const login = await client.post('/teeka/auth/operator', { operator_id: operatorId, secret: issued.json.secret });
  expect(login.status, login.text).toBe(200);
  client.token = login.json.token;
  return client;
}

/** The security code a booking answer gave for a beneficiary (the citizen reads it from the slip). */
const codeOf = (booked: { json: { security_codes: { beneficiary_reference_id: string; security_code: string }[] } }, id: string): string =>
  booked.json.security_codes.find((c) => c.beneficiary_reference_id === id)!.security_code;

describe.each(testCountries())('$name', (testing) => {
  const { country } = testing;
  const data = country.data;
  const vaccine = twoDoseVaccine(country);
  const single = singleDoseVaccine(country);
  const [centerA, centerB] = data.centers as [Center, Center];
  const slotsA = country.slotsOf(centerA);
  const slotsB = country.slotsOf(centerB);
  let gateway: RunningGateway;
  let today: number;
  const sessions: Record<string, string> = {};

  /** A citizen logged in with a test number of the country, with one beneficiary of the country's ID type. */
  async function citizenWithBeneficiary(name: string, birthYear = 1990): Promise<{ client: CowinClient; id: string }> {
    const client = await new CowinClient(gateway.url).login(testMobile(country));
    const photoId = nextPhotoIdOf(country);
    return { client, id: await client.addBeneficiary(name, birthYear, photoId.number, photoId.type) };
  }

  beforeAll(async () => {
    gateway = await startGateway({}, { country: testing });
    today = gateway.engine.today();
    const publish = async (key: string, center: Center, date: number, name = vaccine.name) => {
      const outcome = await gateway.engine.publishSession({ center_id: center.center_id, date, vaccine: name, min_age_limit: 18, capacity_dose1: 10, capacity_dose2: 10 });
      if (!outcome.ok) throw new Error(`publish ${key}: ${outcome.status}`);
      sessions[key] = outcome.sessionId;
    };
    await publish('today', centerA, today);
    await publish('tomorrowB', centerB, today + 1);
    await publish('lastDay', centerA, today + data.rules.calendar_days - 1);
    await publish('pastCalendar', centerA, today + data.rules.calendar_days);
    await publish('dose2', centerA, today + vaccine.dose2_after_days!);
    await publish('booster', centerA, today + vaccine.dose2_after_days! + vaccine.precaution_after_days!);
    if (single) {
      await publish('singleToday', centerA, today, single.name);
      await publish('singleLater', centerA, today + 30, single.name);
      await publish('singleBooster', centerA, today + single.precaution_after_days!, single.name);
    }
  });
  afterAll(() => gateway?.stop());

  it("logs in with the country's mobile numbers, and refuses other shapes naming the format", async () => {
    const client = new CowinClient(gateway.url);
    const rule = country.mobile;
    for (const mobile of ['5'.padEnd(data.rules.mobile.digits, '0'), testMobile(country) + '1', `+${data.rules.mobile.country_code}${testMobile(country)}`]) {
      const refused = await client.post('/api/v2/auth/generateMobileOTP', { mobile });
      expect(refused.status, mobile).toBe(400);
      expect(refused.json).toEqual({ errorCode: 'GENVAL0001', error: `mobile: expected a mobile number of ${rule.format}, without the country code` });
    }
    await client.login(testMobile(country));
    expect(client.token.split('.')).toHaveLength(3);
  });

  it("answers the country's own reference lists: its first-level places, second-level places, genders and ID types", async () => {
    const client = new CowinClient(gateway.url);
    const states = await client.get('/api/v2/admin/location/states');
    expect(schemaProblems('states', states.json, data.country.code)).toEqual([]);
    expect(states.json.states.map((s: any) => s.state_name)).toEqual(data.states.map((s) => s.state_name));
    const first = data.states[0]!;
    const districts = await client.get(`/api/v2/admin/location/districts/${first.state_id}`);
    expect(districts.json.districts.map((d: any) => d.district_id)).toEqual(country.districtsByState.get(first.state_id)!.map((d) => d.district_id));
    expect((await client.get('/api/v2/registration/beneficiary/genders')).json.genders.map((g: any) => g.gender)).toEqual(data.genders.map((g) => g.name));
    expect((await client.get('/api/v2/registration/beneficiary/idTypes')).json.types).toEqual(data.photo_id_types.map((t) => ({ id: t.id, type: t.type })));
  });

  it("registers with the country's ID types and numbers, up to its beneficiaries per account", async () => {
    const { client, id } = await citizenWithBeneficiary('First Person');
    const type = data.photo_id_types[0]!;
    const wrong = await client.post('/api/v2/registration/beneficiary/new', {
      name: 'Wrong Number',
      birth_year: '1990',
      gender_id: data.genders[0]!.id,
      photo_id_type: type.id,
      photo_id_number: '12-34',
      comorbidity_ind: 'N',
      consent_version: 'V1',
    });
    expect(wrong.json).toEqual({ errorCode: 'GENVAL0001', error: `photo_id_number: expected ${type.number.format} for ${type.type}, like ${type.number.example}` });
    for (let i = 1; i < data.rules.beneficiaries_per_account; i++) {
      const photoId = nextPhotoIdOf(country);
      await client.addBeneficiary(`Person ${'ABCDEFGHIJKLMNOPQRST'[i]}`, 1990, photoId.number, photoId.type);
    }
    const photoId = nextPhotoIdOf(country);
    const over = await client.post('/api/v2/registration/beneficiary/new', {
      name: 'One Too Many',
      birth_year: '1990',
      gender_id: data.genders[0]!.id,
      photo_id_type: photoId.type,
      photo_id_number: photoId.number,
      comorbidity_ind: 'N',
      consent_version: 'V1',
    });
    expect([over.status, over.json.errorCode]).toEqual([409, 'BENREG0010']);
    const listed = (await client.get('/api/v2/appointment/beneficiaries')).json.beneficiaries;
    expect(listed).toHaveLength(data.rules.beneficiaries_per_account);
    expect(listed[0]).toMatchObject({ beneficiary_reference_id: id, photo_id_type: data.photo_id_types.find((t) => t.id === photoId.type)!.type });
  });

  it("searches the calendar of the country's days: calendar_days from the date, centres with their pincode (0 without one)", async () => {
    const client = new CowinClient(gateway.url);
    const path = `/api/v2/appointment/sessions/public/calendarByDistrict?district_id=${centerA.district_id}&date=${formatCowinDate(today)}`;
    const response = await eventually(client, path, (b) => b.centers.some((c: any) => c.sessions.some((s: any) => s.session_id === sessions.lastDay)));
    expect(schemaProblems('calendar', response.json, data.country.code)).toEqual([]);
    const center = response.json.centers.find((c: any) => c.center_id === centerA.center_id);
    expect(center.pincode).toBe(country.pincodeOf(centerA));
    const ids = center.sessions.map((s: any) => s.session_id);
    expect(ids).toContain(sessions.today);
    expect(ids).toContain(sessions.lastDay);
    expect(ids).not.toContain(sessions.pastCalendar);
    const dates = response.json.centers.flatMap((c: any) => c.sessions.map((s: any) => s.date));
    expect(Math.max(...dates.map((d: string) => Number(d.split('-').reverse().join(''))))).toBe(Number(formatCowinDate(today + data.rules.calendar_days - 1).split('-').reverse().join('')));
  });

  it.runIf(data.rules.search_by_pincode)('searches by PIN code where the country has them', async () => {
    const client = new CowinClient(gateway.url);
    const path = `/api/v2/appointment/sessions/public/findByPin?pincode=${centerA.pincode}&date=${formatCowinDate(today)}`;
    const response = await eventually(client, path, (b) => b.sessions.some((s: any) => s.session_id === sessions.today));
    expect(schemaProblems('find', response.json, data.country.code)).toEqual([]);
  });

  it.runIf(!data.rules.search_by_pincode)("answers every PIN search with CoWIN's invalid-pincode code saying it is not offered, without using the search quota", async () => {
    const client = await new CowinClient(gateway.url).login(testMobile(country));
    const expected = {
      errorCode: 'APPOIN0018',
      error: `Search by PIN code is not offered in ${data.country.name}. Search by district_id (findByDistrict, calendarByDistrict) or center_id (calendarByCenter)`,
    };
    for (const kind of ['findByPin', 'calendarByPin']) {
      for (const path of [`/api/v2/appointment/sessions/public/${kind}`, `/api/v2/appointment/sessions/${kind}`]) {
        const answer = await client.get(`${path}?pincode=110001&date=${formatCowinDate(today)}`);
        expect([answer.status, answer.json], path).toEqual([400, expected]);
      }
    }
    const district = await client.get(`/api/v2/appointment/sessions/calendarByDistrict?district_id=${centerA.district_id}&date=${formatCowinDate(today)}`);
    expect(district.headers.get('x-ratelimit-remaining')).toBe(String(data.rules.search_quota.max_per_window - 1));
  });

  it('books, reschedules to another centre, prints the slip and cancels', async () => {
    const { client, id } = await citizenWithBeneficiary('Booking Person');
    const booked = await client.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessions.tomorrowB, slot: slotsB[0], beneficiaries: [id] });
    expect(booked.status, booked.text).toBe(200);
    const appointmentId = booked.json.appointment_confirmation_no;
    const listed = (await client.get('/api/v2/appointment/beneficiaries')).json.beneficiaries[0];
    expect(listed.appointments).toMatchObject([{ appointment_id: appointmentId, center_id: centerB.center_id, pincode: country.pincodeOf(centerB), date: formatCowinDate(today + 1), slot: slotsB[0] }]);

    // to another centre, on the calendar's last day: allowed until the appointment's day begins
    const moved = await client.post('/api/v2/appointment/reschedule', { appointment_id: appointmentId, session_id: sessions.lastDay, slot: slotsA[slotsA.length - 1] });
    expect(moved.status, moved.text).toBe(204);
    const slip = await fetch(`${gateway.url}/api/v2/appointment/appointmentslip/download?appointment_id=${appointmentId!}`, { headers: { authorization: `Bearer ${client.token}` } });
    expect(slip.status).toBe(200);
    expect(Buffer.from(await slip.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');

    const cancelled = await client.post('/api/v2/appointment/cancel', { appointment_id: appointmentId, beneficiariesToCancel: [id] });
    expect(cancelled.status).toBe(204);
    expect((await gateway.engine.getSession(sessions.lastDay!))!.booked1).toBe(0);
  });

  it(`vaccinates dose 1 today, books dose 2 after ${vaccine.dose2_after_days} days and the booster ${vaccine.precaution_after_days} days after that`, async () => {
    const { client, id } = await citizenWithBeneficiary('Two Doses');
    const first = await client.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessions.today, slot: slotsA[0], beneficiaries: [id] });
    expect(first.status, first.text).toBe(200);
    const vax = await vaccinator(gateway);
    const done = await vax.post('/teeka/vaccinator/vaccinate', { appointment_id: first.json.appointment_confirmation_no, beneficiary_reference_id: id, security_code: codeOf(first, id) });
    expect([done.status, done.json]).toEqual([200, { dose: 1, vaccine: vaccine.name, date: formatCowinDate(today), certificate_id: expect.any(String) }]);
    let ben = (await client.get('/api/v2/appointment/beneficiaries')).json.beneficiaries[0];
    expect(ben).toMatchObject({ vaccination_status: 'Partially Vaccinated', vaccine: vaccine.name, dose1_date: formatCowinDate(today), dose2_date: '' });

    // too early for the booster; dose 2 on its day
    const early = await client.post('/api/v2/appointment/schedule', { dose: 3, session_id: sessions.booster, slot: slotsA[0], beneficiaries: [id] });
    expect([early.status, early.json.errorCode]).toEqual([409, 'APPOIN0024']);
    const second = await client.post('/api/v2/appointment/schedule', { dose: 2, session_id: sessions.dose2, slot: slotsA[0], beneficiaries: [id] });
    expect(second.status, second.text).toBe(200);
    // the vaccinator records dose 2 on its day (the gateway's clock cannot move: an engine on that day does)
    const dose2Session = (await gateway.engine.getSession(sessions.dose2!))!;
    const onTheDay = new BookingEngine(gateway.redis, { country, secret: 'teeka-demo-secret-do-not-use-in-production', clock: () => dose2Session.day_start + 10 * 3_600_000, layout: gateway.engine.layout });
    expect(
      await onTheDay.markVaccinated({ appointmentId: second.json.appointment_confirmation_no, beneficiaryId: id, securityCode: codeOf(second, id), vaccinatorId: 'vax-1', centerIds: [dose2Session.center_id] }),
    ).toMatchObject({ ok: true, dose: 2 });
    ben = (await client.get('/api/v2/appointment/beneficiaries')).json.beneficiaries[0];
    expect(ben).toMatchObject({ vaccination_status: 'Vaccinated', dose2_date: formatCowinDate(dose2Session.date) });

    const booster = await client.post('/api/v2/appointment/schedule', { dose: 3, session_id: sessions.booster, slot: slotsA[0], beneficiaries: [id] });
    expect(booster.status, booster.text).toBe(200);
    ben = (await client.get('/api/v2/appointment/beneficiaries')).json.beneficiaries[0];
    expect(ben.appointments).toMatchObject([{ dose: 3, session_id: sessions.booster }]);
  });

  it.runIf(single)(`the single-dose ${single?.name}: Vaccinated after dose 1, dose 2 refused, its booster after ${single?.precaution_after_days} days`, async () => {
    const { client, id } = await citizenWithBeneficiary('One Dose');
    const booked = await client.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessions.singleToday, slot: slotsA[1], beneficiaries: [id] });
    expect(booked.status, booked.text).toBe(200);
    const vax = await vaccinator(gateway);
    const done = await vax.post('/teeka/vaccinator/vaccinate', { appointment_id: booked.json.appointment_confirmation_no, beneficiary_reference_id: id, security_code: codeOf(booked, id) });
    expect([done.status, done.json]).toEqual([200, { dose: 1, vaccine: single!.name, date: formatCowinDate(today), certificate_id: expect.any(String) }]);
    // the certificate says the series is complete: dose 1 of 1, with the vaccine's own CVX code
    const card = summarize(readJws((await gateway.redis.hget(gateway.engine.records.certificate(done.json.certificate_id), 'jws'))!).payload);
    expect(card).toMatchObject({ dose: 1, seriesDoses: 1, vaccine: single!.name });
    const seen = await vax.get(`/teeka/vaccinator/appointments/${booked.json.appointment_confirmation_no}`);
    expect(seen.json.beneficiaries[0]).toMatchObject({ appointment_status: 'vaccinated', vaccination_status: 'Vaccinated' });
    const ben = (await client.get('/api/v2/appointment/beneficiaries')).json.beneficiaries[0];
    expect(ben).toMatchObject({ vaccination_status: 'Vaccinated', vaccine: single!.name, dose1_date: formatCowinDate(today), dose2_date: '' });

    const dose2 = await client.post('/api/v2/appointment/schedule', { dose: 2, session_id: sessions.singleLater, slot: slotsA[0], beneficiaries: [id] });
    expect([dose2.status, dose2.json]).toEqual([409, { errorCode: 'APPOIN0036', error: `This vaccine's schedule has no such dose (a single-dose vaccine has no dose 2) (beneficiary ${id})` }]);
    const booster = await client.post('/api/v2/appointment/schedule', { dose: 3, session_id: sessions.singleBooster, slot: slotsA[0], beneficiaries: [id] });
    expect(booster.status, booster.text).toBe(200);
  });

  it(`logs a citizen out after ${data.rules.search_quota.max_per_window} searches in ${data.rules.search_quota.window_seconds / 60} minutes`, async () => {
    const client = await new CowinClient(gateway.url).login(testMobile(country));
    const path = `/api/v2/appointment/sessions/calendarByDistrict?district_id=${centerA.district_id}&date=${formatCowinDate(today)}`;
    for (let i = 1; i <= data.rules.search_quota.max_per_window; i++) {
      const answer = await client.get(path);
      expect(answer.headers.get('x-ratelimit-remaining'), `search ${i}`).toBe(String(data.rules.search_quota.max_per_window - i));
    }
    const out = await client.get(path);
    expect([out.status, out.json.errorCode]).toEqual([401, 'USRAUT0030']);
  });

  it("gives the citizen page the country's words, languages, mobile rule, currency, PIN search, vaccine schedules and demo numbers", async () => {
    const html = await (await fetch(`${gateway.url}/`)).text();
    const config = JSON.parse(/<script type="application\/json" id="teeka-config">(.*?)<\/script>/s.exec(html)![1]!);
    expect(config).toMatchObject({
      countryName: data.country.name,
      timeZone: data.country.timezone,
      countryCode: data.country.code,
      languages: data.country.languages.map((code) => expect.objectContaining({ code })),
      adminLevels: data.country.admin_levels,
      searchByPincode: data.rules.search_by_pincode,
      currency: data.country.currency,
      mobile: { countryCode: data.rules.mobile.country_code, digits: data.rules.mobile.digits, format: country.mobile.format },
      demoLogin: { prefix: data.demo!.test_mobile_prefix, otp: '123456' },
    });
    expect(config.vaccines).toEqual(
      data.vaccines.map((v) => ({ name: v.name, doses: v.doses, dose2AfterDays: v.dose2_after_days ?? null, precautionAfterDays: v.precaution_after_days ?? null })),
    );
    const pattern = new RegExp(config.mobile.pattern, 'u');
    expect([pattern.test(testMobile(country)), pattern.test(`${testMobile(country)}0`)]).toEqual([true, false]);
  });
});

describe('Guyana after 00:00 UTC: the gateway keeps the local day (still the evening before, UTC−4)', () => {
  const guyana = testCountry('guyana');
  const may1 = Date.UTC(2026, 4, 1) / 86_400_000;
  let gateway: RunningGateway;
  beforeAll(async () => {
    // 00:30 UTC on 2 May is 20:30 on 1 May in Georgetown
    gateway = await startGateway({}, { country: guyana, at: Date.UTC(2026, 4, 2, 0, 30) });
  });
  afterAll(() => gateway?.stop());

  it("vaccinates a 1 May appointment, refuses 1 May's closed bookings, and books 2 May", async () => {
    expect(gateway.engine.today()).toBe(may1);
    const center = guyana.country.data.centers[0]!;
    const slot = guyana.country.slotsOf(center)[0]!;
    const publish = async (date: number) => {
      const outcome = await gateway.engine.publishSession({ center_id: center.center_id, date, vaccine: 'PFIZER', min_age_limit: 18, capacity_dose1: 5, capacity_dose2: 5 });
      if (!outcome.ok) throw new Error('publish');
      return outcome.sessionId;
    };
    const may1Session = await publish(may1);
    const may2Session = await publish(may1 + 1);

    const mobile = testMobile(guyana.country);
    const client = await new CowinClient(gateway.url).login(mobile);
    const [early, late] = [nextPhotoIdOf(guyana.country), nextPhotoIdOf(guyana.country)];
    const id = await client.addBeneficiary('Evening Person', 1990, early.number, early.type);
    const second = await client.addBeneficiary('Late Person', 1990, late.number, late.type);
    // booked that morning (10:00 in Georgetown), by an engine on the morning's clock
    const morning = new BookingEngine(gateway.redis, { country: guyana.country, secret: 'teeka-demo-secret-do-not-use-in-production', clock: () => guyana.morning, layout: gateway.engine.layout });
    const booked = await morning.book({ accountId: gateway.engine.accountIdOf(mobile), sessionId: may1Session, slot, dose: 1, beneficiaryIds: [id] });
    if (!booked.ok) throw new Error(`morning booking: ${booked.status}`);

    // in UTC it is 2 May; in Guyana still 1 May: the vaccination is recorded on 1 May
    const vax = await vaccinator(gateway);
    const done = await vax.post('/teeka/vaccinator/vaccinate', { appointment_id: booked.appointmentId, beneficiary_reference_id: id, security_code: booked.securityCodes[0]!.code });
    expect([done.status, done.json]).toEqual([200, { dose: 1, vaccine: 'PFIZER', date: '01-05-2026', certificate_id: expect.any(String) }]);

    // 1 May's bookings closed at 13:00 local; 2 May's are open
    const closed = await client.post('/api/v2/appointment/schedule', { dose: 1, session_id: may1Session, slot, beneficiaries: [second] });
    expect([closed.status, closed.json.errorCode]).toEqual([409, 'APPOIN0013']);
    const open = await client.post('/api/v2/appointment/schedule', { dose: 1, session_id: may2Session, slot, beneficiaries: [second] });
    expect(open.status, open.text).toBe(200);
  });
});
