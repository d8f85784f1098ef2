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
    // logged in before the publication: what must happen before the opening is then only the joins
    const people = await Promise.all(Array.from({ length: 6 }, () => citizen()));
    const sessionId = await publish({ fair_admission: true, prequeue_minutes: 30, admission_rate: 2 }, 4000);

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
    // once open, no seat is taken past the queue by booking another session and moving the appointment in
    // (another vaccine's session: a session's id comes from its centre, day, vaccine and age limit;
    // opened a minute ago, well before this moment on any process's clock)
    const elsewhere = await publish({}, -60_000, 'COVAXIN', 45);
    const mover = await citizen();
    const bookedElsewhere = await mover.client.post('/api/v2/appointment/schedule', { dose: 1, session_id: elsewhere, slot, beneficiaries: mover.beneficiaries });
    expect(bookedElsewhere.status, bookedElsewhere.text).toBe(200);
    const appointmentId = bookedElsewhere.json.appointment_confirmation_no as string;
    // to another slot, which a move without the queue would get (the same centre and slot is refused anyway)
    const otherSlot = gateway.engine.country.slotsOf(gateway.engine.country.centersById.get(centerId)!)[1]!;
    const moved = await mover.client.post('/api/v2/appointment/reschedule', { appointment_id: appointmentId, session_id: sessionId, slot: otherSlot });
    expect([moved.status, moved.json.errorCode]).toEqual([409, 'APPOIN0058']);
    expect((await gateway.engine.getAppointment(appointmentId))!.session_id).toBe(elsewhere);
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

describe('joining under real concurrency', () => {
  it('gives one place per account and per beneficiary, however many requests race', async () => {
    const sessionId = await publish({ fair_admission: true, admission_rate: 1 }, 60_000, 'COVAXIN', 30);
    const crowd = await Promise.all(Array.from({ length: 30 }, (_, i) => citizen(i % 3 === 0 ? 2 : 1)));
    // every account fires six joins at once (its devices), with its beneficiaries in different subsets
    const attempts = crowd.flatMap((p) =>
      Array.from({ length: 6 }, (_, k) => ({ p, beneficiaries: p.beneficiaries.length === 2 && k % 3 !== 2 ? [p.beneficiaries[k % 2]!] : p.beneficiaries })),
    );
    const answers = await Promise.all(attempts.map(({ p, beneficiaries }) => p.client.post('/teeka/queue/join', { session_id: sessionId, beneficiaries })));
    for (const answer of answers) expect(answer.status, answer.text).toBe(200);
    for (const [i] of crowd.entries()) {
      const mine = answers.slice(i * 6, i * 6 + 6);
      expect(mine.filter((a) => a.json.joined).length).toBe(1);
    }
    const k = gateway.engine.fairAdmission.keysOf(sessionId);
    expect(await gateway.redis.hlen(k.places)).toBe(30);
    expect(await gateway.redis.zcard(k.line)).toBe(30);
    // each beneficiary in at most one place, and every place's beneficiaries the account's own
    const places = Object.entries(await gateway.redis.hgetall(k.places)).map(([, json]) => JSON.parse(json) as { b: string[] });
    const held = places.flatMap((p) => p.b);
    expect(new Set(held).size).toBe(held.length);
    expect(await gateway.redis.hlen(k.beneficiaries)).toBe(held.length);
  }, 120_000);
});

/** A WebSocket that collects every message. */
async function socketOf(url: string): Promise<{ socket: WebSocket; messages: any[] }> {
  const socket = new WebSocket(url);
  const messages: any[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return { socket, messages };
}

describe('the WebSocket', () => {
  it("pushes a citizen's position as it falls, then the admission, which books", async () => {
    const crowd = await Promise.all(Array.from({ length: 5 }, () => citizen()));
    const sessionId = await publish({ fair_admission: true, admission_rate: 1 }, 2500, 'COVISHIELD', 18);
    for (const p of crowd) expect((await p.client.post('/teeka/queue/join', { session_id: sessionId, beneficiaries: p.beneficiaries })).status).toBe(200);
    const sockets = await Promise.all(crowd.map(() => socketOf(`ws://127.0.0.1:${gateway.port}/teeka/ws/availability`)));
    // a bad token is refused on the socket, in the API's words
    sockets[0]!.socket.send(JSON.stringify({ queue: { session_id: sessionId, token: 'nope' } }));
    crowd.forEach((p, i) => sockets[i]!.socket.send(JSON.stringify({ queue: { session_id: sessionId, token: p.client.token } })));
    await waitFor('the refusal', async () => sockets[0]!.messages, (m) => m.some((x) => x.type === 'error'));
    expect(sockets[0]!.messages.find((x) => x.type === 'error')).toMatchObject({ session_id: sessionId, errorCode: 'USRAUT0001' });
    // the last place of the shuffle sees its position fall to 1, then its admission
    await waitFor('every place admitted', async () => sockets.map((s) => s.messages), (all) => all.every((m) => m.some((x) => x.type === 'queue' && x.admitted)), 20_000);
    const positionsOf = (messages: any[]) => messages.filter((x) => x.type === 'queue' && x.state === 'waiting').map((x) => x.position as number);
    const longest = sockets.map((s) => positionsOf(s.messages)).sort((a, b) => b.length - a.length)[0]!;
    expect(longest.length).toBeGreaterThanOrEqual(3);
    expect(longest).toEqual([...longest].sort((a, b) => b - a));
    expect(longest.at(-1)).toBe(1);
    const first = sockets[0]!.messages.filter((x) => x.type === 'queue');
    expect(first[0]).toMatchObject({ session_id: sessionId, state: 'prequeue', position: null, admitted: false });
    const admittedMessage = first.find((x) => x.admitted);
    expect(admittedMessage).toMatchObject({ state: 'admitted', admission: expect.stringMatching(/^[0-9a-f]{16}\.\d+$/), admission_expires_at: expect.any(String) });
    const slot = gateway.engine.country.slotsOf(gateway.engine.country.centersById.get(centerId)!)[1]!;
    const booked = await crowd[0]!.client.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessionId, slot, beneficiaries: crowd[0]!.beneficiaries, admission: admittedMessage.admission });
    expect(booked.status, booked.text).toBe(200);
    for (const s of sockets) s.socket.close();
    // the dashboard's numbers for this opening: each thread shows its own last admission turn (200 ms
    // apart), and the last admission may have been another thread's
    const opening = await waitFor(
      "the dashboard's numbers",
      async () => (await admin.get('/teeka/ops/openings')).json.openings.find((o: any) => o.session_id === sessionId),
      (o) => o?.admitted === 5,
    );
    expect(opening).toMatchObject({ phase: 'open', shuffled: true, admitted: 5, admission_rate: 1, queue_length: 0 });
    // /metrics is aggregated over the threads once a second
    const line = new RegExp(`teeka_queue_admitted\\{session_id="${sessionId}"\\} 5`);
    await waitFor('the queue gauges in /metrics', async () => (await fetch(`${gateway.url}/metrics`)).text(), (text) => line.test(text));
  }, 60_000);
});

describe('a gateway killed with SIGKILL during the opening', () => {
  it('loses no place and admits no one twice: another gateway carries on from Redis', async () => {
    const doomed = await startGateway();
    const survivor = await startGateway({ TEEKA_REDIS_PREFIX: doomed.prefix });
    try {
      const boss = new CowinClient(doomed.url);
      boss.token = (await boss.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' })).json.token;
      // the citizens first (logins take a while on a busy machine), then an opening 3 s away they all join before
      const crowd = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const client = await new CowinClient(doomed.url).login(testMobile());
          return { client, id: await client.addBeneficiary('Asha Rao', 1970, testPhotoId()) };
        }),
      );
      const published = await boss.post('/teeka/admin/sessions', {
        center_id: centerId, date: formatCowinDate(day), vaccine: 'COVISHIELD', min_age_limit: 45, capacity_dose1: 40, capacity_dose2: 0,
        opens_at: new Date(doomed.engine.now() + 3000).toISOString(), fair_admission: true, admission_rate: 4,
      });
      expect(published.status, published.text).toBe(200);
      const sessionId = published.json.session_id as string;
      const joins = await Promise.all(crowd.map(({ client, id }) => client.post('/teeka/queue/join', { session_id: sessionId, beneficiaries: [id] })));
      for (const join of joins) expect(join.json).toMatchObject({ state: 'prequeue' });
      const k = doomed.engine.fairAdmission.keysOf(sessionId);
      // one transaction: the places and the line as one moment saw them (a place the shuffle put in the
      // line reads `pre` until it leaves it: lua/includes/fairQueue.lua settlePlace)
      const census = async () => {
        const [[, hash], [, line]] = (await survivor.redis.multi().hgetall(k.places).zcard(k.line).exec()) as [[null, Record<string, string>], [null, number]];
        const places = Object.values(hash).map((json) => JSON.parse(json) as { st: string });
        const count = (st: string) => places.filter((p) => p.st === st).length;
        return { places: places.length, waiting: line, admitted: count('admitted'), lapsed: count('lapsed'), expired: count('expired'), waitingPlaces: count('waiting') + count('pre') };
      };
      // into the opening: some admitted, most waiting; then the kill
      await waitFor('the first admissions', census, (c) => c.admitted >= 3);
      doomed.process.kill('SIGKILL');
      await new Promise((resolve) => doomed.process.once('exit', resolve));
      expect(doomed.process.signalCode).toBe('SIGKILL');
      const samples: Awaited<ReturnType<typeof census>>[] = [];
      const done = await waitFor('everyone admitted by the survivor', async () => {
        const c = await census();
        samples.push(c);
        return c;
      }, (c) => c.admitted === 20, 30_000);
      // at every moment each place was either in the line or admitted, never lost or skipped
      for (const c of samples) {
        expect(c.places).toBe(20);
        expect(c.waiting).toBe(c.waitingPlaces);
        expect(c.waiting + c.admitted).toBe(20);
        expect(c.lapsed + c.expired).toBe(0);
      }
      expect(done.waiting).toBe(0);
      const state = await survivor.redis.hmget(k.state, 'admitted', 'out_seats');
      expect(state).toEqual(['20', '20']);
      // the admissions are distinct, and the survivor accepts them for booking
      const statuses = await Promise.all(crowd.map(({ client }) => Object.assign(new CowinClient(survivor.url), { token: client.token }).get(`/teeka/queue/status?session_id=${sessionId}`)));
      const admissions = statuses.map((s) => s.json.admission as string);
      expect(new Set(admissions).size).toBe(20);
      const slot = survivor.engine.country.slotsOf(survivor.engine.country.centersById.get(centerId)!)[0]!;
      const me = Object.assign(new CowinClient(survivor.url), { token: crowd[0]!.client.token });
      const booked = await me.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessionId, slot, beneficiaries: [crowd[0]!.id], admission: admissions[0] });
      expect(booked.status, booked.text).toBe(200);
    } finally {
      await doomed.stop({ keepData: true });
      await survivor.stop();
    }
  }, 240_000);
});
