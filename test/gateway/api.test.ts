/**
 * Every /api/v2 endpoint's happy path over real HTTP, checked field by field against CoWIN's shapes,
 * and teeka's own operator endpoints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layoutFrom } from '../../engine/config.js';
import { formatCowinDate } from '../../engine/dates.js';
import { sha256Hex } from '../../engine/ids.js';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';
import { pdfText } from '../support/pdf.js';
import { showsSecret } from '../support/secrets.js';

let gateway: RunningGateway;
let sessionId: string;
const DISTRICT = 140; // New Delhi in the demo country
let centerId: number;
let pincode: number;
let slots: string[];
let day: number;

beforeAll(async () => {
  gateway = await startGateway();
  const center = gateway.engine.country.centersByDistrict.get(DISTRICT)![0]!;
  centerId = center.center_id;
  pincode = center.pincode!;
  slots = gateway.engine.country.slotsOf(center);
  day = gateway.engine.today() + 1;
  const published = await gateway.engine.publishSession({
    center_id: centerId,
    date: day,
    vaccine: 'COVISHIELD',
    min_age_limit: 18,
    capacity_dose1: 30,
    capacity_dose2: 10,
  });
  if (!published.ok) throw new Error('publish failed');
  sessionId = published.sessionId;
});

afterAll(async () => {
  await gateway?.stop();
});

/** Searches see new sessions through the availability stream: wait until this one shows. */
async function waitForSession(client: CowinClient, path: string, predicate: (body: any) => boolean) {
  for (let i = 0; i < 50; i++) {
    const response = await client.get(path);
    if (response.status === 200 && predicate(response.json)) return response;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never saw the expected answer at ${path}`);
}

describe('metadata', () => {
  it('states and districts in CoWIN shapes', async () => {
    const client = new CowinClient(gateway.url);
    const states = await client.get('/api/v2/admin/location/states');
    expect(states.status).toBe(200);
    // with no Accept-Language the *_l names are the plain ones (test/gateway/cowin-compat.test.ts has the others)
    expect(states.json.states).toContainEqual({ state_id: 9, state_name: 'Delhi', state_name_l: 'Delhi' });
    expect(Object.keys(states.json.states[0]).sort()).toEqual(['state_id', 'state_name', 'state_name_l']);
    const districts = await client.get('/api/v2/admin/location/districts/9');
    expect(districts.status).toBe(200);
    expect(districts.json.districts).toContainEqual({ district_id: 140, district_name: 'New Delhi', district_name_l: 'New Delhi' });
    expect(districts.json.districts.every((d: object) => Object.keys(d).sort().join() === 'district_id,district_name,district_name_l')).toBe(true);
  });

  it('genders and photo ID types for registration', async () => {
    const client = new CowinClient(gateway.url);
    const genders = await client.get('/api/v2/registration/beneficiary/genders');
    expect(genders.json.genders).toEqual([
      { id: 1, gender: 'Male' },
      { id: 2, gender: 'Female' },
      { id: 3, gender: 'Others' },
    ]);
    const types = await client.get('/api/v2/registration/beneficiary/idTypes');
    expect(types.json.types[0]).toEqual({ id: 1, type: 'Aadhaar Card' });
  });
});

describe('public search', () => {
  it('calendarByDistrict: centres with 7 days of sessions, every CoWIN field', async () => {
    const client = new CowinClient(gateway.url);
    const date = formatCowinDate(day - 1);
    const response = await waitForSession(client, `/api/v2/appointment/sessions/public/calendarByDistrict?district_id=${DISTRICT}&date=${date}`, (b) =>
      b.centers.some((c: any) => c.center_id === centerId),
    );
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('cache-control')).toBe('public, max-age=1');
    const center = response.json.centers.find((c: any) => c.center_id === centerId);
    expect(Object.keys(center).sort()).toEqual(
      [
        ...['address', 'block_name', 'center_id', 'district_name', 'fee_type', 'from', 'lat', 'long', 'name', 'pincode', 'sessions', 'state_name', 'to'],
        ...['address_l', 'block_name_l', 'district_name_l', 'name_l', 'state_name_l'],
      ].sort(),
    );
    expect(center).toMatchObject({ district_name: 'New Delhi', state_name: 'Delhi', pincode, fee_type: 'Free', from: '09:00:00' });
    const session = center.sessions.find((s: any) => s.session_id === sessionId);
    expect(session).toEqual({
      session_id: sessionId,
      date: formatCowinDate(day),
      available_capacity: 40,
      available_capacity_dose1: 30,
      available_capacity_dose2: 10,
      available_capacity_dose3: 10,
      min_age_limit: 18,
      allow_all_age: false,
      vaccine: 'COVISHIELD',
      slots,
    });
  });

  it('findByPin and findByDistrict: flat sessions of one date with centre fields merged', async () => {
    const client = new CowinClient(gateway.url);
    for (const path of [
      `/api/v2/appointment/sessions/public/findByPin?pincode=${pincode}&date=${formatCowinDate(day)}`,
      `/api/v2/appointment/sessions/public/findByDistrict?district_id=${DISTRICT}&date=${formatCowinDate(day)}`,
    ]) {
      const response = await waitForSession(client, path, (b) => b.sessions.some((s: any) => s.session_id === sessionId));
      const session = response.json.sessions.find((s: any) => s.session_id === sessionId);
      expect(session).toMatchObject({
        center_id: centerId,
        state_name: 'Delhi',
        district_name: 'New Delhi',
        pincode,
        date: formatCowinDate(day),
        available_capacity: 40,
        available_capacity_dose1: 30,
        available_capacity_dose2: 10,
        available_capacity_dose3: 10,
        fee: '0',
        vaccine: 'COVISHIELD',
        slots,
      });
      expect(response.json.sessions.every((s: any) => s.date === formatCowinDate(day))).toBe(true);
    }
  });

  it('calendarByPin and calendarByCenter', async () => {
    const client = new CowinClient(gateway.url);
    const byPin = await client.get(`/api/v2/appointment/sessions/public/calendarByPin?pincode=${pincode}&date=${formatCowinDate(day)}`);
    expect(byPin.json.centers.map((c: any) => c.pincode).every((p: number) => p === pincode)).toBe(true);
    const byCenter = await client.get(`/api/v2/appointment/sessions/public/calendarByCenter?center_id=${centerId}&date=${formatCowinDate(day)}`);
    expect(byCenter.json.centers.center_id).toBe(centerId);
    expect(byCenter.json.centers.sessions.map((s: any) => s.session_id)).toContain(sessionId);
  });
});

describe('a citizen', () => {
  it('logs in (both OTP variants), registers, searches, books, reschedules, cancels, downloads the slip', async () => {
    const client = new CowinClient(gateway.url);
    const mobile = testMobile();
    const publicOtp = await client.post('/api/v2/auth/public/generateOTP', { mobile });
    expect(publicOtp.status).toBe(200);
    expect(publicOtp.json.txnId).toEqual(expect.any(String));
    const publicConfirm = await client.post('/api/v2/auth/public/confirmOTP', { otp: sha256Hex('123456'), txnId: publicOtp.json.txnId });
    expect(publicConfirm.status).toBe(200);
    expect(publicConfirm.json.token.split('.')).toHaveLength(3);
    await client.login(mobile);

    const id = await client.addBeneficiary('Asha Verma', 1985, testPhotoId());
    expect(id).toMatch(/^\d{14}$/);
    const list = await client.get('/api/v2/appointment/beneficiaries');
    expect(list.status).toBe(200);
    expect(list.json.beneficiaries[0]).toMatchObject({
      beneficiary_reference_id: id,
      name: 'Asha Verma',
      birth_year: '1985',
      gender: 'Male',
      photo_id_type: 'Aadhaar Card',
      comorbidity_ind: 'N',
      vaccination_status: 'Not Vaccinated',
      vaccine: '',
      dose1_date: '',
      dose2_date: '',
      appointments: [],
    });
    expect(list.json.beneficiaries[0].photo_id_number).toMatch(/^X+\d{4}$/);

    const protectedSearch = await client.get(`/api/v2/appointment/sessions/calendarByDistrict?district_id=${DISTRICT}&date=${formatCowinDate(day)}&vaccine=COVISHIELD`);
    expect(protectedSearch.status).toBe(200);
    expect(protectedSearch.headers.get('x-ratelimit-remaining')).toBe('19');
    expect(protectedSearch.json.centers.flatMap((c: any) => c.sessions).every((s: any) => s.vaccine === 'COVISHIELD')).toBe(true);

    const captcha = await client.post('/api/v2/auth/getRecaptcha', {});
    expect(captcha.status).toBe(200);
    expect(captcha.json.captcha).toMatch(/^<svg/);

    const booked = await client.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessionId, slot: slots[0], beneficiaries: [id], center_id: centerId });
    expect(booked.status).toBe(200);
    expect(Object.keys(booked.json)).toEqual(['appointment_confirmation_no', 'security_codes']);
    expect(booked.json.security_codes).toEqual([{ beneficiary_reference_id: id, security_code: expect.stringMatching(/^\d{4}$/) }]);
    const appointmentId = booked.json.appointment_confirmation_no;

    const withAppointment = await client.get('/api/v2/appointment/beneficiaries');
    expect(withAppointment.json.beneficiaries[0].appointments).toMatchObject([
      {
        appointment_id: appointmentId,
        center_id: centerId,
        name: gateway.engine.country.centersById.get(centerId)!.name,
        state_name: 'Delhi',
        district_name: 'New Delhi',
        block_name: gateway.engine.country.centersById.get(centerId)!.block_name,
        from: '09:00:00',
        to: gateway.engine.country.centersById.get(centerId)!.to,
        dose: 1,
        session_id: sessionId,
        date: formatCowinDate(day),
        slot: slots[0],
      },
    ]);

    const rescheduled = await client.post('/api/v2/appointment/reschedule', { appointment_id: appointmentId, session_id: sessionId, slot: slots[1] });
    expect(rescheduled.status).toBe(204);

    const slip = await fetch(`${gateway.url}/api/v2/appointment/appointmentslip/download?appointment_id=${appointmentId}`, {
      headers: { authorization: `Bearer ${client.token}` },
    });
    expect(slip.status).toBe(200);
    expect(slip.headers.get('content-type')).toBe('application/pdf');
    const pdf = Buffer.from(await slip.arrayBuffer());
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(1000);
    // the security code is printed on the slip (read back with poppler's pdftotext)
    expect(await pdfText(pdf)).toContain(`Security code: ${booked.json.security_codes[0].security_code}`);

    const cancelled = await client.post('/api/v2/appointment/cancel', { appointment_id: appointmentId, beneficiariesToCancel: [id] });
    expect(cancelled.status).toBe(204);
    const session = (await gateway.engine.getSession(sessionId))!;
    expect(session.booked1).toBe(0);

    const deleted = await client.post('/api/v2/registration/beneficiary/delete', { beneficiary_reference_id: id });
    expect(deleted.status).toBe(204);
    expect((await client.get('/api/v2/appointment/beneficiaries')).json.beneficiaries).toEqual([]);
  });

  it('an expired or forged token gets 401 "Unauthenticated access!"', async () => {
    const client = new CowinClient(gateway.url);
    client.token = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const response = await client.get('/api/v2/appointment/beneficiaries');
    expect(response.status).toBe(401);
    expect(response.json).toEqual({ errorCode: 'USRAUT0001', error: 'Unauthenticated access!' });
  });
});

describe("teeka's own endpoints", () => {
  it('an admin publishes a session; a vaccinator verifies the appointment and records the dose', async () => {
    const admin = new CowinClient(gateway.url);
    const login = await admin.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' });
    expect(login.status).toBe(200);
    admin.token = login.json.token;
    const center = gateway.engine.country.centersByDistrict.get(DISTRICT)![1]!;
    const today = formatCowinDate(gateway.engine.today());
    const published = await admin.post('/teeka/admin/sessions', {
      center_id: center.center_id,
      date: today,
      vaccine: 'COVAXIN',
      min_age_limit: 18,
      capacity_dose1: 5,
      capacity_dose2: 5,
    });
    expect(published.status).toBe(200);
    expect(published.json).toMatchObject({ session_id: expect.any(String), version: 1, changed: true });
    const listed = await admin.get(`/teeka/admin/sessions?center_id=${center.center_id}&date=${today}`);
    expect(listed.json.sessions[0]).toMatchObject({ vaccine: 'COVAXIN', capacity_dose1: 5, booked_dose1: 0 });

    // a citizen cannot publish
    const citizen = await new CowinClient(gateway.url).login(testMobile());
    expect((await citizen.post('/teeka/admin/sessions', {})).status).toBe(403);

    const id = await citizen.addBeneficiary('Ravi Kumar', 1970, testPhotoId());
    const slot = gateway.engine.country.slotsOf(center)[0];
    const booked = await citizen.post('/api/v2/appointment/schedule', { dose: 1, session_id: published.json.session_id, slot, beneficiaries: [id] });
    expect(booked.status, booked.text).toBe(200);

    // the admin issues the centre's vaccinator their own credentials
    const issued = await admin.post('/teeka/admin/operators', { operator_id: 'vax-7', role: 'vaccinator', center_ids: [center.center_id] });
    expect(issued.status, issued.text).toBe(200);
    const vaccinator = new CowinClient(gateway.url);
    vaccinator.token = (await vaccinator.post('/teeka/auth/operator', { operator_id: 'vax-7', secret: issued.json.secret })).json.token;
    expect((await vaccinator.post('/teeka/admin/sessions', {})).status).toBe(403);
    const appointment = await vaccinator.get(`/teeka/vaccinator/appointments/${booked.json.appointment_confirmation_no}`);
    expect(appointment.json).toMatchObject({ dose: 1, vaccine: 'COVAXIN', beneficiaries: [{ beneficiary_reference_id: id, name: 'Ravi Kumar', appointment_status: 'booked' }] });
    // the vaccinator sees no security code: the citizen gives it
    expect(showsSecret(appointment.json, booked.json.security_codes[0].security_code)).toBe(false);
    const code = booked.json.security_codes[0].security_code;
    const wrongCode = String((Number(code) + 1) % 10_000).padStart(4, '0');
    const refused = await vaccinator.post('/teeka/vaccinator/vaccinate', { appointment_id: booked.json.appointment_confirmation_no, beneficiary_reference_id: id, security_code: wrongCode });
    expect(refused.status, refused.text).toBe(400);
    expect(refused.json).toEqual({ errorCode: 'APPOIN0036', error: expect.stringMatching(/does not match .* \(4 wrong codes left before the appointment is locked\)$/) });
    const done = await vaccinator.post('/teeka/vaccinator/vaccinate', { appointment_id: booked.json.appointment_confirmation_no, beneficiary_reference_id: id, security_code: code });
    // the gateway's clock reads 10:00 on the session day (test/support/clock.ts): it is the vaccination day
    expect(done.status, done.text).toBe(200);
    expect(done.json).toEqual({ dose: 1, vaccine: 'COVAXIN', date: today, certificate_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const after = await citizen.get('/api/v2/appointment/beneficiaries');
    expect(after.json.beneficiaries[0]).toMatchObject({ vaccination_status: 'Partially Vaccinated', vaccine: 'COVAXIN', dose1_date: today });
    expect((await new CowinClient(gateway.url).post('/teeka/auth/operator', { role: 'admin', key: 'wrong' })).status).toBe(401);
  });

  it('healthz reports Redis, PostgreSQL and the native uWS build; metrics count requests', async () => {
    const client = new CowinClient(gateway.url);
    const health = await client.get('/healthz');
    expect(health.json).toEqual({ status: 'ok', redis: 'ok', postgres: 'ok', uws: 'native' });
    // the threads' counts reach /metrics within a couple of seconds (aggregated once a second); the
    // metric's HELP line is there from the start, so wait for the values themselves
    const counted = [
      /teeka_http_requests_total\{route="\/api\/v2\/admin\/location\/states",method="GET",status="200"\} \d+/,
      /teeka_booking_outcomes_total\{outcome="ok"\} [1-9]/,
      // the protected searches above went through the coalescing of search-quota scripts
      /teeka_coalesced_requests_total\{script="consumeSearchQuota"\} [1-9]/,
    ];
    // the single-slot layout's bookings go through the coalescing of booking scripts; the partitioned
    // layout's run as steps on their partitions, never coalesced
    const coalescedBookings = [/teeka_coalesced_requests_total\{script="bookAppointment"\} [1-9]/, /teeka_coalesced_batches_total\{script="bookAppointment"\} [1-9]/];
    if (layoutFrom(process.env) === 'single') counted.push(...coalescedBookings);
    let text = '';
    for (let i = 0; i < 100 && !counted.every((line) => line.test(text)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = (await client.get('/metrics')).text;
    }
    expect(text).toMatch(counted[0]!);
    expect(text).toMatch(counted[1]!);
    expect(text).toMatch(counted[2]!);
    for (const line of coalescedBookings) {
      if (layoutFrom(process.env) === 'single') expect(text).toMatch(line);
      else expect(text).not.toMatch(line);
    }
    expect(text).toMatch(/teeka_coalesced_batches_total\{script="consumeSearchQuota"\} [1-9]/);
    expect(text).toContain('teeka_http_request_duration_seconds_bucket');
  });
});
