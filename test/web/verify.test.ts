/**
 * /verify in a real Chromium against the real gateway: once the page has loaded the issuer's keys it
 * verifies with the network cut off: valid for a real certificate (pasted, or a photo of the PDF's
 * QR code), invalid for a tampered one, revoked for one an admin revoked before the page loaded.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../engine/keys.js';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';
import { renderFirstPage } from '../support/pdf.js';
import { DESKTOP, launchBrowser, newContext, pageProblems, screenshot } from './browser.js';

let gateway: RunningGateway;
let browser: Browser;
let context: BrowserContext | undefined;
const dir = mkdtempSync(join(tmpdir(), 'teeka-verify-'));

beforeAll(async () => {
  [gateway, browser] = await Promise.all([startGateway(), launchBrowser()]);
});
afterAll(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  await gateway?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A citizen vaccinated today with the code on their slip: their certificate's id, JWS and PDF. */
async function certificateFor(name: string) {
  const center = gateway.engine.country.data.centers[0]!;
  const published = await gateway.engine.publishSession({ center_id: center.center_id, date: gateway.engine.today(), vaccine: 'COVAXIN', min_age_limit: 18, capacity_dose1: 20, capacity_dose2: 0 });
  if (!published.ok) throw new Error('publish failed');
  const admin = new CowinClient(gateway.url);
  admin.token = (await admin.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' })).json.token;
  const issued = await admin.post('/teeka/admin/operators', { operator_id: 'vax-verify', role: 'vaccinator', center_ids: [center.center_id] });
  const vaccinator = new CowinClient(gateway.url);
  vaccinator.token = (await vaccinator.post('/teeka/auth/operator', { operator_id: 'vax-verify', secret: issued.json.secret })).json.token;
  const citizen = await new CowinClient(gateway.url).login(testMobile());
  const beneficiaryId = await citizen.addBeneficiary(name, 1988, testPhotoId());
  const booked = await citizen.post('/api/v2/appointment/schedule', { dose: 1, session_id: published.sessionId, slot: gateway.engine.country.slotsOf(center)[0], beneficiaries: [beneficiaryId] });
  const done = await vaccinator.post('/teeka/vaccinator/vaccinate', {
    appointment_id: booked.json.appointment_confirmation_no,
    beneficiary_reference_id: beneficiaryId,
    security_code: booked.json.security_codes[0].security_code,
  });
  expect(done.status, done.text).toBe(200);
  const certificateId = done.json.certificate_id as string;
  const jws = (await gateway.redis.hget(keys.certificate(certificateId), 'jws'))!;
  const pdf = await fetch(`${gateway.url}/api/v2/registration/certificate/public/download?beneficiary_reference_id=${beneficiaryId}`, { headers: { authorization: `Bearer ${citizen.token}` } });
  return { admin, certificateId, jws, pdf: new Uint8Array(await pdf.arrayBuffer()) };
}

const qrText = (jws: string) => `shc:/${[...jws].map((c) => String(c.charCodeAt(0) - 45).padStart(2, '0')).join('')}`;

describe('the /verify page', () => {
  it('verifies offline once loaded: valid, tampered, revoked, and a photo of the QR code', async () => {
    const real = await certificateFor('Sunita Rao');
    const revoked = await certificateFor('Mistaken Entry');
    expect((await revoked.admin.post('/teeka/admin/certificates/revoke', { certificate_id: revoked.certificateId, reason: 'issued in error' })).status).toBe(200);
    const photo = join(dir, 'qr-photo.png');
    writeFileSync(photo, await renderFirstPage(real.pdf, 100));

    context = await newContext(browser, DESKTOP);
    const page = await context.newPage();
    const problems = pageProblems(page);
    await page.goto(`${gateway.url}/verify`);
    await page.getByText(/^Ready: \d issuer key/).waitFor();

    // from here on, no network at all
    await context.setOffline(true);
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));

    const verifyPasted = async (text: string) => {
      await page.getByLabel(/paste the QR code's text/).fill(text);
      await page.getByRole('button', { name: 'Verify', exact: true }).click();
    };
    const result = page.locator('#result');

    await verifyPasted(qrText(real.jws));
    await expect.poll(() => page.locator('#verdict').textContent()).toBe('Valid certificate');
    expect(await result.getAttribute('data-verdict')).toBe('valid');
    expect(await result.textContent()).toContain('Sunita Rao');
    expect(await result.textContent()).toContain('COVAXIN');
    expect(await result.textContent()).toContain(real.certificateId);
    await screenshot(page, 'verify-valid');

    const [head, body, signature] = real.jws.split('.') as [string, string, string];
    const i = Math.floor(body.length / 2);
    await verifyPasted(`${head}.${body.slice(0, i)}${body[i] === 'A' ? 'B' : 'A'}${body.slice(i + 1)}.${signature}`);
    await expect.poll(() => page.locator('#verdict').textContent()).toBe('Not a valid certificate');
    expect(await result.getAttribute('data-verdict')).toBe('invalid');

    await verifyPasted(revoked.jws);
    await expect.poll(() => page.locator('#verdict').textContent()).toBe('Revoked certificate');

    // a photo of the printed certificate: the page finds the QR code in it
    await page.locator('#photo').setInputFiles(photo);
    await expect.poll(() => page.locator('#verdict').textContent(), { timeout: 15_000 }).toBe('Valid certificate');
    expect(await result.textContent()).toContain('Sunita Rao');

    expect(requests).toEqual([]);
    expect(problems).toEqual([]);
  });
});
