/**
 * The citizen page speaks each country's file, in a real Chromium against the real gateway, for
 * every country in masterdata/: the calling code and mobile format at login, the words for the
 * administrative levels, PIN search only where the country offers it, fees in its currency, and
 * after a single-dose vaccine the booster offered next, not dose 2.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BookingEngine } from '../../engine/engine.js';
import { processClockFor } from '../support/clock.js';
import { nextPhotoIdOf, singleDoseVaccine, testCountries, twoDoseVaccine } from '../support/countries.js';
import { CowinClient, startGateway, testMobile, type RunningGateway } from '../support/gateway.js';
import { pageProblems, PHONE, seedSessionStorage, suiteBrowser } from './browser.js';

const browser = suiteBrowser();

describe.each(testCountries())('$name', (testing) => {
  const { country } = testing;
  const data = country.data;
  const levels = data.country.admin_levels;
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({}, { country: testing });
  });
  afterAll(() => gateway?.stop());

  async function openPage(seed?: { token: string; mobile: string }): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.context({ ...PHONE, locale: `${data.country.languages[0]}-${data.country.code}`, timezoneId: data.country.timezone }, processClockFor(country.timeZone));
    if (seed) await seedSessionStorage(context, { 'teeka.citizen.token': seed.token, 'teeka.citizen.mobile': seed.mobile });
    const page = await context.newPage();
    const problems = pageProblems(page);
    await page.goto(`${gateway.url}/`);
    // the page fills its words once its language file has loaded (web/language.js), then says so
    await page.locator('html[data-ready=true]').waitFor();
    return { page, problems };
  }

  it("logs in with the country's calling code and number format, and searches by its levels' names", async () => {
    const { page, problems } = await openPage();
    expect(await page.locator('#mobile-country-code').textContent()).toBe(`+${data.rules.mobile.country_code}`);
    expect(await page.locator('#mobile-hint').textContent()).toContain(`${country.mobile.format}, without +${data.rules.mobile.country_code}.`);
    expect(await page.locator('#mobile-hint').textContent()).toContain(`Demo: numbers starting ${data.demo!.test_mobile_prefix} use the OTP 123456.`);
    // a number of another country's shape is refused by the page itself, in the country's words
    await page.getByLabel('Mobile number').fill('5'.padEnd(data.rules.mobile.digits + 1, '0'));
    await page.getByRole('button', { name: 'Get OTP' }).click();
    await expect.poll(() => page.locator('#mobile-error').textContent()).toBe(`Please enter a mobile number of ${country.mobile.format}.`);
    await page.getByLabel('Mobile number').fill(testMobile(country));
    await page.getByRole('button', { name: 'Get OTP' }).click();
    await page.getByLabel('One-time password (OTP)').fill('123456');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Beneficiaries' }).waitFor();

    // the levels by the country's words; PIN search only where it has postal codes
    expect(await page.getByText(`By ${levels.district.toLowerCase()}`, { exact: true }).isVisible()).toBe(true);
    expect(await page.getByLabel('By PIN code').isVisible()).toBe(data.rules.search_by_pincode);
    const center = data.centers[0]!;
    const district = country.districtsById.get(center.district_id)!;
    await page.getByLabel(levels.state, { exact: true }).selectOption({ label: country.statesById.get(district.state_id)!.state_name });
    await page.getByLabel(levels.district, { exact: true }).selectOption({ label: district.district_name });
    const outcome = await gateway.engine.publishSession({ center_id: center.center_id, date: gateway.engine.today() + 1, vaccine: twoDoseVaccine(country).name, min_age_limit: 18, capacity_dose1: 5, capacity_dose2: 5 });
    expect(outcome.ok).toBe(true);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => page.locator('#search-status').textContent()).toMatch(new RegExp(`centres? in ${district.district_name}`));
    // the centre's address line names no postal code where the country has none
    const address = await page.locator('#results').getByText(center.address, { exact: false }).first().textContent();
    if (center.pincode === undefined) expect(address).not.toMatch(/\b0\b/);
    else expect(address).toContain(String(center.pincode));
    expect(problems).toEqual([]);
  });

  it("shows a paid centre's fee in the country's currency (India ₹, Guyana $)", async () => {
    const paid = data.centers.find((c) => c.fee_type === 'Paid' && c.vaccine_fees?.length)!;
    const fee = paid.vaccine_fees![0]!;
    const outcome = await gateway.engine.publishSession({ center_id: paid.center_id, date: gateway.engine.today() + 2, vaccine: fee.vaccine, min_age_limit: 18, capacity_dose1: 5, capacity_dose2: 5 });
    if (!outcome.ok) throw new Error('publish');
    const mobile = testMobile(country);
    const client = await new CowinClient(gateway.url).login(mobile);
    const { page, problems } = await openPage({ token: client.token, mobile });
    await page.getByRole('heading', { name: 'Beneficiaries' }).waitFor();
    const district = country.districtsById.get(paid.district_id)!;
    await page.getByLabel(levels.state, { exact: true }).selectOption({ label: country.statesById.get(district.state_id)!.state_name });
    await page.getByLabel(levels.district, { exact: true }).selectOption({ label: district.district_name });
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const money = new Intl.NumberFormat(`${data.country.languages[0]}-${data.country.code}`, { style: 'currency', currency: data.country.currency!, maximumFractionDigits: 0 }).format(Number(fee.fee));
    // the booking dialog names the session with its fee
    await page.locator(`button.session[data-session-id="${outcome.sessionId}"]`).click();
    await page.getByRole('dialog', { name: 'Book a slot' }).waitFor();
    expect(await page.locator('#book-session').textContent()).toContain(`Paid, ${money}`);
    expect(problems).toEqual([]);
  });

  it.runIf(singleDoseVaccine(country))('after a single-dose vaccine the page says Vaccinated and offers the booster, not dose 2', async () => {
    const single = singleDoseVaccine(country)!;
    const center = data.centers.find((c) => c.sessions.some((s) => s.vaccine === single.name))!;
    const today = gateway.engine.today();
    const publish = async (date: number) => {
      const outcome = await gateway.engine.publishSession({ center_id: center.center_id, date, vaccine: single.name, min_age_limit: 18, capacity_dose1: 5, capacity_dose2: 5 });
      if (!outcome.ok) throw new Error('publish');
      return outcome.sessionId;
    };
    const first = await publish(today);
    const booster = await publish(today + single.precaution_after_days!);
    const mobile = testMobile(country);
    const client = await new CowinClient(gateway.url).login(mobile);
    const photo = nextPhotoIdOf(country);
    const id = await client.addBeneficiary('Jordan Persaud', 1985, photo.number, photo.type);
    const booked = await client.post('/api/v2/appointment/schedule', { dose: 1, session_id: first, slot: country.slotsOf(center)[0], beneficiaries: [id] });
    expect(booked.status, booked.text).toBe(200);
    const engine = new BookingEngine(gateway.redis, { country, secret: 'teeka-demo-secret-do-not-use-in-production', clock: processClockFor(country.timeZone), layout: gateway.engine.layout });
    const securityCode = booked.json.security_codes[0].security_code as string;
    expect(await engine.markVaccinated({ appointmentId: booked.json.appointment_confirmation_no, beneficiaryId: id, securityCode, vaccinatorId: 'vax-1', centerIds: [center.center_id] })).toMatchObject({ ok: true });

    const { page, problems } = await openPage({ token: client.token, mobile });
    const card = page.locator('li.beneficiary', { hasText: 'Jordan Persaud' });
    // the date in the page's language and the country's calendar (Intl), not the API's DD-MM-YYYY
    const doseDate = new Intl.DateTimeFormat(`en-${data.country.code}`, { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).format(new Date(today * 86_400_000));
    await expect.poll(() => card.locator('.vaccination-status').textContent()).toBe(`Vaccinated (${single.name}: dose 1 on ${doseDate})`);
    const district = country.districtsById.get(center.district_id)!;
    await page.getByLabel(levels.state, { exact: true }).selectOption({ label: country.statesById.get(district.state_id)!.state_name });
    await page.getByLabel(levels.district, { exact: true }).selectOption({ label: district.district_name });
    await page.getByLabel('Seven days from').fill(new Date((today + single.precaution_after_days!) * 86_400_000).toISOString().slice(0, 10));
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator(`button.session[data-session-id="${booster}"]`).click();
    const dialog = page.getByRole('dialog', { name: 'Book a slot' });
    await dialog.waitFor();
    expect(await dialog.getByLabel('Jordan Persaud (precaution dose)').isChecked()).toBe(true);
    await dialog.getByRole('button', { name: 'Confirm booking' }).click();
    await expect.poll(() => page.locator('#beneficiaries-status').textContent()).toMatch(/^Booked: Jordan Persaud at /);
    expect(problems).toEqual([]);
  });
});
