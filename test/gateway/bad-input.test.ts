/**
 * Bad input gets a clear 4xx with a CoWIN-style error body, never a 5xx, a crash or a hang
 * (invariant 6), and the server stays up for the next request.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../engine/config.js';
import { sha256Hex } from '../../engine/ids.js';
import { ROUTE_MODULES } from '../../gateway/app.js';
import type { GatewayContext } from '../../gateway/context.js';
import { Router } from '../../gateway/http.js';
import { bodySchemas, type BodySchemas } from '../../gateway/validation.js';
import { processClock } from '../support/clock.js';
import { demoCountry } from '../support/fixtures.js';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';

let gateway: RunningGateway;
let citizen: CowinClient;
let sessionId: string;
let beneficiaryId: string;
const statuses: number[] = [];

beforeAll(async () => {
  gateway = await startGateway();
  citizen = await new CowinClient(gateway.url).login(testMobile());
  beneficiaryId = await citizen.addBeneficiary('Valid Person', 1980, testPhotoId());
  const published = await gateway.engine.publishSession({
    center_id: gateway.engine.country.data.centers[0]!.center_id,
    date: gateway.engine.today() + 1,
    vaccine: 'COVISHIELD',
    min_age_limit: 18,
    capacity_dose1: 10,
    capacity_dose2: 0,
  });
  if (!published.ok) throw new Error('publish failed');
  sessionId = published.sessionId;
});

afterAll(async () => {
  // no response anywhere in this file was a 5xx
  expect(statuses.filter((s) => s >= 500)).toEqual([]);
  await gateway?.stop();
});

async function expectError(response: { status: number; json: any }, status: number, pattern: RegExp | string, code?: string) {
  statuses.push(response.status);
  expect(response.status).toBe(status);
  expect(Object.keys(response.json ?? {}).sort()).toEqual(['error', 'errorCode']);
  expect(response.json.error).toMatch(pattern);
  if (code) expect(response.json.errorCode).toBe(code);
}

/** Send raw bytes over a socket and return what comes back before the server closes or `waitMs` passes. */
function raw(payload: string | Buffer, waitMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(gateway.port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', () => resolve(data));
    socket.on('close', () => resolve(data));
    socket.write(payload);
    setTimeout(() => {
      socket.destroy();
      resolve(data);
    }, waitMs);
  });
}

/** Send a whole request and close the connection as soon as it is sent, before any answer can come. */
function sendAndLeave(payload: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(gateway.port, '127.0.0.1');
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    // the write callback runs once the bytes are with the kernel: they reach the server, then the close
    socket.write(payload, () => socket.destroy());
  });
}

describe('bodies', () => {
  it('malformed JSON → 400', async () => {
    await expectError(await citizen.post('/api/v2/appointment/schedule', '{"dose": 1, "session_id": '), 400, 'Malformed JSON body', 'GENVAL0001');
    await expectError(await citizen.post('/api/v2/appointment/schedule', '[1,2,3]'), 400, 'must be an object');
    await expectError(await citizen.call('POST', '/api/v2/appointment/schedule'), 400, 'A JSON body is required');
  });

  it('wrong types, missing and unknown fields → 400 naming the field', async () => {
    const schedule = (body: unknown) => citizen.post('/api/v2/appointment/schedule', body);
    await expectError(await schedule({ dose: 'one', session_id: sessionId, slot: '09:00AM-11:00AM', beneficiaries: [beneficiaryId] }), 400, /^dose: /);
    await expectError(await schedule({ dose: 1, session_id: sessionId, slot: '09:00AM-11:00AM', beneficiaries: beneficiaryId }), 400, /^beneficiaries: /);
    await expectError(await schedule({ dose: 1, slot: '09:00AM-11:00AM', beneficiaries: [beneficiaryId] }), 400, /^session_id: /);
    await expectError(await schedule({ dose: 1, session_id: sessionId, slot: '09:00AM-11:00AM', beneficiaries: [beneficiaryId], hack: true }), 400, 'unknown field: hack');
    await expectError(await schedule({ dose: 9, session_id: sessionId, slot: '09:00AM-11:00AM', beneficiaries: [beneficiaryId] }), 400, /^dose: /);
    await expectError(await schedule({ dose: 1, session_id: sessionId, slot: 'midnight', beneficiaries: [beneficiaryId] }), 400, 'Invalid Slot Id', 'APPOIN0015');
    await expectError(await schedule({ dose: 1, session_id: sessionId, slot: '09:00AM-11:00AM', beneficiaries: [] }), 400, /^beneficiaries: /);
    const register = (body: object) => citizen.post('/api/v2/registration/beneficiary/new', { name: 'X Y', birth_year: '1980', gender_id: 1, photo_id_type: 1, photo_id_number: '2345 6789 0123', comorbidity_ind: 'N', consent_version: 'V1', ...body });
    await expectError(await register({ birth_year: '1850' }), 400, /^birth_year: /);
    await expectError(await register({ gender_id: 77 }), 400, /^gender_id: not a gender id/);
    await expectError(await register({ comorbidity_ind: 'maybe' }), 400, /^comorbidity_ind: /);
    await expectError(await register({ name: '<script>' }), 400, /^name: /);
    await expectError(await citizen.post('/api/v2/auth/generateMobileOTP', { mobile: '12345' }), 400, /^mobile: expected a mobile number of 10 digits starting with 6, 7, 8 or 9, without the country code$/);
    await expectError(await citizen.post('/api/v2/auth/validateMobileOtp', { otp: '123456', txnId: 'x' }), 400, /^otp: expected the sha256 hex/);
  });

  it('bodies over 16 KiB → 413, announced or streamed', async () => {
    const big = JSON.stringify({ dose: 1, padding: 'x'.repeat(20_000) });
    const response = await citizen.post('/api/v2/appointment/schedule', big);
    statuses.push(response.status);
    expect(response.status).toBe(413);
    expect(response.json.errorCode).toBe('GENVAL0413');
    // chunked, no Content-Length: refused while reading
    const chunk = 'x'.repeat(8000);
    const reply = await raw(
      `POST /api/v2/appointment/schedule HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n` +
        `${chunk.length.toString(16)}\r\n${chunk}\r\n`.repeat(4) +
        '0\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 413/);
  });
});

describe('queries and paths', () => {
  it('bad dates, ids and pincodes → 400 (unknown parameters are ignored, as CoWIN did: test/gateway/cowin-compat.test.ts)', async () => {
    const client = new CowinClient(gateway.url);
    for (const date of ['32-01-2026', '2026-05-01', '31-04-2026', '']) {
      await expectError(await client.get(`/api/v2/appointment/sessions/public/findByDistrict?district_id=140&date=${date}`), 400, /Invalid date/, 'APPOIN0019');
    }
    await expectError(await client.get('/api/v2/appointment/sessions/public/findByPin?pincode=11A001&date=01-05-2026'), 400, 'Invalid Pincode', 'APPOIN0018');
    await expectError(await client.get('/api/v2/appointment/sessions/public/calendarByDistrict?district_id=-3&date=01-05-2026'), 400, /district_id/);
    await expectError(await citizen.get('/api/v2/appointment/sessions/findByDistrict?district_id=140&date=01-05-2026&vaccine=WATER'), 400, /^vaccine: /);
    await expectError(await client.get('/api/v2/admin/location/districts/abc'), 400, /state_id/);
  });

  it('unknown paths → 404, wrong methods → 405', async () => {
    const client = new CowinClient(gateway.url);
    await expectError(await client.get('/api/v2/no/such/thing'), 404, 'Not found');
    await expectError(await client.post('/api/v2/admin/location/states', {}), 405, 'Method not allowed');
    await expectError(await client.get('/api/v2/admin/location/districts/%E0%A4%A'), 404, 'Not found');
  });

  it('huge query strings → 414, or the connection is refused; the server stays up', async () => {
    const client = new CowinClient(gateway.url);
    const long = await client.get(`/api/v2/appointment/sessions/public/findByDistrict?district_id=140&date=01-05-2026&x=${'a'.repeat(3000)}`);
    statuses.push(long.status);
    expect(long.status).toBe(414);
    expect(long.json.errorCode).toBe('GENVAL0414');
    // far past uWS's own header limit: it drops the connection without a response
    const reply = await raw(`GET /api/v2/admin/location/states?x=${'a'.repeat(200_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(reply).not.toMatch(/^HTTP\/1\.1 5/);
    expect((await client.get('/healthz')).status).toBe(200);
  });
});

describe('photo ID numbers', () => {
  const register = (client: CowinClient, photo_id_number: string, photo_id_type = 1) =>
    client.post('/api/v2/registration/beneficiary/new', { name: 'Asha Devi', birth_year: '1985', gender_id: 2, photo_id_type, photo_id_number, comorbidity_ind: 'N', consent_version: 'V1' });

  it('a number that does not fit its type → 400 naming photo_id_number and the expected format', async () => {
    for (const number of ['----', '1234 5678', 'ABCD-EFGH-IJKL']) {
      await expectError(await register(citizen, number), 400, 'photo_id_number: expected 12 digits for Aadhaar Card, like 1234 5678 9012', 'GENVAL0001');
    }
    await expectError(await register(citizen, '1234567890', 4), 400, 'photo_id_number: expected 5 letters, 4 digits and a letter for PAN Card, like ABCDE1234F');
  });

  it('one Aadhaar written two ways in two accounts is one document: the second account is refused', async () => {
    const digits = testPhotoId();
    const grouped = digits.replace(/(\d{4})(?=\d)/g, '$1-');
    const spaced = digits.replace(/(\d{4})(?=\d)/g, '$1 ');
    const first = await new CowinClient(gateway.url).login(testMobile());
    const added = await register(first, grouped);
    statuses.push(added.status);
    expect(added.status, added.text).toBe(200);
    const second = await new CowinClient(gateway.url).login(testMobile());
    await expectError(await register(second, spaced), 409, 'A beneficiary with this photo ID is already registered', 'BENREG0011');
    await expectError(await register(second, digits), 409, 'A beneficiary with this photo ID is already registered', 'BENREG0011');
    // the slip and the list show the last 4 of the normal form, whatever the separators
    const listed = await first.get('/api/v2/appointment/beneficiaries');
    expect(listed.json.beneficiaries[0].photo_id_number).toBe(`XXXXXXXX${digits.slice(-4)}`);
  });
});

describe('control characters and unpaired surrogates, in every field of every route', () => {
  // PostgreSQL refuses NUL in text and Lua's JSON decoder refuses lone surrogates: a string that
  // reached them used to halt persistence for everyone or answer 500. One check refuses them all.
  const BAD_STRINGS = { NUL: 'V\u0000', 'a lone surrogate': '\ud800', DEL: 'a\u007f', 'a C1 control': 'a\u0085' };

  /** Every route the gateway serves, from the same route modules it is assembled from. */
  function allRoutes(): { method: string; name: string }[] {
    const router = new Router();
    const country = demoCountry();
    const context = { country, config: loadConfig({ TEEKA_ENV: 'demo' }), schemas: bodySchemas(country, processClock) } as unknown as GatewayContext;
    for (const addRoutes of ROUTE_MODULES) addRoutes(router, context);
    return router.routes();
  }

  type Caller = 'public' | 'citizen' | 'admin' | 'vaccinator';
  /** Each POST route's body schema, a body with every field of it, and who may call it. */
  const BODIES: Record<string, { schema: keyof BodySchemas; caller: Caller; body: () => Record<string, unknown> }> = {};
  const otpRequest = () => ({ mobile: testMobile(), secret: 'U2FsdGVkX1+z' });
  const otpAnswer = () => ({ otp: sha256Hex('123456'), txnId: 'some-transaction' });
  for (const path of ['/api/v2/auth/public/generateOTP', '/api/v2/auth/generateMobileOTP']) BODIES[path] = { schema: 'generateOtp', caller: 'public', body: otpRequest };
  for (const path of ['/api/v2/auth/public/confirmOTP', '/api/v2/auth/validateMobileOtp']) BODIES[path] = { schema: 'confirmOtp', caller: 'public', body: otpAnswer };
  Object.assign(BODIES, {
    '/api/v2/registration/beneficiary/new': {
      schema: 'newBeneficiary',
      caller: 'citizen',
      body: () => ({ name: 'X Y', birth_year: '1980', gender_id: 1, photo_id_type: 1, photo_id_number: '2345 6789 0123', comorbidity_ind: 'N', consent_version: 'V1' }),
    },
    '/api/v2/registration/beneficiary/delete': { schema: 'deleteBeneficiary', caller: 'citizen', body: () => ({ beneficiary_reference_id: beneficiaryId }) },
    '/api/v2/appointment/schedule': {
      schema: 'schedule',
      caller: 'citizen',
      body: () => ({ dose: 1, session_id: sessionId, slot: '09:00AM-11:00AM', beneficiaries: [beneficiaryId], center_id: 1, captcha: 'abcde', admission: '0123456789abcdef.1' }),
    },
    '/teeka/queue/join': { schema: 'queueJoin', caller: 'citizen', body: () => ({ session_id: sessionId, beneficiaries: [beneficiaryId] }) },
    '/api/v2/appointment/reschedule': { schema: 'reschedule', caller: 'citizen', body: () => ({ appointment_id: sessionId, session_id: sessionId, slot: '09:00AM-11:00AM' }) },
    '/api/v2/appointment/cancel': { schema: 'cancel', caller: 'citizen', body: () => ({ appointment_id: sessionId, beneficiariesToCancel: [beneficiaryId] }) },
    '/teeka/auth/operator': { schema: 'operatorLogin', caller: 'public', body: () => ({ role: 'admin', key: 'demo-admin-key', operator_id: 'adm-1', secret: 'x' }) },
    '/teeka/admin/operators': { schema: 'issueOperator', caller: 'admin', body: () => ({ operator_id: 'vax-1', role: 'vaccinator', center_ids: [1] }) },
    '/teeka/admin/operators/revoke': { schema: 'revokeOperator', caller: 'admin', body: () => ({ operator_id: 'vax-1' }) },
    '/teeka/admin/partners': {
      schema: 'registerPartner',
      caller: 'admin',
      body: () => ({ partner_id: 'bad-input', name: 'Bad Input', contact: 'ops@example.org', scopes: ['availability'], per_minute: 10, per_day: 100, status: 'active' }),
    },
    '/teeka/admin/partners/keys': { schema: 'issuePartnerKey', caller: 'admin', body: () => ({ partner_id: 'bad-input' }) },
    '/teeka/admin/partners/keys/revoke': { schema: 'revokePartnerKey', caller: 'admin', body: () => ({ partner_id: 'bad-input', key_id: '0a0b0c0d' }) },
    '/teeka/admin/certificates/revoke': { schema: 'revokeCertificate', caller: 'admin', body: () => ({ certificate_id: sessionId, reason: 'issued in error' }) },
    '/teeka/admin/sessions': {
      schema: 'publishSession',
      caller: 'admin',
      body: () => ({
        center_id: 1, date: '01-05-2026', vaccine: 'COVISHIELD', min_age_limit: 18, max_age_limit: 44, allow_all_age: false, capacity_dose1: 10,
        capacity_dose2: 10, slot_capacity: [5, 5], opens_at: '2026-05-01T04:30:00Z', status: 'open', fair_admission: true, prequeue_minutes: 30,
        admission_rate: 10,
      }), // prettier-ignore
    },
    '/teeka/vaccinator/vaccinate': { schema: 'vaccinate', caller: 'vaccinator', body: () => ({ appointment_id: sessionId, beneficiary_reference_id: beneficiaryId, security_code: '1234' }) },
    '/teeka/vaccinator/walk-in': {
      schema: 'walkIn',
      caller: 'vaccinator',
      body: () => ({
        mobile: testMobile(), name: 'X Y', birth_year: '1980', gender_id: 1, photo_id_type: 1, photo_id_number: '2345 6789 0123', comorbidity_ind: 'N',
        consent_version: 'V1', dose: 1, session_id: sessionId, slot: '09:00AM-11:00AM',
      }), // prettier-ignore
    },
  });
  /** POST routes that read no body. */
  const BODILESS = new Set(['/api/v2/auth/getRecaptcha']);

  async function clientFor(caller: Caller): Promise<CowinClient> {
    if (caller === 'citizen') return citizen;
    const client = new CowinClient(gateway.url);
    if (caller === 'public') return client;
    const admin = (await client.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' })).json.token as string;
    if (caller === 'admin') {
      client.token = admin;
      return client;
    }
    // vaccinators have credentials of their own, issued by an admin
    client.token = admin;
    const centerId = demoCountry().data.centers[0]!.center_id;
    const issued = await client.post('/teeka/admin/operators', { operator_id: 'vax-bad-input', role: 'vaccinator', center_ids: [centerId] });
    client.token = (await client.post('/teeka/auth/operator', { operator_id: 'vax-bad-input', secret: issued.json.secret })).json.token;
    return client;
  }

  it('every POST route is in the table, and each table body has every field of its schema', () => {
    const posts = allRoutes().filter((r) => r.method === 'POST').map((r) => r.name);
    expect(posts.filter((name) => !BODIES[name] && !BODILESS.has(name)), 'POST routes with no entry in BODIES').toEqual([]);
    const schemas = bodySchemas(demoCountry(), processClock);
    for (const [route, { schema, body }] of Object.entries(BODIES)) {
      expect(Object.keys(body()).sort(), `${route}: the fields of schemas.${schema}`).toEqual(Object.keys(schemas[schema].shape).sort());
    }
  });

  it('in any body field (and in nested lists and field names) → 400 naming the field', async () => {
    for (const [route, { caller, body }] of Object.entries(BODIES)) {
      const client = await clientFor(caller);
      for (const field of Object.keys(body())) {
        for (const [what, bad] of Object.entries(BAD_STRINGS)) {
          const sample = body();
          // a list field gets the bad string as its element: the check walks into lists too
          const value = Array.isArray(sample[field]) ? [bad] : bad;
          const named = Array.isArray(sample[field]) ? `${field}.0` : field;
          const response = await client.post(route, { ...sample, [field]: value });
          statuses.push(response.status);
          expect(response.status, `${route} ${field} with ${what}: ${response.text}`).toBe(400);
          expect(response.json, `${route} ${field} with ${what}`).toEqual({ errorCode: 'GENVAL0001', error: expect.stringMatching(new RegExp(`^${named}: contains `)) });
        }
      }
    }
    await expectError(await citizen.post('/api/v2/appointment/cancel', { 'appointment\u0000id': sessionId }), 400, /^a field name: contains a control character/);
    await expectError(await citizen.post('/api/v2/registration/beneficiary/new', { ...BODIES['/api/v2/registration/beneficiary/new']!.body(), consent_version: 'x'.repeat(5000) }), 400, /^consent_version: longer than/);
  });

  it('in any query or path parameter of any route → 400 naming it', async () => {
    const client = await clientFor('admin');
    for (const { method, name } of allRoutes()) {
      const params = name.split('/').filter((part) => part.startsWith(':'));
      for (const [what, bad] of Object.entries({ NUL: '%00', DEL: '%7F', 'a C1 control': '%C2%85' })) {
        const valid = name.replace(/:[a-z_]+/g, '1');
        const attempts: [string, string][] = [[`${valid}?date=01-05-2026&probe=x${bad}`, 'probe']];
        for (const param of params) attempts.push([name.replace(/:[a-z_]+/g, (p) => (p === param ? `x${bad}` : '1')), param.slice(1)]);
        for (const [path, named] of attempts) {
          const response = await client.call(method, path, method === 'POST' ? {} : undefined);
          statuses.push(response.status);
          expect(response.status, `${method} ${path} (${what}): ${response.text}`).toBe(400);
          expect(response.json.error, `${method} ${path}`).toMatch(new RegExp(`^${named}: contains a control character`));
        }
      }
    }
    await expectError(await client.get(`/api/v2/appointment/sessions/public/findByPin?pincode=110001&date=${'1'.repeat(300)}`), 400, /^date: longer than 200/);
  });
});

describe('aborted requests', () => {
  it('a client that disappears mid-body or mid-request leaves the server serving', async () => {
    const body = JSON.stringify({ dose: 1, session_id: sessionId, slot: '09:00AM-11:00AM', beneficiaries: [beneficiaryId] });
    const head = `POST /api/v2/appointment/schedule HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${citizen.token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    // half a body, then gone
    await raw(head + body.slice(0, 10), 100);
    expect((await new CowinClient(gateway.url).get('/healthz')).status).toBe(200);
    expect(gateway.process.exitCode).toBeNull();
  });

  it('bookings whose clients are gone before the answer are each made whole or not at all, never twice, never past capacity', async () => {
    // 12 beneficiaries in 3 accounts race for 10 seats; each booking is sent twice (a double tap) by a
    // client that leaves 1 ms later. The engine decides each in full: the session's seat counter
    // must equal the beneficiaries whose live appointment is in this session.
    const center = gateway.engine.country.data.centers[1]!;
    const published = await gateway.engine.publishSession({ center_id: center.center_id, date: gateway.engine.today() + 1, vaccine: 'COVAXIN', min_age_limit: 18, capacity_dose1: 10, capacity_dose2: 0 });
    if (!published.ok) throw new Error('publish failed');
    const slot = gateway.engine.country.slotsOf(center)[0]!;
    const people: { accountId: string; beneficiaryId: string }[] = [];
    const requests: string[] = [];
    for (let a = 0; a < 3; a++) {
      const mobile = testMobile();
      const client = await new CowinClient(gateway.url).login(mobile);
      for (let b = 0; b < 4; b++) {
        const id = await client.addBeneficiary(`Racer ${'ABC'[a]} ${'WXYZ'[b]}`, 1980, testPhotoId());
        people.push({ accountId: gateway.engine.accountIdOf(mobile), beneficiaryId: id });
        const body = JSON.stringify({ dose: 1, session_id: published.sessionId, slot, beneficiaries: [id] });
        const request =
          `POST /api/v2/appointment/schedule HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${client.token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
        requests.push(request, request);
      }
    }
    await Promise.all(requests.map(sendAndLeave));
    expect((await new CowinClient(gateway.url).get('/healthz')).status).toBe(200);
    expect(gateway.process.exitCode).toBeNull();

    // the gateway finishes the abandoned requests on its own time: wait until the counter settles
    let booked = -1;
    for (let unchanged = 0, tries = 0; unchanged < 3 && tries < 100; tries++) {
      await new Promise((r) => setTimeout(r, 100));
      const now = (await gateway.engine.getSession(published.sessionId))!.booked1;
      unchanged = now === booked ? unchanged + 1 : 0;
      booked = now;
    }
    let seated = 0;
    for (const { accountId, beneficiaryId: id } of people) {
      const ben = (await gateway.engine.listBeneficiaries(accountId)).find((b) => b.id === id)!;
      if (!ben.appt1) continue;
      const appointment = (await gateway.engine.getAppointment(ben.appt1))!;
      expect(appointment.session_id).toBe(published.sessionId);
      expect(appointment.beneficiaries).toEqual([{ id, status: 'booked', security_code: expect.stringMatching(/^\d{4}$/) }]);
      seated += 1;
    }
    expect(booked, 'the abandoned bookings were made').toBeGreaterThan(0);
    expect(booked, 'never past capacity').toBeLessThanOrEqual(10);
    // a booking made twice, or half made, would leave the counter and the appointments apart
    expect(booked).toBe(seated);
  });
});
