/**
 * The flow a CoWIN booking bot of 2021 took, end to end, changing only the base URL:
 * generateMobileOTP (with `secret`) → validateMobileOtp → beneficiaries → states → districts →
 * calendarByDistrict → schedule with the slot string it was given → appointmentslip.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { formatCowinDate } from '../../engine/dates.js';
import { sha256Hex } from '../../engine/ids.js';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';

const readJson = (r: Response) => r.json() as Promise<any>;

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
  const center = gateway.engine.country.centersByDistrict.get(294)![0]!; // BBMP
  await gateway.engine.publishSession({ center_id: center.center_id, date: gateway.engine.today() + 2, vaccine: 'COVAXIN', min_age_limit: 18, capacity_dose1: 20, capacity_dose2: 0 });
});
afterAll(() => gateway?.stop());

it('books like a 2021 bot did', async () => {
  const base = `${gateway.url}/api/v2`;
  const mobile = testMobile();
  // a registered citizen (the bot's user registered on the website earlier)
  const setup = await new CowinClient(gateway.url).login(mobile);
  const beneficiaryId = await setup.addBeneficiary('Meera Iyer', 1990, testPhotoId());

  const headers = { 'content-type': 'application/json', accept: 'application/json', origin: 'https://selfregistration.cowin.gov.in', 'user-agent': 'Mozilla/5.0 bot' };
  const otp = await fetch(`${base}/auth/generateMobileOTP`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ secret: 'U2FsdGVkX1+z/4Nr9nta+2DrVJSv7KS6VoQUSQ1ZXYDx/CJUkWxFYG6P3iM/VW+6jLQOfo+sGAXXnBMqRyPrrA==', mobile }),
  }).then(readJson);
  const { token } = await fetch(`${base}/auth/validateMobileOtp`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ otp: sha256Hex('123456'), txnId: otp.txnId }),
  }).then(readJson);
  const auth = { ...headers, authorization: `Bearer ${token}` };

  const { beneficiaries } = await fetch(`${base}/appointment/beneficiaries`, { headers: auth }).then(readJson);
  const eligible = beneficiaries.filter((b: any) => b.vaccination_status === 'Not Vaccinated' && b.appointments.length === 0);
  expect(eligible.map((b: any) => b.beneficiary_reference_id)).toEqual([beneficiaryId]);

  const { states } = await fetch(`${base}/admin/location/states`, { headers: auth }).then(readJson);
  const karnataka = states.find((s: any) => s.state_name === 'Karnataka');
  const { districts } = await fetch(`${base}/admin/location/districts/${karnataka.state_id}`, { headers: auth }).then(readJson);
  const bbmp = districts.find((d: any) => d.district_name === 'BBMP');

  let found: { session: any; center: any } | undefined;
  for (let attempt = 0; attempt < 50 && !found; attempt++) {
    const calendar = await fetch(`${base}/appointment/sessions/calendarByDistrict?district_id=${bbmp.district_id}&date=${formatCowinDate(gateway.engine.today())}`, {
      headers: auth,
    }).then(readJson);
    for (const center of calendar.centers) {
      const session = center.sessions.find((s: any) => s.available_capacity_dose1 > 0 && s.min_age_limit <= 45);
      if (session) found = { session, center };
    }
    if (!found) await new Promise((r) => setTimeout(r, 50));
  }
  expect(found, 'the bot found an open session').toBeDefined();

  const scheduled = await fetch(`${base}/appointment/schedule`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({
      center_id: found!.center.center_id,
      session_id: found!.session.session_id,
      beneficiaries: [beneficiaryId],
      slot: found!.session.slots[found!.session.slots.length - 1],
      dose: 1,
    }),
  });
  expect(scheduled.status).toBe(200);
  const { appointment_confirmation_no } = await readJson(scheduled);

  const slip = await fetch(`${base}/appointment/appointmentslip/download?appointment_id=${appointment_confirmation_no}`, { headers: auth });
  expect(slip.status).toBe(200);
  expect(Buffer.from(await slip.arrayBuffer()).subarray(0, 4).toString()).toBe('%PDF');
});
