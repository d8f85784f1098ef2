/**
 * The dashboard's partner table in a real Chromium against the real gateway: each partner's calls
 * in its open minute and day windows against its limits, a partner at its limit marked; and the
 * readers the access log's watch flagged.
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CowinClient, migratedSchema, startGateway, testMobile, type RunningGateway } from '../support/gateway.js';
import { DESKTOP, launchBrowser, newContext, pageProblems } from './browser.js';

let gateway: RunningGateway;
let record: Awaited<ReturnType<typeof migratedSchema>> | undefined;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  // a partner reading more than 1 distinct person in the window is flagged by the access watch
  // the partner registry records its changes in PostgreSQL: a migrated schema of this file's own
  record = await migratedSchema('web_partners');
  [gateway, browser] = await Promise.all([startGateway({ TEEKA_ACCESS_FLAG_PARTNER: '1', TEEKA_PG_SCHEMA: record.schema }), launchBrowser()]);
  context = await newContext(browser, DESKTOP);
});
afterAll(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  await gateway?.stop();
  await record?.drop();
});

describe('dashboard: partners', () => {
  it('shows each partner\'s usage of its windows against its limits, marks one at its limit, and lists a flagged reader', async () => {
    const admin = new CowinClient(gateway.url);
    admin.token = (await admin.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' })).json.token;
    for (const [partnerId, perMinute] of [['busy-app', 3], ['quiet-app', 50]] as const) {
      const done = await admin.post('/teeka/admin/partners', { partner_id: partnerId, name: `${partnerId} name`, contact: 'ops@example.org', scopes: ['availability'], per_minute: perMinute, per_day: 1000 });
      expect(done.status, done.text).toBe(201);
    }
    const key = (await admin.post('/teeka/admin/partners/keys', { partner_id: 'busy-app' })).json.api_key as string;
    // a booking partner's app lists two citizens' beneficiaries (each with the citizen's own token): two people
    await admin.post('/teeka/admin/partners', { partner_id: 'reader-app', name: 'reader-app name', contact: 'ops@example.org', scopes: ['booking'], per_minute: 50, per_day: 1000 });
    const readerKey = (await admin.post('/teeka/admin/partners/keys', { partner_id: 'reader-app' })).json.api_key as string;
    for (let i = 0; i < 2; i++) {
      const citizen = await new CowinClient(gateway.url).login(testMobile());
      expect((await citizen.get('/api/v2/appointment/beneficiaries', { 'x-api-key': readerKey })).status).toBe(200);
    }
    const calls = [];
    for (let i = 0; i < 4; i++) calls.push((await admin.get('/api/v2/admin/location/states', { 'x-api-key': key })).status);
    expect(calls).toEqual([200, 200, 200, 429]);

    const page = await context.newPage();
    const problems = pageProblems(page);
    await page.goto(`${gateway.url}/dashboard`);
    await page.locator('html[data-ready=true]').waitFor(); // words and handlers in place (web/language.js)
    await page.getByLabel('Admin key').fill('demo-admin-key');
    await page.keyboard.press('Enter');
    const busy = page.locator('#partner-rows tr[data-partner="busy-app"]');
    await expect.poll(() => busy.locator('td').allTextContents(), { timeout: 10_000 }).toEqual(['busy-app name (busy-app)', 'availability', 'active', '3 / 3', '3 / 1,000', '1']);
    expect(await busy.getAttribute('class')).toContain('alert');
    const quiet = page.locator('#partner-rows tr[data-partner="quiet-app"]');
    expect(await quiet.locator('td').allTextContents()).toEqual(['quiet-app name (quiet-app)', 'availability', 'active', '0 / 50', '0 / 1,000', '0']);
    expect(await quiet.getAttribute('class') ?? '').not.toContain('alert');
    expect(await page.getByRole('heading', { name: 'Partners' }).isVisible()).toBe(true);
    // the watch flagged the partner that read two people; the page lists it
    await expect.poll(() => page.locator('#flagged-list li').allTextContents(), { timeout: 10_000 }).toEqual([expect.stringMatching(/^partner:reader-app, flagged /)]);
    expect(await page.getByRole('heading', { name: 'Flagged by the access watch' }).isVisible()).toBe(true);
    expect(problems).toEqual([]);
  });
});
