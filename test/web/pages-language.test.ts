/**
 * Both pages in every language of every country (masterdata/ × its `country.languages`), in a real
 * Chromium against the real gateway, with axe-core run on every state the test reaches (zero
 * violations): the language chosen with the switcher and remembered, `<html lang>`, words from the
 * language's file and formats from Intl; the booking page's care for people (eligibility with the
 * reason and the person's name, when dose 2 falls due, focus on the results summary, busy buttons
 * that keep the focus, the error summary, warnings at 0 searches left and before the login ends,
 * chosen filters in forced colours, a focus ring of 3:1); and the dashboard's unknown tiles.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BookingEngine } from '../../engine/engine.js';
import { formatCowinDate } from '../../engine/dates.js';
import { pageText } from '../../gateway/i18n.js';
import { processClockFor } from '../support/clock.js';
import { nextPhotoIdOf, testCountries, twoDoseVaccine } from '../support/countries.js';
import { CowinClient, startGateway, testMobile, type RunningGateway } from '../support/gateway.js';
import { axeViolations, DESKTOP, focusedId, pageProblems, screenshot, suiteBrowser } from './browser.js';

const browser = suiteBrowser();

const DAY_MS = 86_400_000;
type Tree = { [key: string]: string | Tree };

/** The words of `language` as the page gets them, filled as web/language.js fills them. */
function wordsOf(language: string, countryCode: string) {
  const tree = pageText(language) as Tree;
  const locale = `${language}-${countryCode}`;
  const plurals = new Intl.PluralRules(locale);
  const w = (key: string, values: Record<string, string | number> = {}): string => {
    let entry: string | Tree | undefined = key.split('.').reduce<string | Tree | undefined>((node, part) => (typeof node === 'object' ? node[part] : undefined), tree);
    if (entry && typeof entry === 'object') entry = (entry[plurals.select(Number(values.count))] ?? entry.other) as string;
    if (typeof entry !== 'string') throw new Error(`no words for ${key} in ${language}`);
    return entry.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
  };
  const longDay = (day: number) => new Intl.DateTimeFormat(locale, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date(day * DAY_MS));
  /** The words of `key` as a pattern: each placeholder not in `values` matches anything. */
  const pattern = (key: string, values: Record<string, string | number> = {}) => {
    const marked = w(key, values).replace(/\{(\w+)\}/g, '\u0000');
    return new RegExp(`^${marked.split('\u0000').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`);
  };
  return { w, locale, longDay, pattern };
}

/** Contrast ratio of two sRGB colours given as `rgb(r, g, b)` (WCAG 2's formula). */
function contrast(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r, g, bl] = css.match(/\d+(\.\d+)?/g)!.slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

async function expectNoAxeViolations(page: Page, state: string): Promise<void> {
  expect(await axeViolations(page), state).toEqual([]);
}

describe.each(testCountries())('$name', (testing) => {
  const { country } = testing;
  const data = country.data;
  const clock = processClockFor(country.timeZone);
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({}, { country: testing });
  });
  afterAll(() => gateway?.stop());

  async function openPage(path: string, language: string): Promise<{ page: Page; problems: string[] }> {
    // the browser itself asks for the country's first language; other languages are chosen on the page
    const context = await browser.context({ ...DESKTOP, locale: `${data.country.languages[0]}-${data.country.code}`, timezoneId: data.country.timezone }, clock);
    const page = await context.newPage();
    const problems = pageProblems(page);
    await page.goto(`${gateway.url}${path}`);
    await page.locator('html[data-ready=true]').waitFor();
    if (language !== data.country.languages[0]) {
      await page.locator('#language').selectOption(language);
      await page.locator(`html[lang=${language}][data-ready=true]`).waitFor();
    }
    return { page, problems };
  }

  describe.each(data.country.languages.map((language) => ({ language })))('in $language', ({ language }) => {
    const { w, locale, longDay, pattern } = wordsOf(language, data.country.code);
    const doseName = (dose: number) => w(`citizen.doseName.${dose}`);
    const level = (word: string) => w(`levels.${word}`);

    it('the citizen page: its language remembered, eligibility with reasons and names, dose 2 due, results summary, busy buttons, error summaries, quota and login warnings, forced colours, focus ring; axe on every state', async () => {
      const vaccine = twoDoseVaccine(country);
      const center = data.centers[0]!;
      const district = country.districtsById.get(center.district_id)!;
      const today = gateway.engine.today();
      const publish = async (date: number, minAge: number) => {
        const outcome = await gateway.engine.publishSession({ center_id: center.center_id, date, vaccine: vaccine.name, min_age_limit: minAge, capacity_dose1: 5, capacity_dose2: 5 });
        if (!outcome.ok) throw new Error(`publishSession: ${outcome.status}`);
        return outcome.sessionId;
      };
      const todays = await publish(today, 18);
      const session = await publish(today + 1, 45);
      const year = new Date((today + 1) * DAY_MS).getUTCFullYear();

      // the account: one who can take the 45+ session, one too young, one whose dose 2 is not due yet
      const mobile = testMobile(country);
      const client = await new CowinClient(gateway.url).login(mobile);
      // each language's run has its own account (a fresh test number), so the names may repeat
      const names = { ready: 'Meena Iyer', young: 'Ravi Das', waiting: 'Kala Rao' };
      const add = (name: string, born: number) => {
        const photo = nextPhotoIdOf(country);
        return client.addBeneficiary(name, born, photo.number, photo.type);
      };
      const readyId = await add(names.ready, year - 50);
      const youngId = await add(names.young, year - 30);
      const waitingId = await add(names.waiting, year - 60);
      const booked = await client.post('/api/v2/appointment/schedule', { dose: 1, session_id: todays, slot: country.slotsOf(center)[0], beneficiaries: [waitingId] });
      expect(booked.status, booked.text).toBe(200);
      const engine = new BookingEngine(gateway.redis, { country, secret: 'teeka-demo-secret-do-not-use-in-production', clock, layout: gateway.engine.layout });
      const code = booked.json.security_codes[0].security_code as string;
      expect(await engine.markVaccinated({ appointmentId: booked.json.appointment_confirmation_no, beneficiaryId: waitingId, securityCode: code, vaccinatorId: 'vax-1', centerIds: [center.center_id] })).toMatchObject({ ok: true });

      const { page, problems } = await openPage('/', language);
      // the language: <html lang>, the file's words, the switcher offering the country's languages
      expect(await page.evaluate('document.documentElement.lang')).toBe(language);
      expect(await page.title()).toBe(w('citizen.pageTitle'));
      expect(await page.locator('#login-title').textContent()).toBe(w('citizen.loginTitle'));
      if (data.country.languages.length > 1) {
        expect(await page.locator('#language option').evaluateAll((options) => options.map((o) => (o as unknown as { value: string }).value))).toEqual(data.country.languages);
        await page.reload();
        await page.locator('html[data-ready=true]').waitFor();
        expect(await page.evaluate('document.documentElement.lang'), 'the choice is remembered').toBe(language);
      } else {
        expect(await page.locator('.language-switch').isVisible(), 'one language, no switcher').toBe(false);
      }
      await expectNoAxeViolations(page, 'login');

      // a wrong mobile: the summary at the top takes the focus, the same words beside the field
      await page.getByLabel(w('citizen.mobileLabel')).fill('12');
      await page.getByRole('button', { name: w('citizen.getOtp') }).click();
      const wrongMobile = w('citizen.mobileInvalid', { format: country.mobile.format });
      await expect.poll(() => page.locator('#mobile-error').textContent()).toBe(wrongMobile);
      expect(await page.locator('#error-summary a').allTextContents()).toEqual([wrongMobile]);
      expect(await focusedId(page)).toBe('error-summary');
      await expectNoAxeViolations(page, 'login with an error summary');
      await page.locator('#error-summary a').click();
      expect(await focusedId(page), 'the link moves focus to the field').toBe('mobile');

      await page.getByLabel(w('citizen.mobileLabel')).fill(mobile);
      await page.getByRole('button', { name: w('citizen.getOtp') }).click();
      await page.getByLabel(w('citizen.otpLabel')).fill('123456');
      await page.getByRole('button', { name: w('citizen.verifyOtp') }).click();
      await page.getByRole('heading', { name: w('citizen.beneficiariesTitle') }).waitFor();

      // when dose 2 falls due, on the card of the one who had dose 1 today
      const due = today + vaccine.dose2_after_days!;
      const waitingCard = page.locator('li.beneficiary', { hasText: names.waiting });
      await expect.poll(() => waitingCard.locator('.next-dose dd').textContent()).toBe(w('citizen.dueFrom', { dose: doseName(2), date: longDay(due) }));
      await expectNoAxeViolations(page, 'account');

      // Search: the button is busy (aria-disabled, keeping the focus) until the answer, then the focus is on the summary
      await page.getByLabel(level(data.country.admin_levels.state), { exact: true }).selectOption({ label: country.statesById.get(district.state_id)!.state_name });
      await page.getByLabel(level(data.country.admin_levels.district), { exact: true }).selectOption({ label: district.district_name });
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      await page.route(
        '**/calendarByDistrict*',
        async (route) => {
          await held;
          await route.continue();
        },
        { times: 1 },
      );
      const searchButton = page.getByRole('button', { name: w('citizen.search'), exact: true });
      await searchButton.focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => searchButton.getAttribute('aria-disabled')).toBe('true');
      expect(await page.evaluate('document.activeElement?.type'), 'a busy button keeps the focus').toBe('submit');
      expect(await searchButton.evaluate((b) => (b as unknown as { disabled: boolean }).disabled)).toBe(false);
      release();
      await expect.poll(() => focusedId(page)).toBe('search-status');
      expect(await searchButton.getAttribute('aria-disabled')).toBeNull();
      expect(await page.locator('#search-status').textContent()).toContain(district.district_name);
      expect(await page.locator('#search-status').isVisible()).toBe(true);
      await expectNoAxeViolations(page, 'search results');

      // the booking dialog: who can be booked, and for everyone else why, by name
      await page.locator(`button.session[data-session-id="${session}"]`).click();
      const dialog = page.getByRole('dialog', { name: w('citizen.bookTitle') });
      await dialog.waitFor();
      expect(await dialog.locator('#book-beneficiaries').textContent(), 'nothing but words').not.toMatch(/null|undefined/);
      const reasons = await dialog.locator('.ineligible li').allTextContents();
      expect(reasons).toEqual([
        w('citizen.ineligible.age', { name: names.young, age: 30, year, limit: '45+' }),
        w('citizen.ineligible.notDue', { name: names.waiting, dose: doseName(2), date: longDay(due) }),
      ]);
      const readyBox = dialog.getByLabel(w('citizen.personDose', { name: names.ready, dose: doseName(1) }));
      expect(await readyBox.isChecked(), 'the only one who can be booked is chosen').toBe(true);
      const dialogText = (await dialog.textContent()) ?? '';
      for (const id of [readyId, youngId, waitingId]) expect(dialogText, 'people are named, not numbered').not.toContain(id);
      await expectNoAxeViolations(page, 'booking dialog with eligibility');
      const forReadme = (as: string) => (testing.name === 'demo-country' && language === 'en' ? { as } : undefined);
      await screenshot(page, `pages-${testing.name}-${language}-eligibility`, forReadme('citizen-eligibility'));
      await readyBox.uncheck();
      await dialog.getByRole('button', { name: w('citizen.bookConfirm') }).click();
      await expect.poll(() => dialog.locator('#book-error-summary a').allTextContents()).toEqual([w('citizen.chooseWho')]);
      expect(await focusedId(page)).toBe('book-error-summary');
      await expectNoAxeViolations(page, 'booking dialog with an error summary');
      await readyBox.check();

      // booked elsewhere meanwhile (another device): the server's refusal names the person, not the id
      const elsewhere = new CowinClient(gateway.url);
      elsewhere.token = (await page.evaluate("sessionStorage.getItem('teeka.citizen.token')")) as string;
      // another slot than the one dose 1 of the waiting one took: a slot of this session holds few
      const rival = await elsewhere.post('/api/v2/appointment/schedule', { dose: 1, session_id: todays, slot: country.slotsOf(center)[1], beneficiaries: [readyId] });
      expect(rival.status, rival.text).toBe(200);
      await dialog.getByRole('button', { name: w('citizen.bookConfirm') }).click();
      await expect.poll(() => dialog.locator('#book-error').textContent()).toBe(w('errors.APPOIN0026', { name: names.ready }));
      await expectNoAxeViolations(page, 'booking refused');
      const cancelled = await elsewhere.post('/api/v2/appointment/cancel', { appointment_id: rival.json.appointment_confirmation_no, beneficiariesToCancel: [readyId] });
      expect(cancelled.status, cancelled.text).toBe(204);

      await dialog.getByRole('button', { name: w('citizen.bookConfirm') }).click();
      await expect.poll(() => page.locator('#beneficiaries-status').textContent()).toContain(names.ready);
      expect(await page.locator('#beneficiaries-status').textContent()).toMatch(
        pattern('citizen.bookedMessage', { who: names.ready, centre: center.name, date: longDay(today + 1), slot: country.slotsOf(center)[0]! }),
      );
      await expectNoAxeViolations(page, 'booked');
      await screenshot(page, `pages-${testing.name}-${language}-booked`);

      // at 0 searches left the page says so, and asks before the search that would log out
      const quota = data.rules.search_quota.max_per_window;
      const token = (await page.evaluate("sessionStorage.getItem('teeka.citizen.token')")) as string;
      const searcher = new CowinClient(gateway.url);
      searcher.token = token;
      for (let i = 0; i < quota - 2; i++) {
        const answer = await searcher.get(`/api/v2/appointment/sessions/calendarByDistrict?district_id=${district.district_id}&date=${formatCowinDate(today)}`);
        expect(answer.status).toBe(200);
      }
      await searchButton.click();
      const windowMinutes = new Intl.NumberFormat(locale).format(Math.round(data.rules.search_quota.window_seconds / 60));
      await expect.poll(() => page.locator('#quota-hint').textContent()).toBe(w('citizen.noSearchesLeft', { minutes: windowMinutes }));
      await expectNoAxeViolations(page, '0 searches left');
      await searchButton.click();
      const confirm = page.getByRole('dialog', { name: w('citizen.lastSearchTitle') });
      await confirm.waitFor();
      await expectNoAxeViolations(page, 'asked before the last search');
      await screenshot(page, `pages-${testing.name}-${language}-last-search`, forReadme('citizen-last-search'));
      await confirm.getByRole('button', { name: w('citizen.dontSearch') }).click();
      expect(await page.getByRole('heading', { name: w('citizen.beneficiariesTitle') }).isVisible(), 'still logged in').toBe(true);

      // chosen filters stay visible in forced colours, and the focus ring is 3:1 against white
      const age45 = page.locator('label[for=f-age-45]');
      const age18 = page.locator('label[for=f-age-18]');
      await page.emulateMedia({ forcedColors: 'active' });
      await page.locator('#f-age-45').check();
      const background = (label: typeof age45) => label.evaluate((l) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(l).backgroundColor);
      expect(await background(age45), 'a chosen filter looks chosen in forced colours').not.toBe(await background(age18));
      await page.emulateMedia({ forcedColors: 'none' });
      await page.locator('#from-date').focus();
      await page.keyboard.press('Tab');
      const ring = await page.evaluate('(() => { const s = getComputedStyle(document.activeElement); return { color: s.outlineColor, width: parseFloat(s.outlineWidth), style: s.outlineStyle }; })()') as { color: string; width: number; style: string };
      expect(ring.style).toBe('solid');
      expect(ring.width).toBeGreaterThanOrEqual(2);
      expect(contrast(ring.color, 'rgb(255, 255, 255)')).toBeGreaterThanOrEqual(3);

      // a warning a little before the login ends, with the time in the country's zone
      const expiresAt = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp * 1000;
      const pageNow = (await page.evaluate('Date.now()')) as number;
      // 100 s before the end: the warning (due 2 minutes before) is up and says "2 minutes" (rounded up)
      await page.clock.fastForward(Math.max(0, expiresAt - pageNow - 100_000));
      const warning = page.locator('#expiry-warning');
      await expect.poll(() => warning.isVisible()).toBe(true);
      const time = new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit', timeZone: data.country.timezone }).format(new Date(expiresAt));
      expect(await warning.textContent()).toBe(w('citizen.expiryWarning', { time, count: 2 }));
      expect(await warning.getAttribute('role')).toBe('alert');
      await expectNoAxeViolations(page, 'login about to end');
      expect(problems).toEqual([]);
    });

    it('the dashboard: its language, axe on login and board, and tiles shown as unknown (not green) when the figures stop', async () => {
      const { page, problems } = await openPage('/dashboard', language);
      expect(await page.evaluate('document.documentElement.lang')).toBe(language);
      expect(await page.locator('#login-title').textContent()).toBe(w('dashboard.loginTitle'));
      await expectNoAxeViolations(page, 'dashboard login');
      await page.getByLabel(w('dashboard.adminKey')).fill('demo-admin-key');
      await page.getByRole('button', { name: w('dashboard.open') }).click();
      await page.getByRole('heading', { name: w('dashboard.boardTitle') }).waitFor();
      await expect.poll(() => page.locator('#now-requests').textContent()).not.toBe('–');
      expect(await page.locator('#updated').textContent()).toMatch(pattern('dashboard.updated'));
      await expectNoAxeViolations(page, 'dashboard board');

      // the time axes: the country's times in the page's locale, no two labels overlapping
      await expect.poll(() => page.locator('.uplot[data-x-labels]').count()).toBe(7);
      const axes = (await page.evaluate(
        `[...document.querySelectorAll('.uplot[data-x-labels]')].map((root) => {
          const context = document.createElement('canvas').getContext('2d');
          context.font = root.dataset.axisFont;
          return JSON.parse(root.dataset.xLabels).map((l) => ({ ...l, width: context.measureText(l.label).width }));
        })`,
      )) as { t: number; label: string; x: number; width: number }[][];
      const timeFormat = new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit', timeZone: data.country.timezone });
      for (const labels of axes) {
        expect(labels.length).toBeGreaterThan(1);
        for (const l of labels) expect(l.label).toBe(timeFormat.format(new Date(l.t)));
        expect(new Set(labels.map((l) => l.label)).size, 'no label repeats').toBe(labels.length);
        for (let i = 1; i < labels.length; i++) expect(labels[i]!.x - labels[i - 1]!.x, 'labels apart').toBeGreaterThan((labels[i]!.width + labels[i - 1]!.width) / 2);
      }

      // the gateway's figures stop: every tile unknown, none in the calm green of its last value
      await page.route('**/teeka/ops/stats*', (route) => route.abort());
      await expect.poll(() => page.locator('#now-requests').textContent(), { timeout: 5000 }).toBe(w('dashboard.unknown'));
      const tiles = await page.locator('.tile').evaluateAll((all) => all.map((t) => ({ text: (t as unknown as { querySelector(s: string): { textContent: string } }).querySelector('dd').textContent, cls: (t as unknown as { className: string }).className })));
      for (const tile of tiles) {
        expect(tile.text).toBe(w('dashboard.unknown'));
        expect(tile.cls).not.toContain('calm');
      }
      await expectNoAxeViolations(page, 'dashboard with unknown figures');
      await page.unroute('**/teeka/ops/stats*');
      expect(problems.filter((p) => !p.includes('ERR_FAILED'))).toEqual([]);
    });
  });
});
