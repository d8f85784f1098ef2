/** The per-address limit on the public API, and the per-user search quota on protected search. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { formatCowinDate } from '../../engine/dates.js';
import { CowinClient, startGateway, testMobile, type RunningGateway } from '../support/gateway.js';

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway?.stop());

it('the 101st public call from one address in 5 minutes → 429 with Retry-After', async () => {
  const client = new CowinClient(gateway.url);
  const date = formatCowinDate(gateway.engine.today());
  const paths = ['/api/v2/admin/location/states', `/api/v2/appointment/sessions/public/calendarByDistrict?district_id=140&date=${date}`];
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => client.get(paths[i % 2]!)));
  expect(answers.map((a) => a.status)).toEqual(Array(100).fill(200));
  const refused = await client.get(paths[1]!);
  expect(refused.status).toBe(429);
  expect(refused.json.errorCode).toBe('USRRES0429');
  const retryAfter = Number(refused.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(290);
  expect(retryAfter).toBeLessThanOrEqual(300);
  // protected search is limited per user, not per address: still open to a logged-in citizen
  const citizen = await new CowinClient(gateway.url).login(testMobile());
  expect((await citizen.get(`/api/v2/appointment/sessions/calendarByDistrict?district_id=140&date=${date}`)).status).toBe(200);
});

it('the 21st protected search in 15 minutes logs the user out', async () => {
  const citizen = await new CowinClient(gateway.url).login(testMobile());
  const date = formatCowinDate(gateway.engine.today());
  const search = () => citizen.get(`/api/v2/appointment/sessions/findByDistrict?district_id=294&date=${date}`);
  for (let i = 1; i <= 20; i++) {
    const answer = await search();
    expect(answer.status, `search ${i}`).toBe(200);
    expect(answer.headers.get('x-ratelimit-remaining')).toBe(String(20 - i));
  }
  const twentyFirst = await search();
  expect(twentyFirst.status).toBe(401);
  expect(twentyFirst.json.errorCode).toBe('USRAUT0030');
  // the token is revoked everywhere, not just for search
  const after = await citizen.get('/api/v2/appointment/beneficiaries');
  expect(after.status).toBe(401);
  expect(after.json.error).toBe('Unauthenticated access!');
  // logging in again works
  await citizen.login(testMobile());
  expect((await search()).status).toBe(200);
});
