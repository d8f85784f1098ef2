/**
 * The operator's dashboard in a real Chromium, against the real gateway and the real persistence
 * worker (a child process on the gateway's Redis prefix and a PostgreSQL schema of this test's own):
 * queue depth is unknown while the worker is down during a burst of bookings (only a worker publishes
 * it) and falls to zero once it is back, as the page shows it, second by second.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../engine/keys.js';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';
import { DATABASE_URL, startWorkerProcess, type ChildProcessHandle } from '../worker/support.js';
import { DESKTOP, focusedId, launchBrowser, newContext, pageProblems, screenshot } from './browser.js';

let gateway: RunningGateway;
let browser: Browser;
let context: BrowserContext;
const schema = `web_${randomUUID().slice(0, 8)}`;
const workers: ChildProcessHandle[] = [];

beforeAll(async () => {
  [gateway, browser] = await Promise.all([startGateway(), launchBrowser()]);
  context = await newContext(browser, DESKTOP);
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  await context?.close().catch(() => {});
  await browser?.close();
  await gateway?.stop();
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

/** The text of one of the dashboard's "now" tiles, as a number of changes (or seconds). */
async function tileNumber(page: Page, id: string): Promise<number> {
  const text = (await page.locator(`#${id}`).textContent()) ?? '';
  // "unknown" (no worker publishes the depth) is no number, not 0
  return /\d/.test(text) ? Number(text.replace(/[^\d.]/g, '')) : NaN;
}

describe('operator dashboard', () => {
  it('refuses a wrong admin key, then shows queue depth as unknown while the worker is down during a burst of bookings and falling to zero after it restarts', async () => {
    // the worker as a child process on the gateway's prefix and this test's schema (quota snapshots off)
    const startWorker = () => startWorkerProcess({ prefix: gateway.prefix, schema, extra: { TEEKA_QUOTA_SNAPSHOT_MS: '0' } });
    let worker = await startWorker();
    workers.push(worker);

    // citizens with four beneficiaries each, and a session with room for all of them
    const center = gateway.engine.country.centersByDistrict.get(149)![0]!; // South Delhi
    const published = await gateway.engine.publishSession({ center_id: center.center_id, date: gateway.engine.today() + 1, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 200, capacity_dose2: 0 });
    if (!published.ok) throw new Error('publishSession failed');
    const slots = gateway.engine.country.slotsOf(center);
    const citizens = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const client = await new CowinClient(gateway.url).login(testMobile());
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) ids.push(await client.addBeneficiary(`Burst Citizen ${String.fromCharCode(65 + i)}`, 1980 + i, testPhotoId()));
        return { client, ids };
      }),
    );
    const book = (client: CowinClient, id: string, n: number) =>
      client.post('/api/v2/appointment/schedule', { dose: 1, session_id: published.sessionId, slot: slots[n % slots.length], beneficiaries: [id] });

    const page = await context.newPage();
    const problems = pageProblems(page);
    await page.goto(`${gateway.url}/dashboard`);
    await page.locator('html[data-ready=true]').waitFor(); // words and handlers in place (web/language.js)
    await page.getByLabel('Admin key').fill('not-the-key');
    await page.getByRole('button', { name: 'Open dashboard' }).click();
    await expect.poll(() => page.locator('#admin-key-error').textContent()).toBe('That key was not accepted. Check it and try again.');
    expect(await page.getByLabel('Admin key').getAttribute('aria-invalid')).toBe('true');
    await screenshot(page, 'dashboard-key-refused');

    await page.getByLabel('Admin key').fill('demo-admin-key');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Live operations' }).waitFor();
    expect(await focusedId(page)).toBe('board-title');
    // the gateway's main thread samples once a second and a sample is the difference of two
    // snapshots: the first numbers may take a couple of seconds on a busy machine
    await expect.poll(() => page.locator('#updated').textContent(), { timeout: 5000 }).toMatch(/^Updated /);
    // seven charts, each a uPlot canvas with a text alternative
    expect(await page.locator('figure.chart canvas').count()).toBe(7);
    expect(await page.locator('figure.chart [role="img"][aria-label^="Line chart of "]').count()).toBe(7);

    // with the worker running, bookings drain at once (Redis says when; the page may lag a second)
    await Promise.all(citizens.slice(0, 2).flatMap(({ client, ids }) => ids.map((id, i) => book(client, id, i))));
    await expect.poll(() => gateway.redis.xlen(keys.outbox()), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => tileNumber(page, 'now-outbox'), { timeout: 5000 }).toBe(0);

    // the worker dies; a burst of 40 bookings piles up in the outbox, unread. Only a worker publishes
    // the depth: once its record expires (a few seconds) the page says "unknown", never the last
    // numbers (which said drained), and says it aloud once
    await worker.kill('SIGKILL');
    const burst = await Promise.all(citizens.slice(2).flatMap(({ client, ids }) => ids.map((id, i) => book(client, id, i))));
    expect(burst.map((b) => b.status)).toEqual(Array(40).fill(200));
    // one entry per booking, which carries its access log entry (engine/access-log.ts bookingAccessEntry)
    await expect.poll(() => gateway.redis.xlen(keys.outbox())).toBe(40);
    await expect.poll(() => page.locator('#now-outbox').textContent(), { timeout: 10_000 }).toBe('unknown');
    expect(await page.locator('#now-undelivered').textContent()).toBe('unknown');
    expect(await page.locator('#now-oldest').textContent()).toBe('unknown');
    expect(await page.locator('#tile-outbox').getAttribute('class')).toContain('alert');
    await expect.poll(() => page.locator('#announcer').textContent()).toBe('Persistence worker not reporting: queue depth unknown.');
    // the burst's booking rate is in the bookings chart's window (its caption is the text alternative)
    const bookingsCaption = (await page.locator('#chart-bookings-now').textContent()) ?? '';
    expect(Number(/Highest in 5 min: Booked ([\d.]+)\/s/.exec(bookingsCaption)?.[1])).toBeGreaterThanOrEqual(5);
    await screenshot(page, 'dashboard-worker-unknown');

    // the worker comes back: the queue drains to zero and PostgreSQL holds every booking
    worker = await startWorker();
    workers.push(worker);
    await expect.poll(() => tileNumber(page, 'now-outbox'), { timeout: 15_000 }).toBe(0);
    expect(await tileNumber(page, 'now-undelivered')).toBe(0);
    expect(await page.locator('#now-oldest').textContent()).toBe('0.0 s');
    expect(await page.locator('#tile-outbox').getAttribute('class')).toContain('calm');
    await expect.poll(() => page.locator('#announcer').textContent()).toBe('Persistence queue drained: everything is in PostgreSQL.');
    await expect.poll(() => page.locator('#chart-queue-now').textContent()).toContain('Not in PostgreSQL 0, Unread (lag) 0, Pending 0');
    // let a few zero samples land so the chart shows the fall, then keep it for the README
    await page.waitForTimeout(2500);
    await screenshot(page, 'dashboard-queue-drained', { as: 'dashboard' });

    const db = new pg.Client({ connectionString: DATABASE_URL });
    await db.connect();
    try {
      const { rows } = await db.query<{ n: string }>(`SELECT count(DISTINCT appointment_id) AS n FROM ${schema}.appointments`);
      expect(Number(rows[0]!.n)).toBe(48);
    } finally {
      await db.end();
    }
    await worker.kill('SIGTERM');
    expect(problems).toEqual([]);
  });
});
