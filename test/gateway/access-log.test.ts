/**
 * The access log at the gateway: every route is classified as personal data or not (a new route in
 * neither table fails here), every call to a personal-data route appends exactly one entry (who,
 * from where, what, outcome) before it answers, the entries reach PostgreSQL's chained log and
 * answer "who looked at this person's record"; and the watch flags (and, as configured here,
 * suspends) a vaccinator who reads more distinct people than the configured number, not one whose
 * reads stay within it.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../engine/config.js';
import { accessEntriesOf } from '../../engine/access-log.js';
import { keys } from '../../engine/keys.js';
import { parseOutboxEntry, type AccessChange, type StreamEntry } from '../../engine/records.js';
import { isAccessEntry, logPersonalDataAccess, NOT_PERSONAL_ROUTES, PERSONAL_DATA_ROUTES } from '../../gateway/access-log.js';
import { ROUTE_MODULES } from '../../gateway/app.js';
import type { GatewayContext } from '../../gateway/context.js';
import { Router } from '../../gateway/http.js';
import { bodySchemas } from '../../gateway/validation.js';
import { verifyAccessChain } from '../../worker/access-log.js';
import { openPool } from '../../worker/database.js';
import { drainOutboxDirectly } from '../../worker/drain.js';
import { migrate } from '../../worker/migrate.js';
import { processClock } from '../support/clock.js';
import { demoCountry } from '../support/fixtures.js';
import { showsSecret } from '../support/secrets.js';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const schema = `gw_access_${randomUUID().slice(0, 8)}`;
let gateway: RunningGateway;
let pool: pg.Pool;
let admin: CowinClient;

beforeAll(async () => {
  await migrate(DATABASE_URL, schema);
  pool = openPool({ databaseUrl: DATABASE_URL, schema, onIdleError: () => {} });
  // a vaccinator reading more than 3 distinct people in an hour is flagged, and suspended at once
  gateway = await startGateway({ TEEKA_PG_SCHEMA: schema, TEEKA_ACCESS_FLAG_VACCINATOR: '3', TEEKA_ACCESS_SUSPEND: 'on' });
  admin = new CowinClient(gateway.url);
  admin.token = (await admin.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' })).json.token;
});

afterAll(async () => {
  await gateway?.stop();
  await pool?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool?.end();
});

/** The access entries in the outbox, those bookings carry too (the worker has not drained them in these tests until asked). */
async function accessEntries(): Promise<AccessChange[]> {
  const entries = ((await gateway.redis.xrange(keys.outbox(), '-', '+')) as StreamEntry[]).map(parseOutboxEntry);
  return accessEntriesOf(entries).map((e) => e.change);
}

/** What one call appended to the log: it must be exactly one entry. */
async function loggedBy<T>(call: () => Promise<T>): Promise<{ result: T; entry: AccessChange }> {
  const before = (await accessEntries()).length;
  const result = await call();
  const after = await accessEntries();
  expect(after.length - before, 'entries appended by one call').toBe(1);
  return { result, entry: after[after.length - 1]! };
}

async function issueVaccinator(operatorId: string, centerId: number): Promise<CowinClient> {
  const issued = await admin.post('/teeka/admin/operators', { operator_id: operatorId, role: 'vaccinator', center_ids: [centerId] });
  expect(issued.status, issued.text).toBe(200);
  const client = new CowinClient(gateway.url);
  client.token = (await client.post('/teeka/auth/operator', { operator_id: operatorId, secret: issued.json.secret })).json.token;
  return client;
}

/** Citizens booked today at the centre, one beneficiary each. */
async function bookedToday(centerId: number, count: number) {
  const published = await gateway.engine.publishSession({ center_id: centerId, date: gateway.engine.today(), vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 50, capacity_dose2: 0 });
  if (!published.ok) throw new Error('publish failed');
  const slot = gateway.engine.country.slotsOf(gateway.engine.country.centersById.get(centerId)!)[0];
  const booked = [];
  for (let i = 0; i < count; i++) {
    const citizen = await new CowinClient(gateway.url).login(testMobile());
    const beneficiaryId = await citizen.addBeneficiary(`Person ${'ABCDEFGH'[i]}`, 1980, testPhotoId());
    const answer = await citizen.post('/api/v2/appointment/schedule', { dose: 1, session_id: published.sessionId, slot, beneficiaries: [beneficiaryId] });
    expect(answer.status, answer.text).toBe(200);
    booked.push({ citizen, beneficiaryId, appointmentId: answer.json.appointment_confirmation_no as string, code: answer.json.security_codes[0].security_code as string });
  }
  return booked;
}

describe('the route table', () => {
  it('every route the gateway serves is either a personal-data route (logged) or listed as not personal, never both', () => {
    const router = new Router();
    const country = demoCountry();
    const config = loadConfig({ TEEKA_ENV: 'demo' });
    // enough of a context to add and wrap the routes (nothing is served)
    const context = { country, config, schemas: bodySchemas(country, processClock), engine: { scripts: {} } } as unknown as GatewayContext;
    for (const addRoutes of ROUTE_MODULES) addRoutes(router, context);
    const served = router.routes().map((r) => `${r.method} ${r.name}`);
    const unclassified = served.filter((route) => !PERSONAL_DATA_ROUTES.includes(route) && !(route in NOT_PERSONAL_ROUTES));
    expect(unclassified, 'routes in neither table of gateway/access-log.ts: does each read or change personal data?').toEqual([]);
    expect(PERSONAL_DATA_ROUTES.filter((route) => route in NOT_PERSONAL_ROUTES)).toEqual([]);
    expect([...PERSONAL_DATA_ROUTES, ...Object.keys(NOT_PERSONAL_ROUTES)].filter((route) => !served.includes(route)), 'tables naming routes that do not exist').toEqual([]);
    // every personal-data route is wrapped (a name the router lacks would throw here)
    expect(() => logPersonalDataAccess(router, context)).not.toThrow();
  });
});

describe('entries', () => {
  it('each call to each personal-data route appends exactly one entry, naming who, from where, what and the outcome', async () => {
    const centerId = gateway.engine.country.data.centers[0]!.center_id;
    const [person] = await bookedToday(centerId, 1);
    const { citizen, beneficiaryId, appointmentId, code } = person!;
    const vaccinator = await issueVaccinator('vax-log', centerId);
    const other = await new CowinClient(gateway.url).login(testMobile());

    const ZERO = '00000000-0000-0000-0000-000000000000';
    const walker = { mobile: testMobile(), name: 'Walk In', birth_year: '1980', gender_id: 1, photo_id_type: 1, photo_id_number: testPhotoId(), comorbidity_ind: 'N', consent_version: 'V1' };
    // one call per route, each answered with a status that makes an entry (2xx, or 403/404 for a record not the caller's)
    const calls: [string, () => Promise<{ status: number }>][] = [
      ['GET /api/v2/appointment/beneficiaries', () => citizen.get('/api/v2/appointment/beneficiaries')],
      ['GET /api/v2/appointment/appointmentslip/download', () => citizen.get(`/api/v2/appointment/appointmentslip/download?appointment_id=${appointmentId}`)],
      ['GET /teeka/vaccinator/day', () => vaccinator.get('/teeka/vaccinator/day')],
      ['GET /teeka/vaccinator/appointments/:appointment_id', () => vaccinator.get(`/teeka/vaccinator/appointments/${appointmentId}`)],
      ['POST /teeka/vaccinator/vaccinate', () => vaccinator.post('/teeka/vaccinator/vaccinate', { appointment_id: appointmentId, beneficiary_reference_id: beneficiaryId, security_code: code })],
      ['GET /api/v2/registration/certificate/public/download', () => citizen.get(`/api/v2/registration/certificate/public/download?beneficiary_reference_id=${beneficiaryId}`)],
      ['POST /api/v2/registration/beneficiary/new', () => other.post('/api/v2/registration/beneficiary/new', { name: 'New Person', birth_year: '1985', gender_id: 1, photo_id_type: 1, photo_id_number: testPhotoId(), comorbidity_ind: 'N', consent_version: 'V1' })],
      ['POST /api/v2/registration/beneficiary/delete', () => other.post('/api/v2/registration/beneficiary/delete', { beneficiary_reference_id: beneficiaryId })],
      ['POST /api/v2/appointment/schedule', () => other.post('/api/v2/appointment/schedule', { dose: 1, session_id: ZERO, slot: '09:00AM-11:00AM', beneficiaries: [beneficiaryId] })],
      ['POST /api/v2/appointment/reschedule', () => other.post('/api/v2/appointment/reschedule', { appointment_id: appointmentId, session_id: ZERO, slot: '09:00AM-11:00AM' })],
      ['POST /api/v2/appointment/cancel', () => other.post('/api/v2/appointment/cancel', { appointment_id: appointmentId, beneficiariesToCancel: [beneficiaryId] })],
      ['POST /teeka/vaccinator/walk-in', () => vaccinator.post('/teeka/vaccinator/walk-in', { ...walker, dose: 1, session_id: ZERO, slot: '09:00AM-11:00AM' })],
      ['POST /teeka/admin/certificates/revoke', () => admin.post('/teeka/admin/certificates/revoke', { certificate_id: ZERO, reason: 'issued in error' })],
      ['GET /teeka/admin/access-log', () => admin.get(`/teeka/admin/access-log?object=beneficiary:${beneficiaryId}`)],
      ['POST /teeka/queue/join', () => other.post('/teeka/queue/join', { session_id: ZERO, beneficiaries: [beneficiaryId] })],
      ['GET /teeka/admin/queue/audit', () => admin.get(`/teeka/admin/queue/audit?session_id=${ZERO}`)],
    ];
    // the walk covers the whole table
    expect(calls.map(([route]) => route).sort()).toEqual([...PERSONAL_DATA_ROUTES].sort());

    for (const [route, call] of calls) {
      const { result, entry } = await loggedBy(call);
      expect(isAccessEntry(result.status), `${route} answered ${result.status}`).toBe(true);
      const [method, pattern] = route.split(' ');
      expect(entry, route).toMatchObject({ method, route: pattern, status: result.status, address: expect.stringMatching(/127\.0\.0\.1/) });
    }
    // answers that read and change nothing make no entry: malformed, unauthenticated
    const quiet = (await accessEntries()).length;
    expect((await other.post('/api/v2/appointment/cancel', { appointment_id: 'x' })).status).toBe(400);
    expect((await new CowinClient(gateway.url).get('/api/v2/appointment/beneficiaries')).status).toBe(401);
    expect((await accessEntries()).length).toBe(quiet);
    // who and what, for a few of them
    const read = (await loggedBy(() => citizen.get('/api/v2/appointment/beneficiaries'))).entry;
    expect(read).toMatchObject({ actor_kind: 'citizen', partner: '', status: 200 });
    // (the appointment is done by now: the list no longer shows it)
    expect(read.objects).toEqual([`account:${read.actor}`, `beneficiary:${beneficiaryId}`]);
    const lookup = (await loggedBy(() => vaccinator.get(`/teeka/vaccinator/appointments/${appointmentId}`))).entry;
    expect(lookup).toMatchObject({ actor_kind: 'vaccinator', actor: 'vax-log', status: 200 });
    expect(lookup.objects).toEqual(expect.arrayContaining([`appointment:${appointmentId}`, `beneficiary:${beneficiaryId}`]));
    // another citizen reaching for this appointment is logged with the refusal
    const refused = (await loggedBy(() => other.get(`/api/v2/appointment/appointmentslip/download?appointment_id=${appointmentId}`))).entry;
    expect(refused).toMatchObject({ actor_kind: 'citizen', status: 404, objects: expect.arrayContaining([`appointment:${appointmentId}`]) });
    // routes that are not personal data append nothing
    const before = (await accessEntries()).length;
    await citizen.get(`/api/v2/appointment/sessions/findByDistrict?district_id=${gateway.engine.country.data.districts[0]!.district_id}&date=01-05-2026`);
    await admin.get('/teeka/admin/operators');
    expect((await accessEntries()).length).toBe(before);

    // through the outbox into PostgreSQL's chain: who looked at this person's record
    await drainOutboxDirectly(gateway.redis, pool);
    expect((await verifyAccessChain(pool)).problem).toBeNull();
    const asked = await admin.get(`/teeka/admin/access-log?object=beneficiary:${beneficiaryId}`);
    expect(asked.status, asked.text).toBe(200);
    const readers = new Set(asked.json.entries.map((e: { actor: string }) => e.actor));
    expect(readers).toContain('vax-log');
    expect(readers).toContain(read.actor);
  });
});

describe("a booking's entry", () => {
  it("rides in an accepted booking's appointment entry, and is appended by the wrapper for a replay: one entry each, the same content", async () => {
    const centerId = gateway.engine.country.data.centers[2]!.center_id;
    const published = await gateway.engine.publishSession({ center_id: centerId, date: gateway.engine.today() + 1, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 5, capacity_dose2: 0 });
    if (!published.ok) throw new Error('publish failed');
    const slot = gateway.engine.country.slotsOf(gateway.engine.country.centersById.get(centerId)!)[0];
    const citizen = await new CowinClient(gateway.url).login(testMobile());
    const beneficiaryId = await citizen.addBeneficiary('Person Booked', 1980, testPhotoId());
    const body = { dose: 1, session_id: published.sessionId, slot, beneficiaries: [beneficiaryId] };
    const retry = { 'idempotency-key': `log-${randomUUID()}` };

    const booked = await loggedBy(() => citizen.post('/api/v2/appointment/schedule', body, retry));
    expect(booked.result.status, booked.result.text).toBe(200);
    const appointmentId = booked.result.json.appointment_confirmation_no as string;
    const replayed = await loggedBy(() => citizen.post('/api/v2/appointment/schedule', body, retry));
    expect(replayed.result.json.appointment_confirmation_no).toBe(appointmentId);
    for (const { entry } of [booked, replayed]) {
      expect(entry).toMatchObject({ actor_kind: 'citizen', partner: '', method: 'POST', route: '/api/v2/appointment/schedule', status: 200 });
      expect(entry.objects).toEqual([`account:${entry.actor}`, `beneficiary:${beneficiaryId}`, `appointment:${appointmentId}`]);
    }
    expect(booked.entry.address).not.toBe('');
    expect({ ...booked.entry, at: 0 }).toEqual({ ...replayed.entry, at: 0 });
    // the booking's entry is its appointment entry's, named by the appointment; the replay's is an entry of its own
    const outbox = ((await gateway.redis.xrange(keys.outbox(), '-', '+')) as StreamEntry[]).map(parseOutboxEntry);
    const booking = outbox.find((e) => e.eventId === `appointment:${appointmentId}:1`);
    expect(booking?.kind === 'appointment' && booking.change.access).toEqual({ route: 'POST /api/v2/appointment/schedule', address: booked.entry.address });
    const named = accessEntriesOf(outbox).filter((e) => e.change.objects.includes(`appointment:${appointmentId}`));
    expect(named.map((e) => e.eventId)).toEqual([`access:booking:${appointmentId}`, expect.stringMatching(/^access:[0-9a-f-]{36}$/)]);
  });
});

describe('the watch', () => {
  it("flags and suspends a vaccinator reaching for people outside its centre's appointments, not one doing a day's work", async () => {
    const centerId = gateway.engine.country.data.centers[1]!.center_id;
    const elsewhere = gateway.engine.country.data.centers[2]!.center_id;
    const [booked, bookedElsewhere] = [await bookedToday(centerId, 5), await bookedToday(elsewhere, 5)];
    const normal = await issueVaccinator('vax-normal', centerId);
    const scraper = await issueVaccinator('vax-scraper', centerId);

    // a normal day, more people than the threshold: the day's list, every person looked up twice and
    // vaccinated, and one mistyped id (a refused reach, counted: 1 of the 3 allowed)
    expect((await normal.get(`/teeka/vaccinator/day?center_id=${centerId}`)).status).toBe(200);
    for (const person of booked) {
      for (let round = 0; round < 2; round++) expect((await normal.get(`/teeka/vaccinator/appointments/${person.appointmentId}`)).status).toBe(200);
      const done = await normal.post('/teeka/vaccinator/vaccinate', { appointment_id: person.appointmentId, beneficiary_reference_id: person.beneficiaryId, security_code: person.code });
      expect(done.status, done.text).toBe(200);
    }
    const mistyped = booked[0]!.appointmentId.slice(0, -1) + (booked[0]!.appointmentId.endsWith('0') ? '1' : '0');
    expect((await normal.get(`/teeka/vaccinator/appointments/${mistyped}`)).status).toBe(404);

    // the scraper reaches for another centre's people: each one refused, and the fourth distinct one
    // flags it and (as configured) suspends it at once
    for (const person of bookedElsewhere.slice(0, 4)) {
      const answer = await scraper.get(`/teeka/vaccinator/appointments/${person.appointmentId}`);
      expect(answer.status, answer.text).toBe(404);
      expect(showsSecret(answer.text, person.code)).toBe(false);
    }
    expect((await scraper.get(`/teeka/vaccinator/appointments/${bookedElsewhere[4]!.appointmentId}`)).status).toBe(401);
    expect((await normal.get(`/teeka/vaccinator/appointments/${booked[0]!.appointmentId}`)).status).toBe(200);

    const flagged = await admin.get('/teeka/admin/access-log/flagged');
    expect(flagged.json.flagged.map((f: { reader: string }) => f.reader)).toEqual(['operator:vax-scraper']);
    await expect
      .poll(async () => (await (await fetch(`${gateway.url}/metrics`)).text()).includes('teeka_access_flagged_total{kind="operator",reader="operator:vax-scraper"} 1'), { timeout: 5000 })
      .toBe(true);
    const operators = (await admin.get('/teeka/admin/operators')).json.operators;
    expect(operators.find((o: { operator_id: string }) => o.operator_id === 'vax-scraper')).toMatchObject({ status: 'revoked', revoked_by: 'access-watch' });
    expect(operators.find((o: { operator_id: string }) => o.operator_id === 'vax-normal')).toMatchObject({ status: 'active' });
  });
});
