/** A citizen's beneficiaries: list (with their live appointments), register, delete. */
import { formatCowinDate } from '../../engine/dates.js';
import type { StoredBeneficiary } from '../../engine/engine.js';
import type { Appointment } from '../../engine/engine.js';
import { outcomeResponse } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { citizenOnly } from '../guards.js';
import { apiError, json, noContent, type Router } from '../http.js';
import { parseBody } from '../validation.js';

const dateOrEmpty = (day: number) => (day > 0 ? formatCowinDate(day) : '');

export function vaccinationStatus(ben: StoredBeneficiary): string {
  if (ben.dose2 > 0) return 'Vaccinated';
  if (ben.dose1 > 0) return 'Partially Vaccinated';
  return 'Not Vaccinated';
}

export function beneficiaryRoutes(router: Router, ctx: GatewayContext): void {
  const { engine, country, schemas } = ctx;
  const genders = new Map(country.data.genders.map((g) => [g.id, g.name]));
  const idTypes = new Map(country.data.photo_id_types.map((t) => [t.id, t.type]));

  /** An appointment as CoWIN listed it under a beneficiary. */
  const appointmentView = async (appointment: Appointment) => {
    const session = ctx.book.sessions.get(appointment.session_id) ?? (await engine.getSession(appointment.session_id));
    const center = session ? country.centersById.get(session.center_id) : undefined;
    const district = center ? country.districtsById.get(center.district_id) : undefined;
    return {
      appointment_id: appointment.appointment_id,
      center_id: center?.center_id ?? 0,
      name: center?.name ?? '',
      state_name: district ? country.statesById.get(district.state_id)?.state_name ?? '' : '',
      district_name: district?.district_name ?? '',
      block_name: center?.block_name ?? '',
      from: center?.from ?? '',
      to: center?.to ?? '',
      dose: appointment.dose,
      session_id: appointment.session_id,
      date: session ? formatCowinDate(session.date) : '',
      slot: appointment.slot,
    };
  };

  router.get(
    '/api/v2/appointment/beneficiaries',
    citizenOnly(ctx, async (_request, citizen) => {
      const today = engine.today();
      const beneficiaries = await engine.listBeneficiaries(citizen.accountId);
      const views = await Promise.all(
        beneficiaries.map(async (ben) => {
          const live = ([1, 2, 3] as const)
            .filter((dose) => ben[`appt${dose}`] !== '' && ben[`appt${dose}_day`] >= today)
            .map((dose) => ben[`appt${dose}`]);
          const appointments = (await Promise.all(live.map((id) => engine.getAppointment(id)))).filter((a) => a !== null);
          return {
            beneficiary_reference_id: ben.id,
            name: ben.name,
            birth_year: String(ben.birth_year),
            gender: genders.get(ben.gender_id) ?? '',
            photo_id_type: idTypes.get(ben.photo_id_type) ?? '',
            photo_id_number: `XXXXXXXX${ben.photo_id_last4}`,
            comorbidity_ind: ben.comorbidity,
            vaccination_status: vaccinationStatus(ben),
            vaccine: ben.vaccine,
            dose1_date: dateOrEmpty(ben.dose1),
            dose2_date: dateOrEmpty(ben.dose2),
            precaution_dose_date: dateOrEmpty(ben.dose3),
            appointments: await Promise.all(appointments.map(appointmentView)),
          };
        }),
      );
      return json(200, { beneficiaries: views }, { 'cache-control': 'private, no-store' });
    }),
  );

  router.post(
    '/api/v2/registration/beneficiary/new',
    citizenOnly(ctx, async (request, citizen) => {
      const body = parseBody(request, schemas.newBeneficiary);
      if (!body.ok) return apiError(body.error);
      const outcome = await engine.addBeneficiary(citizen.accountId, body.value);
      if (!outcome.ok) return outcomeResponse(outcome);
      return json(200, { beneficiary_reference_id: outcome.beneficiaryId });
    }),
  );

  router.post(
    '/api/v2/registration/beneficiary/delete',
    citizenOnly(ctx, async (request, citizen) => {
      const body = parseBody(request, schemas.deleteBeneficiary);
      if (!body.ok) return apiError(body.error);
      const outcome = await engine.deleteBeneficiary(citizen.accountId, body.value.beneficiary_reference_id);
      if (!outcome.ok) return outcomeResponse(outcome);
      return noContent();
    }),
  );
}
