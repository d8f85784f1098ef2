/** A citizen's beneficiaries: list (with their live appointments), register, delete. */
import { formatCowinDate } from '../../engine/dates.js';
import type { StoredBeneficiary } from '../../engine/engine.js';
import type { Appointment } from '../../engine/engine.js';
import type { Country } from '../../engine/masterdata.js';
import { outcomeResponse } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { citizenOnly } from '../guards.js';
import { apiError, json, noContent, type Router } from '../http.js';
import { centerFields } from '../search.js';
import { parseBody } from '../validation.js';

const dateOrEmpty = (day: number) => (day > 0 ? formatCowinDate(day) : '');

/**
 * CoWIN's vaccination status: Vaccinated once the primary doses of the vaccine are given (dose 1
 * of a single-dose vaccine, dose 2 of the others); the precaution dose does not change it.
 */
export function vaccinationStatus(ben: StoredBeneficiary, country: Country): string {
  if (ben.dose2 > 0 || (ben.dose1 > 0 && country.primaryDoses(ben.vaccine) === 1)) return 'Vaccinated';
  if (ben.dose1 > 0) return 'Partially Vaccinated';
  return 'Not Vaccinated';
}

/** `{security_code}` of a beneficiary still booked on the appointment, else nothing. */
function securityCodeOf(appointment: Appointment, beneficiaryId: string): { security_code?: string } {
  const own = appointment.beneficiaries.find((b) => b.id === beneficiaryId);
  return own?.status === 'booked' && own.security_code ? { security_code: own.security_code } : {};
}

export function beneficiaryRoutes(router: Router, ctx: GatewayContext): void {
  const { engine, country, schemas } = ctx;
  const genders = new Map(country.data.genders.map((g) => [g.id, g.name]));
  const idTypes = new Map(country.data.photo_id_types.map((t) => [t.id, t.type]));

  /**
   * An appointment as CoWIN listed it under a beneficiary: the centre's fields, then the booking's,
   * then teeka's `security_code`: this beneficiary's code while they are still booked, so the page
   * can show it again after a reload (CoWIN clients ignore a field they do not know). Only the
   * account's own beneficiaries are listed, and a dose given or cancelled takes the code away.
   */
  const appointmentView = async (appointment: Appointment, beneficiaryId: string, language: string) => {
    const session = ctx.book.sessions.get(appointment.session_id) ?? (await engine.getSession(appointment.session_id));
    // a session always names a centre of the country file; a centre dropped from a later file leaves its id only
    const center = session ? country.centersById.get(session.center_id) : undefined;
    return {
      ...(center ? centerFields(country, center, language) : { center_id: session?.center_id ?? 0 }),
      appointment_id: appointment.appointment_id,
      dose: appointment.dose,
      session_id: appointment.session_id,
      date: session ? formatCowinDate(session.date) : '',
      slot: appointment.slot,
      ...securityCodeOf(appointment, beneficiaryId),
    };
  };

  router.get(
    '/api/v2/appointment/beneficiaries',
    citizenOnly(ctx, async (request, citizen) => {
      const today = engine.today();
      const language = country.language(request.headers['accept-language']);
      const beneficiaries = await engine.listBeneficiaries(citizen.accountId);
      const views = await Promise.all(
        beneficiaries.map(async (ben) => {
          const live = ([1, 2, 3] as const)
            .filter((dose) => ben[`appt${dose}`] !== '' && ben[`appt${dose}_day`] >= today)
            .map((dose) => ben[`appt${dose}`]);
          // the account's own appointments only (they carry the security codes), whatever a record says
          const appointments = (await Promise.all(live.map((id) => engine.getAppointment(id)))).filter(
            (a): a is Appointment => a !== null && a.account_id === citizen.accountId,
          );
          return {
            beneficiary_reference_id: ben.id,
            name: ben.name,
            birth_year: String(ben.birth_year),
            gender: genders.get(ben.gender_id) ?? '',
            // as CoWIN answered it: the last 4 digits only (teeka keeps no more of the number)
            mobile_number: citizen.mobileLast4,
            photo_id_type: idTypes.get(ben.photo_id_type) ?? '',
            photo_id_number: `XXXXXXXX${ben.photo_id_last4}`,
            comorbidity_ind: ben.comorbidity,
            vaccination_status: vaccinationStatus(ben, country),
            vaccine: ben.vaccine,
            dose1_date: dateOrEmpty(ben.dose1),
            dose2_date: dateOrEmpty(ben.dose2),
            precaution_dose_date: dateOrEmpty(ben.dose3),
            appointments: await Promise.all(appointments.map((a) => appointmentView(a, ben.id, language))),
          };
        }),
      );
      return json(200, { beneficiaries: views }, { 'cache-control': 'private, no-store', 'content-language': language, vary: 'Accept-Language' });
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
