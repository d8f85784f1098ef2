/** 500 concurrent HTTP bookings on a session with 50 seats: exactly 50 × 200 and 450 × 409 APPOIN0040. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway?.stop());

it('500 citizens race for 50 seats', async () => {
  const center = gateway.engine.country.data.centers[0]!;
  const slots = gateway.engine.country.slotsOf(center);
  const published = await gateway.engine.publishSession({
    center_id: center.center_id,
    date: gateway.engine.today() + 1,
    vaccine: 'COVISHIELD',
    min_age_limit: 18,
    capacity_dose1: 50,
    capacity_dose2: 0,
  });
  if (!published.ok) throw new Error('publish failed');

  // 125 logged-in citizens with 4 beneficiaries each
  const citizens = await Promise.all(
    Array.from({ length: 125 }, async () => {
      const client = await new CowinClient(gateway.url).login(testMobile());
      const ids = [];
      for (let i = 0; i < 4; i++) ids.push(await client.addBeneficiary('Racing Citizen', 1980 + i, testPhotoId()));
      return { client, ids };
    }),
  );
  const requests = citizens.flatMap(({ client, ids }) => ids.map((id, i) => ({ token: client.token, id, slot: slots[i % slots.length]! })));
  expect(requests).toHaveLength(500);

  // 500 requests in flight at once (fetch's default pool opens as many connections as needed)
  const responses = await Promise.all(
    requests.map(async ({ token, id, slot }) => {
      const response = await fetch(`${gateway.url}/api/v2/appointment/schedule`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ dose: 1, session_id: published.sessionId, slot, beneficiaries: [id] }),
      });
      return { status: response.status, body: (await response.json()) as { errorCode?: string } };
    }),
  );
  // every answer is a booking or "full": anything else is named here
  expect(responses.filter((r) => r.status !== 200 && r.status !== 409).map((r) => `${r.status} ${JSON.stringify(r.body)}`)).toEqual([]);
  expect(responses.filter((r) => r.status === 200)).toHaveLength(50);
  const refused = responses.filter((r) => r.status === 409);
  expect(refused).toHaveLength(450);
  expect(refused.every((r) => r.body.errorCode === 'APPOIN0040')).toBe(true);
  const session = (await gateway.engine.getSession(published.sessionId))!;
  expect(session.booked1).toBe(50);
  expect(session.slot_booked.reduce((a, b) => a + b, 0)).toBe(50);
});
