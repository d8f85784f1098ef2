/**
 * Fair admission through real gateway processes (issue 16): the admin's switch, joining (one place
 * per account and per beneficiary under real concurrency), the shuffle at the opening and its replay,
 * admissions at the rate and bounded by the seats left, `schedule` with and without an admission,
 * expiry passing the turn on, the WebSocket pushes, and a gateway killed with SIGKILL mid-opening.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { formatCowinDate } from '../../engine/dates.js';
import { replayShuffle } from '../../engine/fair-admission.js';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';

let gateway: RunningGateway;
let admin: CowinClient;
let centerId: number;
let day: number;
beforeAll(async () => {
  gateway = await startGateway();
  admin = new CowinClient(gateway.url);
  admin.token = (await admin.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' })).json.token;
  centerId = gateway.engine.country.centersByDistrict.get(294)![0]!.center_id;
  day = gateway.engine.today() + 2;
}, 90_000);
afterAll(() => gateway?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Publish a session through the admin API; `opensInMs` from the gateway's now. */
async function publish(fields: Record<string, unknown>, opensInMs: number, vaccine = 'COVAXIN', minAge = 18): Promise<string> {
  const response = await admin.post('/teeka/admin/sessions', {
    center_id: centerId,
    date: formatCowinDate(day),
    vaccine,
    min_age_limit: minAge,
    capacity_dose1: 10,
    capacity_dose2: 0,
    opens_at: new Date(gateway.engine.now() + opensInMs).toISOString(),
    ...fields,
  });
  expect(response.status, response.text).toBe(200);
  return response.json.session_id as string;
}

interface Citizen {
  client: CowinClient;
  beneficiaries: string[];
}

async function citizen(beneficiaries = 1): Promise<Citizen> {
  const client = await new CowinClient(gateway.url).login(testMobile());
  const ids: string[] = [];
  for (let i = 0; i < beneficiaries; i++) ids.push(await client.addBeneficiary(`Person ${String.fromCharCode(65 + i)}`, 1980 + i, testPhotoId()));
  return { client, beneficiaries: ids };
}

async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${ms} ms`);
    await sleep(50);
  }
}

describe('the admin switch', () => {
  it('refuses queue settings without fair_admission and bad rates, and joining a session without it', async () => {
    const bad = await admin.post('/teeka/admin/sessions', {
      center_id: centerId, date: formatCowinDate(day), vaccine: 'COVAXIN', min_age_limit: 45, capacity_dose1: 5, capacity_dose2: 0, admission_rate: 5,
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/admission_rate: only with fair_admission: true/);
    const zero = await admin.post('/teeka/admin/sessions', {
      center_id: centerId, date: formatCowinDate(day), vaccine: 'COVAXIN', min_age_limit: 45, capacity_dose1: 5, capacity_dose2: 0, fair_admission: true, admission_rate: 0,
    });
    expect(zero.status).toBe(400);
    expect(zero.json.error).toMatch(/admission_rate/);

    const plain = await publish({}, 0, 'COVAXIN', 45);
    const { client, beneficiaries } = await citizen();
    const joined = await client.post('/teeka/queue/join', { session_id: plain, beneficiaries });
    expect(joined.status).toBe(409);
    expect(joined.json.errorCode).toBe('APPOIN0054');
  });
});

describe('an opening under fair admission', () => {
  it('pre-queues, shuffles once at opens_at, admits in order, and schedule needs the admission', async () => {
    const sessionId = await publish({ fair_admission: true, prequeue_minutes: 30, admission_rate: 2 }, 4000);
    const people = await Promise.all(Array.from({ length: 6 }, () => citizen()));

    // before the opening: a place in the pre-queue, no position yet
    const joins = await Promise.all(people.map((p) => p.client.post('/teeka/queue/join', { session_id: sessionId, beneficiaries: p.beneficiaries })));
    for (const join of joins) {
      expect(join.status, join.text).toBe(200);
      expect(join.json).toMatchObject({ session_id: sessionId, position: null, state: 'prequeue', joined: true });
    }
    // a second device of the same account: the same place
    const again = await people[0]!.client.post('/teeka/queue/join', { session_id: sessionId, beneficiaries: people[0]!.beneficiaries });
    expect(again.json).toMatchObject({ state: 'prequeue', joined: false });
    // someone else's beneficiary is refused, as the booking refuses it
    const stranger = await people[1]!.client.post('/teeka/queue/join', { session_id: sessionId, beneficiaries: people[0]!.beneficiaries });
    expect([stranger.status, stranger.json.errorCode]).toEqual([404, 'APPOIN0020']);

    // an old client (a bot) calling schedule: the CoWIN-style error saying the session opens through the queue
    const slot = gateway.engine.country.slotsOf(gateway.engine.country.centersById.get(centerId)!)[0]!;
    const bot = await people[5]!.client.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessionId, slot, beneficiaries: people[5]!.beneficiaries });
    expect(bot.status).toBe(403);
    expect(bot.json).toEqual({ errorCode: 'APPOIN0050', error: expect.stringMatching(/opens through the queue/) });

    // after the opening: everyone has a position, 1..6 between them
    const statuses = await waitFor(
      'positions after the opening',
      () => Promise.all(people.map((p) => p.client.get(`/teeka/queue/status?session_id=${sessionId}`))),
      (all) => all.every((s) => s.json.state !== 'prequeue'),
    );
    const audit = (await admin.get(`/teeka/admin/queue/audit?session_id=${sessionId}`)).json;
    expect(audit.order).toHaveLength(6);
    expect(audit.replays).toBe(true);
    expect(replayShuffle(audit.seed, audit.joined)).toEqual(audit.order);

    // the first admitted books with its admission; the admission cannot be used twice
    const admitted = await waitFor(
      'a first admission',
      () => Promise.all(people.map((p) => p.client.get(`/teeka/queue/status?session_id=${sessionId}`))),
      (all) => all.some((s) => s.json.admitted),
    );
    expect(statuses.length).toBe(6);
    const first = admitted.findIndex((s) => s.json.admitted);
    const body = admitted[first]!.json;
    expect(body.admission).toMatch(/^[0-9a-f]{16}\.\d+$/);
    expect(Date.parse(body.admission_expires_at)).toBeGreaterThan(gateway.engine.now());
    const person = people[first]!;
    const other = people[(first + 1) % 6]!;
    // another account's admission is not this one's
    const stolen = await other.client.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessionId, slot, beneficiaries: other.beneficiaries, admission: body.admission });
    expect(stolen.json.errorCode).toBe('APPOIN0051');
    const booked = await person.client.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessionId, slot, beneficiaries: person.beneficiaries }, { 'x-admission': body.admission });
    expect(booked.status, booked.text).toBe(200);
    expect(booked.json.appointment_confirmation_no).toBeTruthy();
    const twice = await person.client.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessionId, slot, beneficiaries: person.beneficiaries, admission: body.admission });
    expect(twice.json.errorCode).toBe('APPOIN0053');
    expect((await person.client.get(`/teeka/queue/status?session_id=${sessionId}`)).json.state).toBe('used');
  }, 60_000);
});
