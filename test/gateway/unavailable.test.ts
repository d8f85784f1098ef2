/**
 * Redis goes away under a running gateway: requests that need it are answered 503 with Retry-After
 * (an outage, classified by engine/backend-errors.ts from the errors ioredis really throws), not 500,
 * and the gateway serves again once Redis is back.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CowinClient, startGateway, testMobile, type RunningGateway } from '../support/gateway.js';
import { PrivateRedis } from '../worker/support.js';

let redis: PrivateRedis;
let gateway: RunningGateway;
beforeAll(async () => {
  redis = await PrivateRedis.start([]);
  gateway = await startGateway({ REDIS_URL: redis.url });
});
afterAll(async () => {
  await gateway?.stop();
  await redis?.kill();
});

it('answers 503 with Retry-After while Redis is down, and 200 again once it is back', async () => {
  const citizen = await new CowinClient(gateway.url).login(testMobile());
  expect((await citizen.get('/api/v2/appointment/beneficiaries')).status).toBe(200);

  await redis.kill();
  for (const answer of [
    await citizen.get('/api/v2/appointment/beneficiaries'),
    await citizen.post('/api/v2/auth/generateMobileOTP', { mobile: testMobile() }),
  ]) {
    expect(answer.status, answer.text).toBe(503);
    expect(answer.json).toEqual({ errorCode: 'GENSRV0503', error: 'Service temporarily unavailable' });
    expect(answer.headers.get('retry-after')).toBe('1');
  }
  expect(gateway.output()).not.toMatch(/(GET|POST) \/api\/v2\/\S+ failed:/); // an outage is not logged as a bug

  // back, empty (no persistence here): a new login works again
  await redis.start();
  await expect.poll(async () => (await citizen.post('/api/v2/auth/generateMobileOTP', { mobile: testMobile() })).status, { timeout: 10_000 }).toBe(200);
});
