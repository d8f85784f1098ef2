/**
 * The citizen's booking page in a real Chromium against the real gateway (Redis behind it): the
 * whole booking journey on a phone-sized screen with capacity moving live in a second browser, and
 * the messages for a quota logout, a full slot, an ended session and a blocked account.
 */
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../engine/ids.js';
import { keys } from '../../engine/keys.js';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';
import { DESKTOP, focusedId, focusedText, launchBrowser, newContext, openCitizenPage, PHONE, pageProblems, screenshot, sessionValue } from './browser.js';

let gateway: RunningGateway;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [gateway, browser] = await Promise.all([startGateway(), launchBrowser()]);
});
afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close().catch(() => {})));
  await browser?.close();
  await gateway?.stop();
});

const NEW_DELHI = 140;
const sessionIds: string[] = [];

/** A session at a New Delhi centre `daysAhead` days from today. */
async function publish(centerIndex: number, daysAhead: number, capacity: { dose1: number; dose2: number; slots?: number[] }): Promise<string> {
  const center = gateway.engine.country.centersByDistrict.get(NEW_DELHI)![centerIndex]!;
  const published = await gateway.engine.publishSession({
    center_id: center.center_id,
    date: gateway.engine.today() + daysAhead,
    vaccine: 'COVAXIN',
    min_age_limit: 18,
    allow_all_age: true,
    capacity_dose1: capacity.dose1,
    capacity_dose2: capacity.dose2,
    slot_capacity: capacity.slots,
  });
  if (!published.ok) throw new Error(`publishSession: status ${published.status}`);
  sessionIds.push(published.sessionId);
  return published.sessionId;
}

/** A page whose sessionStorage already holds a citizen token (the login form is tested once, in the journey). */
async function pageLoggedInAs(client: CowinClient, mobile: string, options = PHONE): Promise<{ page: Page; problems: string[] }> {
  const context = await newContext(browser, options);
  contexts.push(context);
  return openCitizenPage(context, gateway.url, client.token, mobile);
}

/** Choose a district and press Search. */
async function submitDistrictSearch(page: Page, state: string, district: string): Promise<void> {
  await page.getByLabel('State', { exact: true }).selectOption({ label: state });
  await page.getByLabel('District', { exact: true }).selectOption({ label: district });
  await page.getByRole('button', { name: 'Search', exact: true }).click();
}

async function searchDistrict(page: Page, state: string, district: string): Promise<void> {
  await submitDistrictSearch(page, state, district);
  await expect.poll(() => page.locator('#search-status').textContent()).toMatch(new RegExp(`centres? in ${district}`));
}

/** The dose 1 capacity a page shows for a session. */
const dose1Shown = (page: Page, sessionId: string) =>
  page.locator(`button.session[data-session-id="${sessionId}"] .cap[data-dose="1"] .cap-value`).first().textContent();

describe('citizen booking page', () => {
  it('logs in by keyboard, adds a beneficiary, books, sees capacity move live in a second browser, downloads the slip, reschedules and cancels', async () => {
    const first = await publish(0, 1, { dose1: 5, dose2: 5 });
    const second = await publish(1, 2, { dose1: 5, dose2: 5 });
    const mobile = testMobile();

    const context = await newContext(browser, PHONE);
    contexts.push(context);
    const page = await context.newPage();
    const problems = pageProblems(page);
    await page.goto(`${gateway.url}/`);
    await page.locator('html[data-ready=true]').waitFor(); // words and handlers in place (web/language.js)
    await screenshot(page, 'citizen-login', { as: 'citizen-login' });

    // the login form by keyboard alone: Tab reaches the field, Enter submits
    await page.keyboard.press('Tab'); // skip link
    await page.keyboard.press('Tab'); // the language switcher in the top bar (India offers three)
    await page.keyboard.press('Tab'); // first control of the form: the mobile number
    expect(await focusedId(page)).toBe('mobile');
    await page.keyboard.type(mobile);
    await page.keyboard.press('Enter');
    await page.getByLabel('One-time password (OTP)').waitFor();
    expect(await focusedId(page), 'focus moves to the OTP field').toBe('otp');
    await expect.poll(() => page.locator('#otp-sent').textContent()).toContain(mobile.slice(-4));
    await page.keyboard.type('123456');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Beneficiaries' }).waitFor();
    expect(await focusedId(page), 'focus moves to the account').toBe('beneficiaries-title');

    // a new account has nobody yet: the form is open
    await expect.poll(() => page.locator('#beneficiaries-status').textContent()).toContain('No beneficiaries yet');
    await page.getByLabel('Name, as on the photo ID').fill('Asha Kumari');
    await page.getByLabel('Year of birth').fill('1990');
    await page.getByLabel('Gender').selectOption({ label: 'Female' });
    await page.getByLabel('Photo ID', { exact: true }).selectOption({ label: 'Aadhaar Card' });
    await page.getByLabel('Photo ID number').fill(testPhotoId());
    await page.getByLabel(/I confirm this information/).check();
    await page.getByRole('button', { name: 'Add beneficiary' }).click();
    const card = page.locator('li.beneficiary', { hasText: 'Asha Kumari' });
    await card.waitFor();
    expect(await card.textContent()).toContain('Not Vaccinated');

    // search the district; capacities are now live
    await searchDistrict(page, 'Delhi', 'New Delhi');
    await page.locator('#live-status[data-state="live"]').waitFor();
    expect(await dose1Shown(page, first)).toBe('5');
    await screenshot(page, 'citizen-calendar', { as: 'citizen-calendar', show: page.locator('.results-head') });

    // a second browser (another citizen on a desktop) watches the same district
    const watcherMobile = testMobile();
    const watcherClient = await new CowinClient(gateway.url).login(watcherMobile);
    const { page: watcher, problems: watcherProblems } = await pageLoggedInAs(watcherClient, watcherMobile, DESKTOP);
    await searchDistrict(watcher, 'Delhi', 'New Delhi');
    await watcher.locator('#live-status[data-state="live"]').waitFor();
    expect(await dose1Shown(watcher, first)).toBe('5');
    let watcherSearches = 0;
    watcher.on('request', (request) => {
      if (request.url().includes('/appointment/sessions/')) watcherSearches += 1;
    });

    // book the first session
    await page.locator(`button.session[data-session-id="${first}"]`).click();
    const dialog = page.getByRole('dialog', { name: 'Book a slot' });
    await dialog.waitFor();
    expect(await dialog.getByLabel('Asha Kumari (dose 1)').isChecked(), 'the only bookable beneficiary is preselected').toBe(true);
    expect(await dialog.getByRole('radio').first().isChecked()).toBe(true);
    await screenshot(page, 'citizen-book-dialog', { as: 'citizen-book-dialog' });
    await dialog.getByRole('button', { name: 'Confirm booking' }).click();
    await expect.poll(() => page.locator('#beneficiaries-status').textContent()).toMatch(/^Booked: Asha Kumari at .+ Appointment ID /);
    const appointment = card.locator('section.appointment');
    await appointment.waitFor();
    const appointmentId = (await appointment.getAttribute('data-appointment-id'))!;
    expect(await page.evaluate("document.activeElement?.closest('.appointment')?.dataset.appointmentId"), 'focus moves to the new appointment').toBe(appointmentId);

    // both pages show one dose fewer, pushed over the WebSocket: the watcher did not search again
    await expect.poll(() => dose1Shown(watcher, first), { timeout: 3000 }).toBe('4');
    await expect.poll(() => dose1Shown(page, first), { timeout: 3000 }).toBe('4');
    expect(watcherSearches, 'no polling, no reload').toBe(0);
    await expect.poll(() => watcher.locator('#live-announcer').textContent(), { timeout: 5000 }).toContain('4 dose 1');
    await screenshot(watcher, 'citizen-watcher-live', { as: 'citizen-desktop-live', show: watcher.locator('#search-title') });

    // the slip: a real download of a PDF
    const downloading = page.waitForEvent('download');
    await appointment.getByRole('button', { name: 'Download slip' }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toBe(`appointment-${appointmentId}.pdf`);
    const pdf = readFileSync((await download.path())!);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(500);
    await screenshot(page, 'citizen-appointment', { as: 'citizen-appointment', show: card });

    // reschedule to the second session: the seat moves, both pages see it
    await appointment.getByRole('button', { name: 'Reschedule' }).click();
    await expect.poll(() => page.locator('#reschedule-text').textContent()).toContain('Choosing a new slot for the dose 1 appointment of Asha Kumari');
    await page.locator(`button.session[data-session-id="${second}"]`).click();
    const moveDialog = page.getByRole('dialog', { name: 'Move the appointment here' });
    await moveDialog.getByRole('button', { name: 'Move appointment' }).click();
    await expect.poll(() => page.locator('#beneficiaries-status').textContent()).toMatch(/^Rescheduled: Asha Kumari at /);
    await expect.poll(() => dose1Shown(watcher, first), { timeout: 3000 }).toBe('5');
    await expect.poll(() => dose1Shown(watcher, second), { timeout: 3000 }).toBe('4');
    const moved = await gateway.engine.getAppointment(appointmentId);
    expect(moved?.session_id).toBe(second);

    // cancel: the dose goes back
    await card.locator('section.appointment').getByRole('button', { name: 'Cancel appointment' }).click();
    const confirm = page.getByRole('dialog', { name: 'Cancel appointment?' });
    expect(await focusedText(page), 'the safe choice has focus').toBe('Keep appointment');
    await confirm.getByRole('button', { name: 'Yes, cancel it' }).click();
    await expect.poll(() => page.locator('#beneficiaries-status').textContent()).toBe('The appointment of Asha Kumari was cancelled.');
    expect(await card.locator('section.appointment').count()).toBe(0);
    await expect.poll(() => dose1Shown(watcher, second), { timeout: 3000 }).toBe('5');
    await expect.poll(() => dose1Shown(page, second), { timeout: 3000 }).toBe('5');
    expect((await gateway.engine.getAppointment(appointmentId))?.beneficiaries[0]?.status).toBe('cancelled');
    expect(watcherSearches).toBe(0);

    expect(problems).toEqual([]);
    expect(watcherProblems).toEqual([]);
  });

  it("shows each booked beneficiary's security code with the appointment, the booking's own, and still after a reload", async () => {
    const sessionId = await publish(3, 3, { dose1: 5, dose2: 0 });
    const mobile = testMobile();
    const client = await new CowinClient(gateway.url).login(mobile);
    await client.addBeneficiary('Nisha Pandey', 1988, testPhotoId());
    const { page, problems } = await pageLoggedInAs(client, mobile);
    await searchDistrict(page, 'Delhi', 'New Delhi');
    await page.locator(`button.session[data-session-id="${sessionId}"]`).click();
    const dialog = page.getByRole('dialog', { name: 'Book a slot' });
    await dialog.waitFor();
    const answered = page.waitForResponse((response) => response.url().endsWith('/api/v2/appointment/schedule'));
    await dialog.getByRole('button', { name: 'Confirm booking' }).click();
    const booking = await (await answered).json();
    const issued: string = booking.security_codes[0].security_code;
    expect(issued).toMatch(/^\d{4}$/);

    const card = page.locator('li.beneficiary', { hasText: 'Nisha Pandey' });
    const code = card.locator('section.appointment .security-code');
    await expect.poll(() => code.textContent()).toContain(`Security code ${issued}`);
    expect(await code.textContent()).toContain('Give this code to the vaccinator when you are vaccinated.');
    await screenshot(page, 'citizen-security-code');

    // it comes from the account's data, not from the booking's answer: a reload shows it again
    await page.reload();
    await page.getByRole('heading', { name: 'Beneficiaries' }).waitFor();
    await expect.poll(() => card.locator('section.appointment .security-code strong').textContent()).toBe(issued);
    expect(await card.locator('section.appointment').getAttribute('data-appointment-id')).toBe(booking.appointment_confirmation_no);
    expect(problems).toEqual([]);
  });

  it('the filters (age group, vaccine, fee type, dose) change what the calendar shows without searching again', async () => {
    const eastDelhi = gateway.engine.country.centersByDistrict.get(145)!;
    const free = eastDelhi.find((c) => c.fee_type === 'Free')!;
    const paid = eastDelhi.find((c) => c.fee_type === 'Paid')!;
    const day = gateway.engine.today() + 1;
    const young = await gateway.engine.publishSession({ center_id: free.center_id, date: day, vaccine: 'COVAXIN', min_age_limit: 18, capacity_dose1: 7, capacity_dose2: 3 });
    const older = await gateway.engine.publishSession({ center_id: paid.center_id, date: day + 1, vaccine: 'COVISHIELD', min_age_limit: 45, capacity_dose1: 6, capacity_dose2: 2 });
    if (!young.ok || !older.ok) throw new Error('publishSession failed');
    const mobile = testMobile();
    const { page, problems } = await pageLoggedInAs(await new CowinClient(gateway.url).login(mobile), mobile);
    await searchDistrict(page, 'Delhi', 'East Delhi');
    let searches = 0;
    page.on('request', (request) => {
      if (request.url().includes('/appointment/sessions/')) searches += 1;
    });
    const shown = async () => {
      const ids = await Promise.all((await page.locator('button.session').all()).map((button) => button.getAttribute('data-session-id')));
      return { young: ids.includes(young.sessionId), older: ids.includes(older.sessionId) };
    };
    expect(await shown()).toEqual({ young: true, older: true });

    // on a phone the filters fold away under the search button
    expect(await page.getByLabel('Paid').isVisible()).toBe(false);
    await page.locator('summary', { hasText: 'Filters' }).click();
    const choose = async (label: string, expected: { young: boolean; older: boolean }) => {
      await page.getByLabel(label, { exact: true }).check();
      expect(await shown(), label).toEqual(expected);
      await page.getByLabel(label, { exact: true }).uncheck();
    };
    await choose('Paid', { young: false, older: true });
    await choose('Free', { young: true, older: false });
    await choose('Age 18+', { young: true, older: false });
    await choose('Age 45+', { young: false, older: true });
    await choose('COVISHIELD', { young: false, older: true });
    await choose('COVAXIN', { young: true, older: false });

    // two filters of different kinds narrow together; the status says how many centres are left
    await page.getByLabel('Paid', { exact: true }).check();
    await page.getByLabel('Age 18+', { exact: true }).check();
    expect(await shown()).toEqual({ young: false, older: false });
    expect(await page.locator('#filter-count').textContent()).toBe('(2 chosen)');
    expect(await page.locator('#search-status').textContent()).toMatch(/^\d+ centres in East Delhi .*; 0 shown with the filters\.$/);
    await page.getByLabel('Paid', { exact: true }).uncheck();
    await page.getByLabel('Age 18+', { exact: true }).uncheck();

    // a dose filter shows that dose's capacity only
    await page.getByLabel('Dose 2', { exact: true }).check();
    const cell = page.locator(`button.session[data-session-id="${young.sessionId}"]`);
    expect(await cell.locator('.cap').count()).toBe(1);
    expect(await cell.locator('.cap[data-dose="2"] .cap-value').textContent()).toBe('3');
    expect(await cell.getAttribute('aria-disabled')).toBeNull();

    expect(searches, 'filters never search again').toBe(0);
    await screenshot(page, 'citizen-filters');
    expect(problems).toEqual([]);
  });

  it('a PIN code search finds its centres and follows their capacity live', async () => {
    const mysore = gateway.engine.country.centersByDistrict.get(266)![0]!;
    const published = await gateway.engine.publishSession({ center_id: mysore.center_id, date: gateway.engine.today() + 1, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 9, capacity_dose2: 1 });
    if (!published.ok) throw new Error('publishSession failed');
    const mobile = testMobile();
    const { page, problems } = await pageLoggedInAs(await new CowinClient(gateway.url).login(mobile), mobile);

    await page.getByLabel('By PIN code').check();
    expect(await page.getByLabel('District', { exact: true }).isVisible()).toBe(false);
    await page.getByLabel('PIN code', { exact: true }).fill('12');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    // the problem beside the field and in the summary at the top, which takes the focus
    await expect.poll(() => page.locator('#pincode-error').textContent()).toBe('Please enter a valid PIN code.');
    expect(await page.locator('#error-summary').textContent()).toContain('Please enter a valid PIN code.');
    expect(await focusedId(page)).toBe('error-summary');
    expect(await page.getByLabel('PIN code', { exact: true }).getAttribute('aria-invalid')).toBe('true');

    await page.getByLabel('PIN code', { exact: true }).fill(String(mysore.pincode));
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => page.locator('#search-status').textContent()).toMatch(new RegExp(`centres? in PIN code ${mysore.pincode}`));
    expect(await page.locator('li.centre h3').allTextContents()).toContain(mysore.name);
    // the results name the district, not its id: the page looks the id up to subscribe to it
    await page.locator('#live-status[data-state="live"]').waitFor();
    expect(await dose1Shown(page, published.sessionId)).toBe('9');

    const other = await new CowinClient(gateway.url).login(testMobile());
    const id = await other.addBeneficiary('Mysore Resident', 1975, testPhotoId());
    const booked = await other.post('/api/v2/appointment/schedule', { dose: 1, session_id: published.sessionId, slot: gateway.engine.country.slotsOf(mysore)[0], beneficiaries: [id] });
    expect(booked.status).toBe(200);
    await expect.poll(() => dose1Shown(page, published.sessionId), { timeout: 3000 }).toBe('8');
    await screenshot(page, 'citizen-pin-search');
    expect(problems).toEqual([]);
  });

  it('"Near me" finds the centres nearest to the device and lists them nearest first, with their distance', async () => {
    const mysore = gateway.engine.country.centersByDistrict.get(266)!;
    const [nearest, second] = [mysore[1]!, mysore[0]!];
    for (const center of [nearest, second]) {
      const published = await gateway.engine.publishSession({ center_id: center.center_id, date: gateway.engine.today() + 2, vaccine: 'COVAXIN', min_age_limit: 18, capacity_dose1: 5, capacity_dose2: 0 });
      if (!published.ok) throw new Error('publishSession failed');
    }
    const mobile = testMobile();
    // standing a few hundred metres from the nearest centre
    const where = { latitude: nearest.lat + 0.002, longitude: nearest.long - 0.002 };
    const { page, problems } = await pageLoggedInAs(await new CowinClient(gateway.url).login(mobile), mobile, { ...PHONE, geolocation: where, permissions: ['geolocation'] });
    await page.getByLabel('Near me').check();
    expect(await page.getByLabel('District', { exact: true }).isVisible()).toBe(false);
    expect(await page.locator('#location-fields').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => page.locator('#search-status').textContent()).toMatch(/centres? in your area \(Mysore, nearest first\)/);
    const names = await page.locator('li.centre h3').allTextContents();
    expect(names[0]).toBe(nearest.name);
    expect(names).toContain(second.name);
    expect(await page.locator('li.centre').first().locator('.distance').textContent()).toMatch(/^0\.\d km away$/);
    await screenshot(page, 'citizen-near-me', { as: 'citizen-near-me', show: page.locator('#search-status') });
    expect(problems).toEqual([]);
  });

  it('"Near me" without the location permission says what to do instead', async () => {
    const mobile = testMobile();
    const { page, problems } = await pageLoggedInAs(await new CowinClient(gateway.url).login(mobile), mobile, { ...PHONE, permissions: [] });
    await page.getByLabel('Near me').check();
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => page.locator('#search-status').textContent()).toMatch(/Location was not allowed|could not be found/);
    expect(problems).toEqual([]);
  });

  it('the 21st search in 15 minutes logs the citizen out and the login form says why', async () => {
    const mobile = testMobile();
    const client = await new CowinClient(gateway.url).login(mobile);
    const { page, problems } = await pageLoggedInAs(client, mobile);
    // twenty searches elsewhere with the same login use up the window
    const date = (await page.getByLabel('Seven days from').inputValue()).split('-').reverse().join('-');
    for (let i = 0; i < 20; i++) {
      const answer = await client.get(`/api/v2/appointment/sessions/calendarByDistrict?district_id=${NEW_DELHI}&date=${date}`);
      expect(answer.status).toBe(200);
    }
    await submitDistrictSearch(page, 'Delhi', 'New Delhi');

    const reason = page.getByRole('alert').filter({ hasText: 'You searched more than 20 times in 15 minutes' });
    await reason.waitFor();
    expect(await page.getByLabel('Mobile number').isVisible()).toBe(true);
    expect(await focusedId(page), 'focus returns to the login form').toBe('mobile');
    expect(await sessionValue(page, 'teeka.citizen.token'), 'the dead token is forgotten').toBeNull();
    await screenshot(page, 'citizen-quota-logout', { as: 'citizen-quota-logout' });
    expect(problems).toEqual([]);
  });

  it('a slot filled by someone else while the dialog is open is refused with the fully-booked message (APPOIN0040)', async () => {
    // four seats, one per slot: the page cannot see slot capacity, so the first slot fills under it
    const sessionId = await publish(2, 1, { dose1: 4, dose2: 0, slots: [1, 1, 1, 1] });
    const mobile = testMobile();
    const client = await new CowinClient(gateway.url).login(mobile);
    await client.addBeneficiary('Ravi Verma', 1985, testPhotoId());
    const { page, problems } = await pageLoggedInAs(client, mobile);
    await searchDistrict(page, 'Delhi', 'New Delhi');
    await page.locator('#live-status[data-state="live"]').waitFor();

    await page.locator(`button.session[data-session-id="${sessionId}"]`).click();
    const dialog = page.getByRole('dialog', { name: 'Book a slot' });
    await dialog.waitFor();
    const firstSlot = (await dialog.getByRole('radio').first().getAttribute('value'))!;

    const rival = await new CowinClient(gateway.url).login(testMobile());
    const rivalBeneficiary = await rival.addBeneficiary('Quick Rival', 1990, testPhotoId());
    const rivalBooking = await rival.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessionId, slot: firstSlot, beneficiaries: [rivalBeneficiary] });
    expect(rivalBooking.status).toBe(200);
    // the open dialog follows the session live
    await expect.poll(() => dialog.locator('#book-capacity').textContent(), { timeout: 3000 }).toBe('Doses left now: dose 1 3, dose 2 0.');

    await dialog.getByRole('button', { name: 'Confirm booking' }).click();
    const refusal = dialog.getByRole('alert');
    await expect.poll(() => refusal.textContent()).toBe('This slot is fully booked. Please choose another slot, date or centre.');
    expect(await dialog.isVisible(), 'the dialog stays open to pick another slot').toBe(true);
    await screenshot(page, 'citizen-slot-full', { as: 'citizen-slot-full' });

    // another slot of the same session still books
    await dialog.getByRole('radio').nth(1).check();
    await dialog.getByRole('button', { name: 'Confirm booking' }).click();
    await expect.poll(() => page.locator('#beneficiaries-status').textContent()).toMatch(/^Booked: Ravi Verma at /);
    expect(problems).toEqual([]);
  });

  it('an ended session and a blocked account each bring the citizen back to the login form with the reason', async () => {
    // ended: the same number logs in on another device, which replaces this login
    const mobile = testMobile();
    const client = await new CowinClient(gateway.url).login(mobile);
    const { page, problems } = await pageLoggedInAs(client, mobile);
    await new CowinClient(gateway.url).login(mobile);
    await submitDistrictSearch(page, 'Delhi', 'New Delhi');
    await page.getByRole('alert').filter({ hasText: 'Your session has ended' }).waitFor();
    await screenshot(page, 'citizen-session-ended');

    // blocked: a thousand searches in a day. Each login searches 20 times at once, then a 21st
    // search logs it out; the next 15-minute window opens when the last one has passed (its start
    // is moved back: the gateway runs on the real clock)
    const blockedMobile = testMobile();
    const bot = new CowinClient(gateway.url);
    const date = (await page.getByLabel('Seven days from').inputValue()).split('-').reverse().join('-');
    const search = () => bot.get(`/api/v2/appointment/sessions/calendarByDistrict?district_id=${NEW_DELHI}&date=${date}`);
    const windowKey = gateway.engine.accountKeys(gateway.engine.accountIdOf(blockedMobile)).searchWindow();
    for (let round = 0; round < 50; round++) {
      await bot.login(blockedMobile);
      const answers = await Promise.all(Array.from({ length: 20 }, search));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      if (round < 49) expect((await search()).json.errorCode).toBe('USRAUT0030');
      await gateway.redis.hincrby(windowKey, 'since', -15 * 60_000);
    }
    // the 1001st search of the day is the page's
    const blocked = await bot.login(blockedMobile);
    const { page: blockedPage, problems: blockedProblems } = await pageLoggedInAs(blocked, blockedMobile);
    await submitDistrictSearch(blockedPage, 'Delhi', 'New Delhi');
    await blockedPage.getByRole('alert').filter({ hasText: 'This account is blocked for 24 hours' }).waitFor();
    expect(await sessionValue(blockedPage, 'teeka.citizen.token')).toBeNull();
    // and asking for a new OTP says the same
    await blockedPage.getByLabel('Mobile number').fill(blockedMobile);
    await blockedPage.getByRole('button', { name: 'Get OTP' }).click();
    await expect.poll(() => blockedPage.locator('#mobile-error').textContent()).toContain('This account is blocked for 24 hours');
    expect(await blockedPage.getByLabel('Mobile number').getAttribute('aria-invalid')).toBe('true');
    await screenshot(blockedPage, 'citizen-blocked');

    expect(problems).toEqual([]);
    expect(blockedProblems).toEqual([]);
  });

  it('serves the pages with caching headers: revalidated HTML, immutable compressed assets', async () => {
    const html = await fetch(`${gateway.url}/`, { headers: { 'accept-encoding': 'gzip' } });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.headers.get('content-encoding')).toBe('gzip');
    expect(html.headers.get('cache-control')).toBe('no-cache');
    expect(html.headers.get('content-security-policy')).toContain("script-src 'self'");
    const etag = html.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+-gzip"$/);
    const body = await html.text();
    const again = await fetch(`${gateway.url}/`, { headers: { 'accept-encoding': 'gzip', 'if-none-match': etag } });
    expect(again.status).toBe(304);
    // the uncompressed page is another representation: the gzip validator does not match it
    const plain = await fetch(`${gateway.url}/`, { headers: { 'accept-encoding': 'identity', 'if-none-match': etag } });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await plain.text()).toBe(body);
    expect((await fetch(`${gateway.url}/dashboard`)).status).toBe(200);

    const script = /src="(\/assets\/[0-9a-f]{12}\/citizen\.js)"/.exec(body)![1]!;
    const asset = await fetch(`${gateway.url}${script}`, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-encoding')).toBe('br');
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await asset.text()).toContain('AvailabilityFeed'); // fetch decodes brotli: the bytes were right
    const stale = await fetch(`${gateway.url}${script.replace(/[0-9a-f]{12}/, '000000000000')}`);
    expect(stale.headers.get('cache-control'), 'an old release still gets the file, revalidated').toBe('no-cache');
    expect((await fetch(`${gateway.url}/assets/x/nope.js`)).status).toBe(404);

    // the login digest: crypto.subtle where the origin is secure, the page's own SHA-256 elsewhere
    const context = await newContext(browser, DESKTOP);
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${gateway.url}/`);
    await page.locator('html[data-ready=true]').waitFor(); // words and handlers in place (web/language.js)
    const sha256Url = script.replace('citizen.js', 'sha256.js');
    // a string, so vitest's transform leaves the browser's own import() alone
    const digests = await page.evaluate(`import('${sha256Url}').then(async (m) => ({ subtle: await m.sha256Hex('123456'), fallback: m.sha256HexFallback('123456') }))`);
    expect(digests).toEqual({ subtle: sha256Hex('123456'), fallback: sha256Hex('123456') });
    await screenshot(page, 'citizen-desktop-login');
  });
});
