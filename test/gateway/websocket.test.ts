/** A WebSocket subscriber sees a booking's new capacity within 100 ms, whichever thread it is on. */
import { afterAll, beforeAll, expect, it } from 'vitest';
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
  await new Promise((r) => setTimeout(r, 300));

  const booked = await citizen.post('/api/v2/appointment/schedule', { dose: 1, session_id: published.sessionId, slot: gateway.engine.country.slotsOf(center)[0], beneficiaries: [id] });
  const answeredAt = performance.now();
  expect(booked.status).toBe(200);
  await new Promise((r) => setTimeout(r, 300));

  for (const { messages } of subscribers) {
    expect(messages[0]!.data).toEqual({ type: 'subscribed', district_ids: [266] });
    const push = messages.find((m) => m.data.type === 'availability' && m.data.sessions.some((s: any) => s.session_id === published.sessionId && s.available_capacity_dose1 === 6));
    expect(push, 'the subscriber saw the booking').toBeDefined();
    expect(push!.data.district_id).toBe(266);
    expect(push!.data.sessions.find((s: any) => s.session_id === published.sessionId)).toMatchObject({ available_capacity: 9, available_capacity_dose1: 6, available_capacity_dose2: 3 });
    expect(push!.at - answeredAt).toBeLessThan(100);
  }
  // a subscriber of another district saw nothing of it
  expect(other.messages.map((m) => m.data.type)).toEqual(['subscribed', 'subscribed']);
  for (const s of [...subscribers, other]) s.socket.close();
});

it('refuses unknown districts and malformed messages with a clear error', async () => {
  const refused = await fetch(`${gateway.url}/teeka/ws/availability?district_id=99999`, {
    headers: { connection: 'upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
  }).catch((err: Error) => err);
  if (!(refused instanceof Error)) {
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toContain('unknown district id');
  }
  const { socket, messages } = await open(`ws://127.0.0.1:${gateway.port}/teeka/ws/availability`);
  socket.send('not json');
  socket.send(JSON.stringify({ subscribe: ['abc'] }));
  await new Promise((r) => setTimeout(r, 200));
  expect(messages.map((m) => m.data.type)).toEqual(['subscribed', 'error', 'error']);
  socket.close();
});
