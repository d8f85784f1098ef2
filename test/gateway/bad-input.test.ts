/**
 * Bad input gets a clear 4xx with a CoWIN-style error body, never a 5xx, a crash or a hang
 * (invariant 6), and the server stays up for the next request.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    const register = (body: object) => citizen.post('/api/v2/registration/beneficiary/new', { name: 'X Y', birth_year: '1980', gender_id: 1, photo_id_type: 1, photo_id_number: 'ABCD1234', comorbidity_ind: 'N', consent_version: 'V1', ...body });
    await expectError(await register({ birth_year: '1850' }), 400, /^birth_year: /);
    await expectError(await register({ gender_id: 77 }), 400, /^gender_id: not a gender id/);
    await expectError(await register({ comorbidity_ind: 'maybe' }), 400, /^comorbidity_ind: /);
    await expectError(await register({ name: '<script>' }), 400, /^name: /);
    await expectError(await citizen.post('/api/v2/auth/generateMobileOTP', { mobile: '12345' }), 400, /^mobile: expected 10 digits/);
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
  it('bad dates, ids and pincodes → 400; unknown parameters → 400', async () => {
    const client = new CowinClient(gateway.url);
    for (const date of ['32-01-2026', '2026-05-01', '31-04-2026', '']) {
      await expectError(await client.get(`/api/v2/appointment/sessions/public/findByDistrict?district_id=140&date=${date}`), 400, /Invalid date/, 'APPOIN0019');
    }
    await expectError(await client.get('/api/v2/appointment/sessions/public/findByPin?pincode=11A001&date=01-05-2026'), 400, 'Invalid Pincode', 'APPOIN0018');
    await expectError(await client.get('/api/v2/appointment/sessions/public/calendarByDistrict?district_id=-3&date=01-05-2026'), 400, /district_id/);
    await expectError(await client.get('/api/v2/appointment/sessions/public/calendarByDistrict?district_id=140&date=01-05-2026&debug=1'), 400, 'unknown query parameter: debug');
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

describe('aborted requests', () => {
  it('a client that disappears mid-body or mid-request leaves the server serving', async () => {
    const body = JSON.stringify({ dose: 1, session_id: sessionId, slot: '09:00AM-11:00AM', beneficiaries: [beneficiaryId] });
    const head = `POST /api/v2/appointment/schedule HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${citizen.token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    // half a body, then gone
    await raw(head + body.slice(0, 10), 100);
    // a whole request, gone before the answer (the route's await finishes after the abort)
    await Promise.all(Array.from({ length: 20 }, () => raw(head + body, 1)));
    const health = await new CowinClient(gateway.url).get('/healthz');
    expect(health.status).toBe(200);
    // the aborted bookings are either made or not: never half, never twice
    const session = (await gateway.engine.getSession(sessionId))!;
    expect(session.booked1).toBeLessThanOrEqual(1);
    expect(gateway.process.exitCode).toBeNull();
  });
});
