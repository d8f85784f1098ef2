/**
 * What 2021 CoWIN clients and the published API (API Setu "Co-WIN Public APIs" 1.1.0, and the
 * fields production added later) expect of teeka, over real HTTP: every public answer conforms to
 * the schema, and the behaviours clients depended on (date forms, ignored parameters, CORS, UUID
 * txnIds, localised names, the token's claims, one keep-alive connection for a whole booking).
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCowinDate } from '../../engine/dates.js';
import { sha256Hex } from '../../engine/ids.js';
import { check, COWIN_PUBLIC_API } from '../support/cowin-schema.js';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';

const TRACKER_ORIGIN = 'https://tracker.example.org';
let gateway: RunningGateway;
let sessionId: string;
let centerId: number;
let pincode: number;
let day: number;
const DISTRICT = 140; // New Delhi

beforeAll(async () => {
  gateway = await startGateway({ TEEKA_CORS_ORIGINS: TRACKER_ORIGIN });
  const center = gateway.engine.country.centersByDistrict.get(DISTRICT)![0]!;
  centerId = center.center_id;
  pincode = center.pincode!;
  day = gateway.engine.today() + 1;
  const published = await gateway.engine.publishSession({ center_id: centerId, date: day, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 30, capacity_dose2: 10 });
  if (!published.ok) throw new Error('publish failed');
  sessionId = published.sessionId;
});
afterAll(() => gateway?.stop());

/** The availability book follows a stream: wait until the new session shows in a search. */
async function searchUntilSeen(client: CowinClient, path: string): Promise<Awaited<ReturnType<CowinClient['get']>>> {
  for (let i = 0; i < 60; i++) {
    const response = await client.get(path);
    if (response.status === 200 && response.text.includes(sessionId)) return response;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${path} never showed the session`);
}

const expectConforms = (schema: keyof typeof COWIN_PUBLIC_API, body: unknown) => expect(check(COWIN_PUBLIC_API[schema]!, body), `${schema} schema`).toEqual([]);

describe('the published public API, field by field', () => {
  it('every public endpoint answers in the 1.1.0 schema with the later production fields', async () => {
    const client = new CowinClient(gateway.url);
    const date = formatCowinDate(day);
    const states = await client.get('/api/v2/admin/location/states');
    expectConforms('states', states.json);
    const districts = await client.get('/api/v2/admin/location/districts/9');
    expectConforms('districts', districts.json);
    for (const kind of ['findByPin', 'findByDistrict'] as const) {
      const query = kind === 'findByPin' ? `pincode=${pincode}` : `district_id=${DISTRICT}`;
      const found = await searchUntilSeen(client, `/api/v2/appointment/sessions/public/${kind}?${query}&date=${date}`);
      expectConforms('find', found.json);
      expect(found.json.sessions.length).toBeGreaterThan(0);
    }
    for (const kind of ['calendarByPin', 'calendarByDistrict'] as const) {
      const query = kind === 'calendarByPin' ? `pincode=${pincode}` : `district_id=${DISTRICT}`;
      const calendar = await searchUntilSeen(client, `/api/v2/appointment/sessions/public/${kind}?${query}&date=${date}`);
      expectConforms('calendar', calendar.json);
    }
    const byCenter = await searchUntilSeen(client, `/api/v2/appointment/sessions/public/calendarByCenter?center_id=${centerId}&date=${date}`);
    expectConforms('calendarByCenter', byCenter.json);
    const center = gateway.engine.country.centersById.get(centerId)!;
    const near = await client.get(`/api/v2/appointment/centers/public/findByLatLong?lat=${center.lat}&long=${center.long}`);
    expectConforms('findByLatLong', near.json);
    const otp = await client.post('/api/v2/auth/public/generateOTP', { mobile: testMobile() });
    expectConforms('generateOTP', otp.json);
    const token = await client.post('/api/v2/auth/public/confirmOTP', { otp: sha256Hex('123456'), txnId: otp.json.txnId });
    expectConforms('confirmOTP', token.json);
    expectConforms('error', (await client.get(`/api/v2/appointment/sessions/public/findByPin?pincode=12&date=${date}`)).json);
  });

  it('the checker itself refuses what departs from the schema', () => {
    const session = { center_id: 1, name: 'C', state_name: 'S', district_name: 'D', block_name: 'B', pincode: '110001', from: '9:00', to: '18:00:00', fee_type: 'Gratis' };
    expect(check(COWIN_PUBLIC_API.find!, { sessions: [session] })).toEqual(
      expect.arrayContaining([
        '$.sessions[0].pincode: expected a number, got "110001"',
        '$.sessions[0].from: "9:00" is not a partial-time',
        '$.sessions[0].fee_type: "Gratis" is not one of Free, Paid',
        '$.sessions[0].session_id: required',
        '$.sessions[0].available_capacity_dose1: required',
      ]),
    );
  });
});

describe('behaviour 2021 clients depend on', () => {
  it('dates in every day-month-year form CoWIN took; answers in DD-MM-YYYY', async () => {
    const client = new CowinClient(gateway.url);
    const [dd, mm, yyyy] = formatCowinDate(day).split('-') as [string, string, string];
    for (const date of [`${dd}-${mm}-${yyyy}`, `${Number(dd)}-${Number(mm)}-${yyyy}`, `${dd}-${mm}-${yyyy.slice(2)}`, `${dd}/${mm}/${yyyy}`]) {
      const response = await searchUntilSeen(client, `/api/v2/appointment/sessions/public/findByDistrict?district_id=${DISTRICT}&date=${encodeURIComponent(date)}`);
      expect(response.json.sessions.find((s: { session_id: string }) => s.session_id === sessionId).date, date).toBe(`${dd}-${mm}-${yyyy}`);
    }
  });

  it('unknown query parameters (cache-busters, vaccine= on public endpoints) are ignored; the ones read are still checked', async () => {
    const client = new CowinClient(gateway.url);
    const date = formatCowinDate(day);
    const plain = await searchUntilSeen(client, `/api/v2/appointment/sessions/public/calendarByDistrict?district_id=${DISTRICT}&date=${date}`);
    const busted = await client.get(`/api/v2/appointment/sessions/public/calendarByDistrict?district_id=${DISTRICT}&date=${date}&_=${Date.now()}&vaccine=COVAXIN`);
    expect(busted.status).toBe(200);
    expect(busted.json).toEqual(plain.json);
    expect((await client.get(`/api/v2/appointment/sessions/public/calendarByDistrict?district_id=x&date=${date}&_=1`)).status).toBe(400);
    const citizen = await new CowinClient(gateway.url).login(testMobile());
    expect((await citizen.get(`/api/v2/appointment/sessions/findByDistrict?district_id=${DISTRICT}&date=${date}&vaccine=WATER&_=2`)).status).toBe(400);
  });

  it('CORS: public reads answer any origin, with a preflight; the protected API only listed origins', async () => {
    const client = new CowinClient(gateway.url);
    const date = formatCowinDate(day);
    const fromTracker = { origin: 'https://someone.example.net' };
    const read = await client.get(`/api/v2/appointment/sessions/public/findByDistrict?district_id=${DISTRICT}&date=${date}`, fromTracker);
    expect(read.headers.get('access-control-allow-origin')).toBe('*');
    const preflight = await client.call('OPTIONS', '/api/v2/appointment/sessions/public/calendarByPin', undefined, {
      ...fromTracker,
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'accept-language, x-unknown',
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, OPTIONS');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('accept-language');
    // an OTP from any page would send SMS from the page's visitors: only the listed origin may
    for (const [origin, allowed] of [
      ['https://someone.example.net', null],
      [TRACKER_ORIGIN, TRACKER_ORIGIN],
    ] as const) {
      const otpPreflight = await client.call('OPTIONS', '/api/v2/auth/generateMobileOTP', undefined, { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' });
      expect(otpPreflight.status).toBe(204);
      expect(otpPreflight.headers.get('access-control-allow-origin'), origin).toBe(allowed);
      const otp = await client.post('/api/v2/auth/generateMobileOTP', { mobile: testMobile() }, { origin });
      expect(otp.headers.get('access-control-allow-origin'), origin).toBe(allowed);
    }
    expect((await client.call('OPTIONS', '/api/v2/no/such/path', undefined, fromTracker)).status).toBe(404);
  });

  it('txnId is a UUID; a txnId that is not one, or unknown, is an invalid OTP', async () => {
    const client = new CowinClient(gateway.url);
    const otp = await client.post('/api/v2/auth/generateMobileOTP', { mobile: testMobile() });
    expect(otp.json.txnId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    for (const txnId of ['not-a-uuid', '00000000-0000-4000-8000-000000000000']) {
      const refused = await client.post('/api/v2/auth/validateMobileOtp', { otp: sha256Hex('123456'), txnId });
      expect(refused.status).toBe(401);
      expect(refused.json.errorCode).toBe('USRAUT0014');
    }
    expect((await client.post('/api/v2/auth/validateMobileOtp', { otp: sha256Hex('123456'), txnId: otp.json.txnId.toUpperCase() })).status).toBe(200);
  });

  it('Accept-Language picks the *_l names from the country file (hi-IN or CoWIN\'s hi_IN); others get the plain names', async () => {
    const client = new CowinClient(gateway.url);
    const hindi = await client.get('/api/v2/admin/location/states', { 'accept-language': 'hi_IN' });
    expect(hindi.json.states).toContainEqual({ state_id: 9, state_name: 'Delhi', state_name_l: 'दिल्ली' });
    expect(hindi.headers.get('content-language')).toBe('hi');
    const kannada = await client.get('/api/v2/admin/location/districts/16', { 'accept-language': 'fr;q=1, kn-IN;q=0.8, hi;q=0.5' });
    expect(kannada.json.districts).toContainEqual({ district_id: 266, district_name: 'Mysore', district_name_l: 'ಮೈಸೂರು' });
    const other = await client.get('/api/v2/admin/location/states', { 'accept-language': 'fr-FR' });
    expect(other.json.states).toContainEqual({ state_id: 9, state_name: 'Delhi', state_name_l: 'Delhi' });
    const calendar = await searchUntilSeen(client, `/api/v2/appointment/sessions/public/calendarByDistrict?district_id=${DISTRICT}&date=${formatCowinDate(day)}`);
    const localized = await client.get(`/api/v2/appointment/sessions/public/calendarByDistrict?district_id=${DISTRICT}&date=${formatCowinDate(day)}`, { 'accept-language': 'hi' });
    const plainCenter = calendar.json.centers.find((c: { center_id: number }) => c.center_id === centerId);
    const hindiCenter = localized.json.centers.find((c: { center_id: number }) => c.center_id === centerId);
    expect(plainCenter).toMatchObject({ district_name: 'New Delhi', district_name_l: 'New Delhi' });
    expect(hindiCenter).toMatchObject({ district_name: 'New Delhi', district_name_l: 'नई दिल्ली', state_name_l: 'दिल्ली', block_name_l: 'नई दिल्ली' });
    expect(localized.headers.get('vary')).toContain('Accept-Language');
  });

  it('findByLatLong: the nearest centres first; coordinates are checked', async () => {
    const client = new CowinClient(gateway.url);
    const mysore = gateway.engine.country.centersByDistrict.get(266)![0]!;
    const near = await client.get(`/api/v2/appointment/centers/public/findByLatLong?lat=${mysore.lat + 0.001}&long=${mysore.long}`);
    expect(near.status).toBe(200);
    expect(near.json.centers[0].center_id).toBe(mysore.center_id);
    expect(near.json.centers.length).toBe(20);
    const km = near.json.centers.map((c: { lat: number; long: number }) => Math.hypot(c.lat - mysore.lat, (c.long - mysore.long) * Math.cos((mysore.lat * Math.PI) / 180)));
    expect(km).toEqual([...km].sort((a, b) => a - b));
    expect(near.json.centers[0]).toMatchObject({ location: mysore.address, district_name: 'Mysore', district_id: 266 });
    for (const query of ['lat=91&long=77', 'lat=12.3&long=', 'lat=abc&long=77', 'long=77']) {
      const refused = await client.get(`/api/v2/appointment/centers/public/findByLatLong?${query}`);
      expect(refused.status, query).toBe(400);
    }
  });
});

describe('a citizen\'s own answers', () => {
  it('the token carries CoWIN\'s claims; beneficiaries carry the masked mobile and appointments every centre field', async () => {
    const mobile = testMobile();
    const citizen = await new CowinClient(gateway.url).login(mobile);
    const claims = JSON.parse(Buffer.from(citizen.token.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims).toMatchObject({ user_type: 'BENEFICIARY', mobile_number: `XXXXXX${mobile.slice(-4)}`, role: 'citizen' });
    expect(claims.user_id).toBe(claims.user_name);
    expect(claims.exp - claims.iat).toBe(gateway.engine.country.rules.token_ttl_seconds);
    expect(new Date(claims.date_modified).getTime()).toBe(claims.iat * 1000 + (new Date(claims.date_modified).getTime() % 1000));
    const id = await citizen.addBeneficiary('Asha Verma', 1985, testPhotoId());
    const slot = gateway.engine.country.slotsOf(gateway.engine.country.centersById.get(centerId)!)[1]!;
    const booked = await citizen.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessionId, slot, beneficiaries: [id] });
    expect(booked.status).toBe(200);
    const list = await citizen.get('/api/v2/appointment/beneficiaries', { 'accept-language': 'hi' });
    const ben = list.json.beneficiaries[0];
    expect(ben.mobile_number).toBe(mobile.slice(-4));
    const center = gateway.engine.country.centersById.get(centerId)!;
    expect(ben.appointments[0]).toEqual({
      appointment_id: booked.json.appointment_confirmation_no,
      center_id: centerId,
      name: center.name,
      name_l: 'यूपीएचसी कनॉट प्लेस',
      address: center.address,
      address_l: center.address,
      state_name: 'Delhi',
      state_name_l: 'दिल्ली',
      district_name: 'New Delhi',
      district_name_l: 'नई दिल्ली',
      block_name: center.block_name,
      block_name_l: 'नई दिल्ली',
      pincode: center.pincode,
      lat: center.lat,
      long: center.long,
      from: center.from,
      to: center.to,
      fee_type: center.fee_type,
      dose: 1,
      session_id: sessionId,
      date: formatCowinDate(day),
      slot,
      // teeka's addition (CoWIN clients ignore it): the code on the slip, for the page to show again
      security_code: booked.json.security_codes[0].security_code,
    });
    // a cancelled booking takes its code away with it
    const cancelled = await citizen.post('/api/v2/appointment/cancel', { appointment_id: booked.json.appointment_confirmation_no });
    expect(cancelled.status, cancelled.text).toBe(204);
    const after = await citizen.get('/api/v2/appointment/beneficiaries');
    expect(after.json.beneficiaries[0].appointments).toEqual([]);
    expect(after.text).not.toContain(`"security_code"`);
  });

  it('one keep-alive connection carries login → search → book → cancel → search', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let connections = 0;
    const request = (method: string, path: string, body?: unknown, token?: string) =>
      new Promise<{ status: number; json: any }>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: gateway.port, method, path, agent, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) } },
          (res) => {
            let text = '';
            res.on('data', (chunk) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : null }));
          },
        );
        req.on('socket', (socket) => {
          if (!(socket as { counted?: boolean }).counted) {
            (socket as { counted?: boolean }).counted = true;
            connections += 1;
          }
        });
        req.on('error', reject);
        req.end(body ? JSON.stringify(body) : undefined);
      });
    try {
      const otp = await request('POST', '/api/v2/auth/generateMobileOTP', { mobile: testMobile() });
      const login = await request('POST', '/api/v2/auth/validateMobileOtp', { otp: sha256Hex('123456'), txnId: otp.json.txnId });
      const token = login.json.token as string;
      const registered = await request('POST', '/api/v2/registration/beneficiary/new', { name: 'Keep Alive', birth_year: '1980', gender_id: 1, photo_id_type: 1, photo_id_number: testPhotoId(), comorbidity_ind: 'N', consent_version: 'V1' }, token);
      const search = () => request('GET', `/api/v2/appointment/sessions/calendarByCenter?center_id=${centerId}&date=${formatCowinDate(day)}`, undefined, token);
      const dose1 = async () => (await search()).json.centers.sessions.find((s: { session_id: string }) => s.session_id === sessionId).available_capacity_dose1 as number;
      const before = await dose1();
      const slot = gateway.engine.country.slotsOf(gateway.engine.country.centersById.get(centerId)!)[0]!;
      const booked = await request('POST', '/api/v2/appointment/schedule', { dose: 1, session_id: sessionId, slot, beneficiaries: [registered.json.beneficiary_reference_id] }, token);
      expect(booked.status).toBe(200);
      const cancelled = await request('POST', '/api/v2/appointment/cancel', { appointment_id: booked.json.appointment_confirmation_no }, token);
      expect(cancelled.status).toBe(204);
      // the freed seat reaches the search within the availability stream's delay
      let after = await dose1();
      for (let i = 0; i < 40 && after !== before; i++) {
        await new Promise((r) => setTimeout(r, 50));
        after = await dose1();
      }
      expect(after).toBe(before);
      expect(connections).toBe(1);
    } finally {
      agent.destroy();
    }
  });
});
