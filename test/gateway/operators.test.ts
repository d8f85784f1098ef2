/**
 * Operators over real HTTP: an admin issues and revokes per-operator credentials; a vaccinator sees
 * and acts on their own centres' appointments of the day only; a revoked or re-issued operator's
 * token is refused at once; the day view of a centre; a walk-in booked by the vaccinator and
 * vaccinated with the code the answer carries. The gateway runs on its own migrated
 * PostgreSQL schema (the day view reads which appointments a session holds from it).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCowinDate, yearOf } from '../../engine/dates.js';
import { keys } from '../../engine/keys.js';
import { openPool } from '../../worker/database.js';
import { drainOutboxDirectly } from '../../worker/drain.js';
import { outboxStreams } from '../../worker/outbox.js';
import { migrate } from '../../worker/migrate.js';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';
import { showsSecret } from '../support/secrets.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const schema = `gw_operators_${randomUUID().slice(0, 8)}`;
let gateway: RunningGateway;
let pool: pg.Pool;
let admin: CowinClient;
let centerA: number;
let centerB: number;

beforeAll(async () => {
  await migrate(DATABASE_URL, schema);
  pool = openPool({ databaseUrl: DATABASE_URL, schema, onIdleError: () => {} });
  gateway = await startGateway({ TEEKA_PG_SCHEMA: schema });
  admin = new CowinClient(gateway.url);
  const login = await admin.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' });
  expect(login.status, login.text).toBe(200);
  admin.token = login.json.token;
  const centers = gateway.engine.country.data.centers;
  centerA = centers[0]!.center_id;
  centerB = centers[1]!.center_id;
});

afterAll(async () => {
  await gateway?.stop();
  await pool?.end();
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

async function issue(operatorId: string, role: 'vaccinator' | 'admin', centerIds: number[] = []) {
  const issued = await admin.post('/teeka/admin/operators', { operator_id: operatorId, role, center_ids: centerIds });
  expect(issued.status, issued.text).toBe(200);
  return issued.json as { operator_id: string; role: string; center_ids: number[]; secret: string; version: number };
}

async function operatorLogin(operatorId: string, secret: string): Promise<CowinClient> {
  const client = new CowinClient(gateway.url);
  const login = await client.post('/teeka/auth/operator', { operator_id: operatorId, secret });
  expect(login.status, login.text).toBe(200);
  client.token = login.json.token;
  return client;
}

/** A citizen booked today at `centerId`: the appointment id, beneficiary and the code on the slip. */
async function bookedToday(centerId: number, name: string, day = gateway.engine.today()) {
  const published = await gateway.engine.publishSession({ center_id: centerId, date: day, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 50, capacity_dose2: 0 });
  if (!published.ok) throw new Error('publish failed');
  const citizen = await new CowinClient(gateway.url).login(testMobile());
  const photoId = testPhotoId();
  const beneficiaryId = await citizen.addBeneficiary(name, 1980, photoId);
  const slot = gateway.engine.country.slotsOf(gateway.engine.country.centersById.get(centerId)!)[0];
  const booked = await citizen.post('/api/v2/appointment/schedule', { dose: 1, session_id: published.sessionId, slot, beneficiaries: [beneficiaryId] });
  expect(booked.status, booked.text).toBe(200);
  return { appointmentId: booked.json.appointment_confirmation_no as string, beneficiaryId, code: booked.json.security_codes[0].security_code as string, photoId };
}

describe('operator credentials', () => {
  it('an admin issues a vaccinator an id and a secret shown once (kept only as a scrypt hash); the vaccinator logs in as themselves', async () => {
    const issued = await issue('vax-asha', 'vaccinator', [centerA]);
    expect(issued).toEqual({ operator_id: 'vax-asha', role: 'vaccinator', center_ids: [centerA], secret: expect.stringMatching(/^[\w-]{32}$/), version: 1 });
    const stored = await gateway.redis.hgetall(keys.operator('vax-asha'));
    expect(stored.secret_hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(JSON.stringify(stored)).not.toContain(issued.secret);

    const login = await new CowinClient(gateway.url).post('/teeka/auth/operator', { operator_id: 'vax-asha', secret: issued.secret });
    expect(login.status).toBe(200);
    expect(login.json).toMatchObject({ role: 'vaccinator', operator_id: 'vax-asha', center_ids: [centerA] });

    const listed = await admin.get('/teeka/admin/operators');
    expect(listed.json.operators).toContainEqual(expect.objectContaining({ operator_id: 'vax-asha', role: 'vaccinator', center_ids: [centerA], status: 'active', issued_by: 'admin' }));
    expect(listed.text).not.toContain('scrypt');
  });

  it('no shared vaccinator key and no self-asserted operator id: a wrong secret, an unknown id, the old key are all refused', async () => {
    const issued = await issue('vax-ravi', 'vaccinator', [centerA]);
    const anonymous = new CowinClient(gateway.url);
    const refusals = [
      await anonymous.post('/teeka/auth/operator', { operator_id: 'vax-ravi', secret: `${issued.secret.slice(1)}x` }),
      await anonymous.post('/teeka/auth/operator', { operator_id: 'vax-nobody', secret: issued.secret }),
      await anonymous.post('/teeka/auth/operator', { role: 'vaccinator', key: 'demo-vaccinator-key' }),
      await anonymous.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key', operator_id: 'vax-ravi' }),
      await anonymous.post('/teeka/auth/operator', { role: 'admin', key: 'wrong' }),
    ];
    expect(refusals.map((r) => r.status)).toEqual([401, 401, 401, 400, 401]);
    expect(refusals[0]!.json).toEqual({ errorCode: 'USRAUT0002', error: 'Invalid operator credentials' });
    expect(refusals[1]!.json).toEqual(refusals[0]!.json);
    // the deployment's admin key is not an operator anyone can be issued
    expect((await admin.post('/teeka/admin/operators', { operator_id: 'admin', role: 'admin' })).status).toBe(400);
    // a vaccinator is bound to a centre that exists
    expect((await admin.post('/teeka/admin/operators', { operator_id: 'vax-x', role: 'vaccinator', center_ids: [] })).status).toBe(400);
    expect((await admin.post('/teeka/admin/operators', { operator_id: 'vax-x', role: 'vaccinator', center_ids: [999_999] })).status).toBe(400);
    // a vaccinator cannot issue operators
    const vaccinator = await operatorLogin('vax-ravi', issued.secret);
    expect((await vaccinator.post('/teeka/admin/operators', { operator_id: 'vax-y', role: 'admin' })).status).toBe(403);
  });

  it('a revoked operator’s token is refused from the next request on, on every gateway thread; new credentials end the old ones', async () => {
    const { appointmentId } = await bookedToday(centerA, 'Meena Iyer');
    const issued = await issue('vax-kiran', 'vaccinator', [centerA]);
    const vaccinator = await operatorLogin('vax-kiran', issued.secret);
    // two threads answer: a few requests reach both
    for (let i = 0; i < 4; i++) expect((await vaccinator.get(`/teeka/vaccinator/appointments/${appointmentId}`)).status).toBe(200);

    const revoked = await admin.post('/teeka/admin/operators/revoke', { operator_id: 'vax-kiran' });
    expect(revoked.status, revoked.text).toBe(200);
    expect(revoked.json).toEqual({ operator_id: 'vax-kiran', status: 'revoked', version: 2 });
    for (let i = 0; i < 4; i++) {
      const refused = await vaccinator.get(`/teeka/vaccinator/appointments/${appointmentId}`);
      expect(refused.status).toBe(401);
      expect(refused.json).toEqual({ errorCode: 'USRAUT0001', error: 'Unauthenticated access!' });
    }
    expect((await new CowinClient(gateway.url).post('/teeka/auth/operator', { operator_id: 'vax-kiran', secret: issued.secret })).status).toBe(401);
    expect((await admin.post('/teeka/admin/operators/revoke', { operator_id: 'vax-nobody' })).status).toBe(404);

    // issued again: a new secret; the first one stays dead
    const again = await issue('vax-kiran', 'vaccinator', [centerA]);
    expect(again.version).toBe(3);
    expect((await new CowinClient(gateway.url).post('/teeka/auth/operator', { operator_id: 'vax-kiran', secret: issued.secret })).status).toBe(401);
    const back = await operatorLogin('vax-kiran', again.secret);
    expect((await back.get(`/teeka/vaccinator/appointments/${appointmentId}`)).status).toBe(200);
    // and re-issuing (say, to move them to another centre) ends the session of the token in hand
    await issue('vax-kiran', 'vaccinator', [centerB]);
    expect((await back.get(`/teeka/vaccinator/appointments/${appointmentId}`)).status).toBe(401);
  });
});

describe('a vaccinator and their centre', () => {
  it("sees and vaccinates their own centre's appointment of the day; another centre's gets exactly the answer of a missing one", async () => {
    const ours = await bookedToday(centerA, 'Priya Nair');
    const theirs = await bookedToday(centerB, 'Arjun Das');
    const tomorrow = await bookedToday(centerA, 'Kavya Rao', gateway.engine.today() + 1);
    const issued = await issue('vax-centre-a', 'vaccinator', [centerA]);
    const vaccinator = await operatorLogin('vax-centre-a', issued.secret);

    const own = await vaccinator.get(`/teeka/vaccinator/appointments/${ours.appointmentId}`);
    expect(own.status).toBe(200);
    expect(own.json).toMatchObject({ center_id: centerA, beneficiaries: [{ beneficiary_reference_id: ours.beneficiaryId, name: 'Priya Nair', appointment_status: 'booked' }] });
    expect(showsSecret(own.text, ours.code)).toBe(false);

    const missing = await vaccinator.get(`/teeka/vaccinator/appointments/${randomUUID()}`);
    const other = await vaccinator.get(`/teeka/vaccinator/appointments/${theirs.appointmentId}`);
    const notToday = await vaccinator.get(`/teeka/vaccinator/appointments/${tomorrow.appointmentId}`);
    expect(missing.status).toBe(404);
    for (const answer of [other, notToday]) {
      expect(answer.status).toBe(missing.status);
      expect(answer.text).toBe(missing.text);
    }

    const vaccinateMissing = await vaccinator.post('/teeka/vaccinator/vaccinate', { appointment_id: randomUUID(), beneficiary_reference_id: theirs.beneficiaryId, security_code: theirs.code });
    const vaccinateTheirs = await vaccinator.post('/teeka/vaccinator/vaccinate', { appointment_id: theirs.appointmentId, beneficiary_reference_id: theirs.beneficiaryId, security_code: theirs.code });
    expect(vaccinateMissing.status).toBe(404);
    expect(vaccinateTheirs.status).toBe(404);
    expect(vaccinateTheirs.text).toBe(vaccinateMissing.text);
    expect((await gateway.engine.getAppointment(theirs.appointmentId))!.beneficiaries[0]!.status).toBe('booked');

    const done = await vaccinator.post('/teeka/vaccinator/vaccinate', { appointment_id: ours.appointmentId, beneficiary_reference_id: ours.beneficiaryId, security_code: ours.code });
    expect(done.status, done.text).toBe(200);
    expect(done.json).toEqual({ dose: 1, vaccine: 'COVISHIELD', date: formatCowinDate(gateway.engine.today()), certificate_id: expect.any(String) });
    // the vaccination goes to the outbox of the account's records (the booking partition's, or its own partition's)
    const owner = (await gateway.engine.getAppointment(ours.appointmentId))!.account_id;
    const outbox = await gateway.redis.xrange(gateway.engine.records.accountOutbox(owner), '-', '+');
    const vaccinated = outbox.map(([, f]) => JSON.parse(f[f.indexOf('data') + 1]!)).find((d) => d.appointment_id === ours.appointmentId && d.action === 'vaccinated');
    expect(vaccinated.vaccinator_id).toBe('vax-centre-a');
  });

  it('wrong codes over HTTP: refused with the tries left, then locked', async () => {
    const ours = await bookedToday(centerA, 'Lata Menon');
    const issued = await issue('vax-codes', 'vaccinator', [centerA]);
    const vaccinator = await operatorLogin('vax-codes', issued.secret);
    const wrong = String((Number(ours.code) + 1) % 10_000).padStart(4, '0');
    const attempt = (code: string) => vaccinator.post('/teeka/vaccinator/vaccinate', { appointment_id: ours.appointmentId, beneficiary_reference_id: ours.beneficiaryId, security_code: code });
    for (const left of [4, 3, 2, 1, 0]) {
      const refused = await attempt(wrong);
      expect(refused.status).toBe(400);
      expect(refused.json.errorCode).toBe('APPOIN0036');
      expect(refused.json.error).toContain(`(${left} wrong code${left === 1 ? '' : 's'} left`);
    }
    const locked = await attempt(ours.code);
    expect(locked.status).toBe(423);
    expect(locked.json.errorCode).toBe('APPOIN0037');
    expect((await vaccinator.get(`/teeka/vaccinator/appointments/${ours.appointmentId}`)).json.locked).toBe(true);
    expect((await attempt('12')).status).toBe(400); // not 4 digits: refused before any count
  });

  it("the day view: today's appointments at the centre with their status, searchable by reference id or the photo ID's last 4", async () => {
    const centerC = gateway.engine.country.data.centers[2]!.center_id;
    const first = await bookedToday(centerC, 'Farah Khan');
    const second = await bookedToday(centerC, 'Gopal Singh');
    await bookedToday(centerB, 'Elsewhere Person');
    await bookedToday(centerC, 'Tomorrow Person', gateway.engine.today() + 1);
    await drainOutboxDirectly(gateway.redis, pool, 500, outboxStreams(gateway.engine.partitions));
    const issued = await issue('vax-centre-c', 'vaccinator', [centerC]);
    const vaccinator = await operatorLogin('vax-centre-c', issued.secret);

    const day = await vaccinator.get('/teeka/vaccinator/day');
    expect(day.status, day.text).toBe(200);
    expect(day.json).toMatchObject({ center_id: centerC, date: formatCowinDate(gateway.engine.today()) });
    const names = (d: any) => d.appointments.flatMap((a: any) => a.beneficiaries.map((b: any) => `${b.name}:${b.appointment_status}`)).sort();
    expect(names(day.json)).toEqual(['Farah Khan:booked', 'Gopal Singh:booked']);
    expect(showsSecret(day.text, first.code)).toBe(false);

    const byLast4 = await vaccinator.get(`/teeka/vaccinator/day?q=${second.photoId.slice(-4)}`);
    expect(names(byLast4.json)).toEqual(['Gopal Singh:booked']);
    const byReference = await vaccinator.get(`/teeka/vaccinator/day?q=${first.beneficiaryId}`);
    expect(names(byReference.json)).toEqual(['Farah Khan:booked']);

    // statuses are Redis's: a dose recorded a moment ago shows at once
    expect((await vaccinator.post('/teeka/vaccinator/vaccinate', { appointment_id: first.appointmentId, beneficiary_reference_id: first.beneficiaryId, security_code: first.code })).status).toBe(200);
    expect(names((await vaccinator.get('/teeka/vaccinator/day')).json)).toEqual(['Farah Khan:vaccinated', 'Gopal Singh:booked']);

    // another centre's day is a centre that does not exist; a vaccinator of several names one
    const otherDay = await vaccinator.get(`/teeka/vaccinator/day?center_id=${centerB}`);
    expect(otherDay.status).toBe(404);
    expect(otherDay.text).toBe((await vaccinator.get('/teeka/vaccinator/day?center_id=424242')).text);
    const several = await operatorLogin('vax-two', (await issue('vax-two', 'vaccinator', [centerB, centerC])).secret);
    expect((await several.get('/teeka/vaccinator/day')).status).toBe(400);
    expect(names((await several.get(`/teeka/vaccinator/day?center_id=${centerB}`)).json)).toContain('Elsewhere Person:booked');
  });
});

describe('a walk-in at the centre', () => {
  /** Today's (or `day`'s) COVAXIN session at a centre, `seats` dose-1 seats, any of them in any slot. */
  async function session(centerId: number, seats: number, day = gateway.engine.today()) {
    const slots = gateway.engine.country.slotsOf(gateway.engine.country.centersById.get(centerId)!);
    const published = await gateway.engine.publishSession({
      center_id: centerId,
      date: day,
      vaccine: 'COVAXIN',
      min_age_limit: 18,
      capacity_dose1: seats,
      capacity_dose2: 0,
      slot_capacity: slots.map(() => seats),
    });
    if (!published.ok) throw new Error(`publish failed: ${published.status}`);
    return published.sessionId;
  }
  const slotAt = (centerId: number) => gateway.engine.country.slotsOf(gateway.engine.country.centersById.get(centerId)!)[1]!;
  /** A person who came without a booking, as the vaccinator types them in. */
  const person = (name: string, extra: Record<string, unknown> = {}) => ({
    mobile: testMobile(),
    name,
    birth_year: 1979,
    gender_id: 2,
    photo_id_type: 1,
    photo_id_number: testPhotoId(),
    comorbidity_ind: 'N',
    consent_version: 'V1',
    dose: 1,
    ...extra,
  });
  const dose1Seats = async (client: CowinClient, centerId: number, sessionId: string) => {
    const calendar = await client.get(`/api/v2/appointment/sessions/public/calendarByCenter?center_id=${centerId}&date=${formatCowinDate(gateway.engine.today())}`);
    return calendar.json.centers.sessions.find((s: any) => s.session_id === sessionId)?.available_capacity_dose1;
  };

  it('books a free seat of today at their own centre, refuses a full session, another centre, another day and the same person twice; the code records the dose', async () => {
    const centerD = gateway.engine.country.data.centers[3]!.center_id;
    const centerE = gateway.engine.country.data.centers[4]!.center_id;
    const today = await session(centerD, 2);
    const elsewhere = await session(centerE, 5);
    const tomorrow = await session(centerD, 5, gateway.engine.today() + 1);
    const vaccinator = await operatorLogin('vax-walk-in', (await issue('vax-walk-in', 'vaccinator', [centerD])).secret);
    const slot = slotAt(centerD);
    expect(await dose1Seats(vaccinator, centerD, today)).toBe(2);

    const walker = person('Sunita Devi');
    const booked = await vaccinator.post('/teeka/vaccinator/walk-in', { ...walker, session_id: today, slot });
    expect(booked.status, booked.text).toBe(200);
    expect(booked.json).toEqual({
      appointment_id: expect.any(String),
      beneficiary_reference_id: expect.stringMatching(/^\d{14}$/),
      name: 'Sunita Devi',
      registered: true,
      center_id: centerD,
      date: formatCowinDate(gateway.engine.today()),
      slot,
      dose: 1,
      security_code: expect.stringMatching(/^\d{4}$/),
    });
    // the seat is taken, as for any booking: the public calendar shows one fewer
    await expect.poll(() => dose1Seats(vaccinator, centerD, today)).toBe(1);
    // the person is a beneficiary of their mobile's account: logging in with it shows the appointment and its code
    const citizen = await new CowinClient(gateway.url).login(walker.mobile);
    const own = (await citizen.get('/api/v2/appointment/beneficiaries')).json.beneficiaries;
    expect(own).toEqual([expect.objectContaining({ beneficiary_reference_id: booked.json.beneficiary_reference_id, name: 'Sunita Devi', birth_year: '1979', gender: 'Female' })]);
    expect(own[0].appointments).toEqual([expect.objectContaining({ appointment_id: booked.json.appointment_id, security_code: booked.json.security_code })]);

    // the same person again (same photo ID, same mobile): their registration is reused, the booking refused
    const twice = await vaccinator.post('/teeka/vaccinator/walk-in', { ...walker, session_id: today, slot });
    expect(twice.status).toBe(409);
    expect(twice.json).toEqual({ errorCode: 'APPOIN0026', error: `Beneficiary already has an appointment for this dose (beneficiary ${booked.json.beneficiary_reference_id})` });
    expect((await citizen.get('/api/v2/appointment/beneficiaries')).json.beneficiaries).toHaveLength(1);
    // the same photo ID on another mobile: registered elsewhere, refused as the citizen's registration is
    const otherMobile = await vaccinator.post('/teeka/vaccinator/walk-in', { ...walker, mobile: testMobile(), session_id: today, slot });
    expect(otherMobile.status).toBe(409);
    expect(otherMobile.json.errorCode).toBe('BENREG0011');

    // the last seat, then full
    expect((await vaccinator.post('/teeka/vaccinator/walk-in', { ...person('Imran Qureshi'), session_id: today, slot })).status).toBe(200);
    const full = await vaccinator.post('/teeka/vaccinator/walk-in', { ...person('Late Comer'), session_id: today, slot });
    expect(full.status).toBe(409);
    expect(full.json.errorCode).toBe('APPOIN0040');

    // another centre's session, another day's, and one that does not exist: one answer
    const missing = await vaccinator.post('/teeka/vaccinator/walk-in', { ...person('Nobody Here'), session_id: randomUUID(), slot });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ errorCode: 'APPOIN0011', error: 'Session not found' });
    for (const sessionId of [elsewhere, tomorrow]) {
      const refused = await vaccinator.post('/teeka/vaccinator/walk-in', { ...person('Wrong Place'), session_id: sessionId, slot: slotAt(centerE) });
      expect(refused.status).toBe(404);
      expect(refused.text).toBe(missing.text);
    }
    expect((await gateway.engine.getSession(elsewhere))!.booked1).toBe(0);

    // the citizen's rules: too young for the session, a bad photo ID, a name that is not one; and a
    // citizen's token is not a vaccinator's
    const young = await vaccinator.post('/teeka/vaccinator/walk-in', { ...person('Young Person', { birth_year: yearOf(gateway.engine.today()) - 10 }), session_id: today, slot });
    expect([young.status, young.json.errorCode]).toEqual([409, 'APPOIN0022']);
    const badId = await vaccinator.post('/teeka/vaccinator/walk-in', { ...person('Bad Id', { photo_id_number: '12' }), session_id: today, slot });
    expect([badId.status, badId.json.error]).toEqual([400, 'photo_id_number: expected 12 digits for Aadhaar Card, like 1234 5678 9012']);
    const badName = await vaccinator.post('/teeka/vaccinator/walk-in', { ...person('<script>'), session_id: today, slot });
    expect(badName.status).toBe(400);
    expect(badName.json.error).toMatch(/^name: expected a name/);
    expect((await citizen.post('/teeka/vaccinator/walk-in', { ...person('Self Service'), session_id: today, slot })).status).toBe(403);

    // the code the vaccinator handed over records the dose and issues the certificate
    const done = await vaccinator.post('/teeka/vaccinator/vaccinate', {
      appointment_id: booked.json.appointment_id,
      beneficiary_reference_id: booked.json.beneficiary_reference_id,
      security_code: booked.json.security_code,
    });
    expect(done.status, done.text).toBe(200);
    expect(done.json).toEqual({ dose: 1, vaccine: 'COVAXIN', date: formatCowinDate(gateway.engine.today()), certificate_id: expect.any(String) });
    const certificate = await citizen.get(`/api/v2/registration/certificate/public/download?beneficiary_reference_id=${booked.json.beneficiary_reference_id}`);
    expect(certificate.status).toBe(200);
    expect(certificate.headers.get('content-type')).toContain('application/pdf');
  });

  it('someone registered online who arrives without a booking is booked as their existing beneficiary, not registered twice', async () => {
    const centerF = gateway.engine.country.data.centers[5]!.center_id;
    const today = await session(centerF, 5);
    const vaccinator = await operatorLogin('vax-walk-in-f', (await issue('vax-walk-in-f', 'vaccinator', [centerF])).secret);
    const mobile = testMobile();
    const photoId = testPhotoId();
    const citizen = await new CowinClient(gateway.url).login(mobile);
    const registeredId = await citizen.addBeneficiary('Rekha Sharma', 1975, photoId);

    // typed at the desk with spaces in the number and the name spelt differently: the photo ID decides who it is
    const spaced = `${photoId.slice(0, 4)} ${photoId.slice(4, 8)} ${photoId.slice(8)}`;
    const walkIn = { ...person('Rekha Sarma', { mobile, photo_id_number: spaced }), session_id: today, slot: slotAt(centerF) };
    const booked = await vaccinator.post('/teeka/vaccinator/walk-in', walkIn);
    expect(booked.status, booked.text).toBe(200);
    expect(booked.json).toMatchObject({ beneficiary_reference_id: registeredId, name: 'Rekha Sharma', registered: false });
    const listed = (await citizen.get('/api/v2/appointment/beneficiaries')).json.beneficiaries;
    expect(listed).toHaveLength(1);
    expect(listed[0].appointments[0]).toMatchObject({ appointment_id: booked.json.appointment_id, security_code: booked.json.security_code });
  });
});
