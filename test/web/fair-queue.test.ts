/**
 * The citizen page at an opening under fair admission (issue 16), in a real Chromium against the real
 * gateway and Redis: the session's Book dialog joins the queue, the queue panel shows the place
 * falling as the places ahead are admitted (pushed over the WebSocket), the place survives a reload,
 * the booking dialog opens on admission and books with it; axe-core finds nothing on the panel and on
 * the dialog of the turn; the dashboard shows the opening with its rate and the seat taken.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';
import { axeViolations, DESKTOP, openCitizenPage, pageProblems, PHONE, screenshot, suiteBrowser } from './browser.js';

const browser = suiteBrowser();
let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway?.stop());

const NEW_DELHI = 140;

/** The figure a queue panel shows ("Your place", "People ahead of you"), as a number; null when it shows none. */
async function figure(page: Page, sessionId: string, name: 'position' | 'ahead'): Promise<number | null> {
  const text = await page.locator(`[data-queue-session="${sessionId}"] [data-figure="${name}"] dd`).textContent({ timeout: 1000 }).catch(() => null);
  return text && /^\d+$/.test(text.trim()) ? Number(text.trim()) : null;
}

describe('fair admission on the citizen page', () => {
  it("joins the queue, watches the place fall as the places ahead are admitted, keeps it over a reload, and books on admission", async () => {
    // an opening a few seconds from now (time for the page to load and search), under fair
    // admission, one place every two seconds
    const center = gateway.engine.country.centersByDistrict.get(NEW_DELHI)![4]!;
    const opensAt = gateway.engine.now() + 10_000;
    const published = await gateway.engine.publishSession({
      center_id: center.center_id,
      date: gateway.engine.today() + 2,
      vaccine: 'COVAXIN',
      min_age_limit: 18,
      allow_all_age: true,
      capacity_dose1: 20,
      capacity_dose2: 0,
      opens_at: opensAt,
      fair_admission: true,
      prequeue_minutes: 5,
      admission_rate: 0.5,
    });
    if (!published.ok) throw new Error(`publishSession: status ${published.status}`);
    const sessionId = published.sessionId;

    // four citizens in the pre-queue: they are drawn ahead of anyone who joins after the opening
    const ahead = 4;
    for (let i = 0; i < ahead; i++) {
      const other = await new CowinClient(gateway.url).login(testMobile());
      const id = await other.addBeneficiary(`Early Citizen ${["Asha", "Bina", "Chitra", "Devi"][i]}`, 1980 + i, testPhotoId());
      const joined = await other.post('/teeka/queue/join', { session_id: sessionId, beneficiaries: [id] });
      expect(joined.status, joined.text).toBe(200);
    }

    const mobile = testMobile();
    const client = await new CowinClient(gateway.url).login(mobile);
    await client.addBeneficiary('Lata Menon', 1979, testPhotoId());
    const { page, problems } = await openCitizenPage(await browser.context(PHONE), gateway.url, client.token, mobile);

    await page.getByLabel('State', { exact: true }).selectOption({ label: 'Delhi' });
    await page.getByLabel('District', { exact: true }).selectOption({ label: 'New Delhi' });
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const sessionButton = page.locator(`button.session[data-session-id="${sessionId}"]`);
    await sessionButton.waitFor();
    expect(await sessionButton.textContent()).toContain('Opens through a queue');
    // joining after the opening puts the citizen at the end, behind the four drawn at the opening
    while (gateway.engine.now() < opensAt + 200) await new Promise((r) => setTimeout(r, 100));

    // the Book dialog joins the queue: who to book for, no slot yet
    await sessionButton.click();
    const joinDialog = page.getByRole('dialog', { name: 'Join the queue' });
    await joinDialog.waitFor();
    expect(await joinDialog.getByLabel('Lata Menon (dose 1)').isChecked()).toBe(true);
    expect(await page.locator('#book-slots').isVisible()).toBe(false);
    await joinDialog.getByRole('button', { name: 'Join the queue' }).click();

    // the panel takes the focus and shows the place behind the four drawn before the opening
    const panel = page.locator(`[data-queue-session="${sessionId}"]`);
    await panel.waitFor();
    await expect.poll(() => page.evaluate('document.activeElement?.closest("[data-queue-session]")?.dataset.queueSession ?? document.activeElement?.id')).toBe(sessionId);
    await expect.poll(() => figure(page, sessionId, 'position'), { timeout: 5000 }).not.toBeNull();
    const first = (await figure(page, sessionId, 'position'))!;
    expect(first).toBeGreaterThan(1);
    expect(first).toBeLessThanOrEqual(ahead + 1);
    expect(await page.locator('#queue-announcer').getAttribute('aria-live')).toBe('polite');

    // a reload finds the place again, without a search (the page remembers the queue; the server keeps the place)
    await page.reload();
    await page.locator('html[data-ready=true]').waitFor();
    await panel.waitFor();
    await expect.poll(() => figure(page, sessionId, 'position'), { timeout: 5000 }).not.toBeNull();
    expect(await page.locator('#results li').count(), 'no search after the reload').toBe(0);
    await screenshot(page, 'citizen-queue-waiting');
    expect(await axeViolations(page), 'the queue panel').toEqual([]);

    // the places ahead are admitted one every two seconds: the place falls, then the booking dialog opens
    await expect.poll(() => figure(page, sessionId, 'position'), { timeout: 15_000, interval: 200 }).toBeLessThan(first);
    const turnDialog = page.getByRole('dialog', { name: 'Your turn: book a slot' });
    await turnDialog.waitFor({ timeout: 20_000 });
    expect(await page.locator('#queue-announcer').textContent()).toContain('It is your turn to book');
    expect(await turnDialog.getByLabel('Lata Menon (dose 1)').isChecked(), 'the person the queue was joined for').toBe(true);
    await screenshot(page, 'citizen-queue-turn');
    expect(await axeViolations(page), 'the booking dialog of the turn').toEqual([]);

    const answered = page.waitForResponse((response) => response.url().endsWith('/api/v2/appointment/schedule'));
    await turnDialog.getByRole('button', { name: 'Confirm booking' }).click();
    const booking = await answered;
    expect(booking.status()).toBe(200);
    expect(JSON.parse(booking.request().postData() ?? '{}').admission, 'the admission goes with the booking').toMatch(/\S/);
    await expect.poll(() => page.locator('#beneficiaries-status').textContent()).toMatch(/^Booked: Lata Menon at /);
    // the queue is done with: it leaves the page and this device
    await expect.poll(() => panel.count()).toBe(0);
    expect(await page.evaluate('Object.keys(localStorage).filter((k) => k.startsWith("teeka.citizen.queues.")).length')).toBe(0);
    expect(problems).toEqual([]);

    // the operator's dashboard: the opening, its rate and the seat taken
    const dashboard = await (await browser.context(DESKTOP)).newPage();
    const dashboardProblems = pageProblems(dashboard);
    await dashboard.goto(`${gateway.url}/dashboard`);
    await dashboard.locator('html[data-ready=true]').waitFor();
    await dashboard.getByLabel('Admin key').fill('demo-admin-key');
    await dashboard.keyboard.press('Enter');
    const row = dashboard.locator(`#opening-rows tr[data-session="${sessionId}"]`);
    await row.waitFor({ timeout: 10_000 });
    const cells = row.locator('td');
    expect(await cells.nth(0).textContent()).toBe(`Centre ${center.center_id}, ${await dashboard.evaluate(`new Intl.DateTimeFormat('en-IN', { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' }).format(new Date(${(gateway.engine.today() + 2) * 86_400_000}))`)}`);
    expect(await cells.nth(2).textContent()).toBe('open');
    expect(await cells.nth(4).textContent()).toMatch(/ of 0\.5$/);
    await expect.poll(() => cells.nth(5).textContent(), { timeout: 5000 }).toMatch(/^19 \(/);
    await expect.poll(() => cells.nth(6).textContent(), { timeout: 5000 }).toMatch(/, 1 booked,/);
    await screenshot(dashboard, 'dashboard-openings');
    expect(dashboardProblems).toEqual([]);
  });
});
