/** A citizen can only see and change their own beneficiaries and appointments (invariant 7). */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway?.stop());

it("another citizen's appointment and beneficiaries can be neither seen nor changed", async () => {
  const center = gateway.engine.country.data.centers[0]!;
  const slots = gateway.engine.country.slotsOf(center);
  const one = await gateway.engine.publishSession({ center_id: center.center_id, date: gateway.engine.today() + 2, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 10, capacity_dose2: 0 });
  const two = await gateway.engine.publishSession({ center_id: center.center_id, date: gateway.engine.today() + 3, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 10, capacity_dose2: 0 });
  if (!one.ok || !two.ok) throw new Error('publish failed');

  const alice = await new CowinClient(gateway.url).login(testMobile());
  const aliceBen = await alice.addBeneficiary('Alice', 1980, testPhotoId());
  const booked = await alice.post('/api/v2/appointment/schedule', { dose: 1, session_id: one.sessionId, slot: slots[0], beneficiaries: [aliceBen] });
  expect(booked.status).toBe(200);
  const appointmentId = booked.json.appointment_confirmation_no;

  const mallory = await new CowinClient(gateway.url).login(testMobile());
  const malloryBen = await mallory.addBeneficiary('Mallory', 1980, testPhotoId());

  const seen = await mallory.get('/api/v2/appointment/beneficiaries');
  expect(seen.json.beneficiaries.map((b: any) => b.beneficiary_reference_id)).toEqual([malloryBen]);

  const slip = await mallory.get(`/api/v2/appointment/appointmentslip/download?appointment_id=${appointmentId}`);
  expect([403, 404]).toContain(slip.status);
  const cancel = await mallory.post('/api/v2/appointment/cancel', { appointment_id: appointmentId, beneficiariesToCancel: [aliceBen] });
  expect([403, 404]).toContain(cancel.status);
  const reschedule = await mallory.post('/api/v2/appointment/reschedule', { appointment_id: appointmentId, session_id: two.sessionId, slot: slots[1] });
  expect([403, 404]).toContain(reschedule.status);
  const bookTheirs = await mallory.post('/api/v2/appointment/schedule', { dose: 1, session_id: two.sessionId, slot: slots[0], beneficiaries: [aliceBen] });
  expect([403, 404]).toContain(bookTheirs.status);
  const deleteTheirs = await mallory.post('/api/v2/registration/beneficiary/delete', { beneficiary_reference_id: aliceBen });
  expect([403, 404]).toContain(deleteTheirs.status);

  // nothing changed for Alice
  const appointment = (await gateway.engine.getAppointment(appointmentId))!;
  expect(appointment.session_id).toBe(one.sessionId);
  expect(appointment.beneficiaries).toEqual([{ id: aliceBen, status: 'booked', security_code: booked.json.security_codes[0].security_code }]);
  const aliceView = await alice.get('/api/v2/appointment/beneficiaries');
  expect(aliceView.json.beneficiaries[0].appointments[0].appointment_id).toBe(appointmentId);
});
