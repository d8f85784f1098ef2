/**
 * What the browser tests share: Debian's Chromium driven by playwright-core (no browser download
 * works here), screenshots as test artifacts (and, on request, for the README), and a watch on each
 * page's console so a script error or a Content-Security-Policy refusal fails the test that caused it.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Locator, type Page } from 'playwright-core';
import { projectRoot } from '../../engine/config.js';
import type { Clock } from '../../engine/clock.js';
import { processClock, SAME_FAKED_CLOCK_ENV } from '../support/clock.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The flags this closed network needs: without the background-networking ones Chromium's own
 * connections (updates, sync, field trials) are refused and slow every start. Playwright gives
 * each launch a fresh temporary --user-data-dir itself (it refuses the flag in `args`).
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchBrowser(): Promise<Browser> {
  // under libfaketime (test:any-hour) the browser runs on the test's faked clock like every process
  // of the run: Playwright's clock (newContext) stamps its install with this process's wall clock
  // and moves the page on by the browser's, so a browser on the real clock put the page hours off
  // (past every token's expiry), and a year off stopped its timers
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000, env: { ...process.env, ...SAME_FAKED_CLOCK_ENV } as Record<string, string> });
}

/** A phone-sized context (the citizen page's first audience) and a desktop one. */
export const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 };
export const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 };

/** A browser context on the tested processes' clock: `clock` when they run on another country's (processClockFor). */
export async function newContext(browser: Browser, options: BrowserContextOptions, clock: Clock = processClock): Promise<BrowserContext> {
  const context = await browser.newContext({ locale: 'en-IN', timezoneId: 'Asia/Kolkata', acceptDownloads: true, ...options });
  context.setDefaultTimeout(10_000);
  // the pages' "today" and token expiry must agree with the gateway's clock, whatever the hour
  await context.clock.install({ time: clock() });
  return context;
}

/**
 * One browser for a test file: launched before its tests, closed after them with every context
 * opened through `context` (call at the top of the file or of a describe).
 */
export function suiteBrowser(): { context(options: BrowserContextOptions, clock?: Clock): Promise<BrowserContext> } {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    await browser?.close();
  });
  return {
    async context(options, clock = processClock) {
      const context = await newContext(browser!, options, clock);
      contexts.push(context);
      return context;
    },
  };
}

const ARTIFACTS = join(projectRoot(), 'test-artifacts', 'web');
const DOCS_SCREENSHOTS = join(projectRoot(), 'docs', 'screenshots');

/**
 * Save a full-page screenshot as a test artifact. With TEEKA_UPDATE_SCREENSHOTS=1, `readme` also
 * writes docs/screenshots/<as>.png: what a visitor sees in the window (phone or desktop), scrolled
 * to `show` when given. Those are committed, so ordinary runs leave them alone.
 */
export async function screenshot(page: Page, name: string, readme?: { as: string; show?: Locator }): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: 'disabled', caret: 'hide' });
  if (readme && process.env.TEEKA_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
    const box = readme.show ? await readme.show.boundingBox() : null;
    if (box) await page.evaluate(`window.scrollBy(0, ${Math.round(box.y) - 8})`);
    await page.screenshot({ path: join(DOCS_SCREENSHOTS, `${readme.as}.png`), animations: 'disabled', caret: 'hide' });
  }
  return path;
}

/**
 * Uncaught exceptions and console errors of a page. Chromium also logs every 4xx answer of a fetch
 * as "Failed to load resource"; the pages meet those on purpose (a full slot, a quota logout), so
 * those lines are left out and everything else counts.
 */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) return;
    problems.push(`console: ${message.text()}`);
  });
  return problems;
}

/**
 * The citizen page in `context`, logged in as `mobile` (its token put in sessionStorage, as the OTP
 * form leaves it; the login form itself is tested once, in the journey), loaded and showing the account.
 */
export async function openCitizenPage(context: BrowserContext, gatewayUrl: string, token: string, mobile: string): Promise<{ page: Page; problems: string[] }> {
  await seedSessionStorage(context, { 'teeka.citizen.token': token, 'teeka.citizen.mobile': mobile });
  const page = await context.newPage();
  const problems = pageProblems(page);
  await page.goto(`${gatewayUrl}/`);
  await page.locator('html[data-ready=true]').waitFor(); // words and handlers in place (web/language.js)
  await page.getByRole('heading', { name: 'Beneficiaries' }).waitFor();
  return { page, problems };
}

// The tests type-check without the DOM library (tsconfig's lib is ES2023), so what runs inside the
// page is written as page-side source text.

/** The id of the element that has the keyboard focus (or of its closest ancestor matching `closest`). */
export function focusedId(page: Page, closest?: string): Promise<string | null> {
  const element = closest ? `document.activeElement?.closest(${JSON.stringify(closest)})` : 'document.activeElement';
  return page.evaluate(`${element}?.id || null`);
}

/** The text of the focused element. */
export function focusedText(page: Page): Promise<string | null> {
  return page.evaluate('document.activeElement?.textContent ?? null');
}

/** A value of the page's sessionStorage. */
export function sessionValue(page: Page, key: string): Promise<string | null> {
  return page.evaluate(`sessionStorage.getItem(${JSON.stringify(key)})`);
}

/** Put values into the sessionStorage of every page of the context before its scripts run (once per tab). */
export async function seedSessionStorage(context: BrowserContext, values: Record<string, string>): Promise<void> {
  await context.addInitScript(
    `if (!sessionStorage.getItem('teeka.test.seeded')) {
      for (const [key, value] of Object.entries(${JSON.stringify(values)})) sessionStorage.setItem(key, value);
      sessionStorage.setItem('teeka.test.seeded', '1');
    }`,
  );
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's findings on the page as it is now (every rule axe runs by default, WCAG A/AA and its
 * best practices), one line each: rule, help and the elements. axe is put into the page through the
 * DevTools protocol, which the pages' Content-Security-Policy (scripts from 'self' only) does not govern.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => v.id + ': ' + v.help + ' at ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`,
  );
}
