/**
 * A WebSocket subscriber sees a booking's new capacity within milliseconds (asserted within a
 * second: a loaded CI machine stalls threads), whichever thread it is on;
 * bad upgrades are refused with a CoWIN-style error; one address cannot hold more than its share of
 * connections, and a subscriber that never reads is dropped instead of buffered for.
 */
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway?.stop());

function open(url: string): Promise<{ socket: WebSocket; messages: { at: number; data: any }[] }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const messages: { at: number; data: any }[] = [];
    socket.on('message', (data) => messages.push({ at: performance.now(), data: JSON.parse(String(data)) }));
    socket.once('open', () => resolve({ socket, messages }));
    socket.once('error', reject);
  });
}

it('pushes the new capacity of a booked session to every subscriber of its district', async () => {
  const center = gateway.engine.country.centersByDistrict.get(266)![0]!; // Mysore
  const published = await gateway.engine.publishSession({ center_id: center.center_id, date: gateway.engine.today() + 1, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 7, capacity_dose2: 3 });
  if (!published.ok) throw new Error('publish failed');
  const citizen = await new CowinClient(gateway.url).login(testMobile());
  const id = await citizen.addBeneficiary('Live Watcher', 1990, testPhotoId());

  // several connections: the kernel spreads them over the gateway's threads
  const subscribers = await Promise.all(Array.from({ length: 6 }, () => open(`ws://127.0.0.1:${gateway.port}/teeka/ws/availability?district_id=266`)));
  const other = await open(`ws://127.0.0.1:${gateway.port}/teeka/ws/availability`);
  other.socket.send(JSON.stringify({ subscribe: [140] }));
  // each socket is subscribed once it said so (the URL's district at the upgrade; the other one twice)
  await expect.poll(() => [...subscribers, other].every((s) => s.messages.length >= 1) && other.messages.length >= 2, { timeout: 10_000 }).toBe(true);

  const booked = await citizen.post('/api/v2/appointment/schedule', { dose: 1, session_id: published.sessionId, slot: gateway.engine.country.slotsOf(center)[0], beneficiaries: [id] });
  const answeredAt = performance.now();
  expect(booked.status).toBe(200);
  const pushOf = (messages: { at: number; data: any }[]) =>
    messages.find((m) => m.data.type === 'availability' && m.data.sessions.some((s: any) => s.session_id === published.sessionId && s.available_capacity_dose1 === 6));
  await expect.poll(() => subscribers.every((s) => pushOf(s.messages)), { timeout: 10_000 }).toBe(true);

  const lags: number[] = [];
  for (const { messages } of subscribers) {
    expect(messages[0]!.data).toEqual({ type: 'subscribed', district_ids: [266] });
    const push = pushOf(messages)!;
    expect(push.data.district_id).toBe(266);
    expect(push.data.sessions.find((s: any) => s.session_id === published.sessionId)).toMatchObject({ available_capacity: 9, available_capacity_dose1: 6, available_capacity_dose2: 3 });
    lags.push(Math.round(push.at - answeredAt));
  }
  console.log(`the booking reached its ${subscribers.length} subscribers ${lags.join(', ')} ms after its answer`);
  // pushed by each thread's stream follower as it reads the booking, not by a later periodic pass
  for (const lag of lags) expect(lag).toBeLessThan(1000);
  // a subscriber of another district saw nothing of it (given the time the others' pushes took, and more)
  await new Promise((r) => setTimeout(r, 300));
  expect(other.messages.map((m) => m.data.type)).toEqual(['subscribed', 'subscribed']);
  for (const s of [...subscribers, other]) s.socket.close();
});

/** How an upgrade ended: open (the socket), refused (the HTTP answer), or opened and closed at once. */
type Attempt = { open: WebSocket } | { refused: { status: number; body: any } } | { closed: number };

function attempt(url: string): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('unexpected-response', (_request, response: IncomingMessage) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ refused: { status: response.statusCode!, body: JSON.parse(body) } }));
    });
    socket.once('open', () => {
      // the gateway may still close a socket that raced past its address's limit on another thread
      const settled = setTimeout(() => resolve({ open: socket }), 300);
      socket.once('close', (code) => {
        clearTimeout(settled);
        resolve({ closed: code });
      });
    });
    socket.once('error', (err) => {
      if (!err.message.startsWith('Unexpected server response')) reject(err);
    });
  });
}

it('refuses unknown districts and malformed messages with a clear error', async () => {
  // a real upgrade request, answered before any WebSocket exists
  const refused = await attempt(`ws://127.0.0.1:${gateway.port}/teeka/ws/availability?district_id=99999`);
  expect(refused).toEqual({ refused: { status: 400, body: { errorCode: 'GENVAL0001', error: 'unknown district id: 99999' } } });

  const { socket, messages } = await open(`ws://127.0.0.1:${gateway.port}/teeka/ws/availability`);
  socket.send('not json');
  socket.send(JSON.stringify({ subscribe: ['abc'] }));
  await new Promise((r) => setTimeout(r, 200));
  expect(messages.map((m) => m.data.type)).toEqual(['subscribed', 'error', 'error']);
  socket.close();
});

describe('limits', () => {
  let limited: RunningGateway;
  beforeAll(async () => {
    limited = await startGateway({ TEEKA_WS_MAX_PER_ADDRESS: '3', TEEKA_WS_MAX_BUFFERED_BYTES: '16384' });
  });
  afterAll(() => limited?.stop());
  const url = () => `ws://127.0.0.1:${limited.port}/teeka/ws/availability?district_id=140`;

  it('one address holds at most TEEKA_WS_MAX_PER_ADDRESS sockets over all threads; a closed one frees its place', async () => {
    // eight at once: the kernel spreads them over both threads, which count together
    const attempts = await Promise.all(Array.from({ length: 8 }, () => attempt(url())));
    const opened = attempts.flatMap((a) => ('open' in a ? [a.open] : []));
    try {
      expect(opened).toHaveLength(3);
      for (const a of attempts) {
        if ('refused' in a) expect(a.refused).toEqual({ status: 429, body: { errorCode: 'USRRES0429', error: 'Too many live connections from this address (at most 3)' } });
        else if ('closed' in a) expect(a.closed).toBe(1013);
      }
      expect(attempts.filter((a) => 'refused' in a).length, 'most are refused at the handshake').toBeGreaterThan(0);

      // a fourth now is refused; after one closes, one more gets in
      expect(await attempt(url())).toMatchObject({ refused: { status: 429 } });
      await new Promise<void>((resolve) => {
        opened[0]!.once('close', () => resolve());
        opened[0]!.close();
      });
      await new Promise((r) => setTimeout(r, 100));
      const replacement = await attempt(url());
      expect('open' in replacement).toBe(true);
      if ('open' in replacement) opened.push(replacement.open);
    } finally {
      for (const socket of opened) socket.close();
    }
  });
});
