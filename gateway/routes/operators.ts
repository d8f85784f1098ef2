/**
 * teeka's own endpoints for operators, outside /api/v2: operator login, admins publishing
 * sessions, vaccinators verifying appointments and recording doses.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { formatCowinDate, parseCowinDate } from '../../engine/dates.js';
import { SessionInputError } from '../../engine/sessions.js';
import { apiErrorFor, REQUEST_ERRORS } from '../../engine/status.js';
import { outcomeResponse } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { operatorOnly, publicLimited } from '../guards.js';
import { apiError, json, type Router } from '../http.js';
import { parseBody, queryDate, queryId } from '../validation.js';
import { vaccinationStatus } from './beneficiaries.js';

/** Compare secrets in constant time (hashing first makes the lengths equal). */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return expected.length > 0 && timingSafeEqual(a, b);
}

export function operatorRoutes(router: Router, ctx: GatewayContext): void {
  const { engine, country, schemas, config } = ctx;

  router.post(
    '/teeka/auth/operator',
    publicLimited(ctx, (request) => {
      const body = parseBody(request, schemas.operatorLogin);
      if (!body.ok) return apiError(body.error);
      const expected = body.value.role === 'admin' ? config.adminKey : config.vaccinatorKey;
      if (!sameSecret(body.value.key, expected)) return apiError({ httpStatus: 401, errorCode: 'USRAUT0002', error: 'Invalid operator key' });
      const operatorId = body.value.operator_id ?? body.value.role;
      return json(200, { token: ctx.auth.operatorToken(body.value.role, operatorId), role: body.value.role });
    }),
  );

  router.post(
    '/teeka/admin/sessions',
    operatorOnly(ctx, 'admin', async (request) => {
      const body = parseBody(request, schemas.publishSession);
      if (!body.ok) return apiError(body.error);
      const { date, opens_at, ...rest } = body.value;
      const day = parseCowinDate(date);
      if (day === null) return apiError(REQUEST_ERRORS.invalidDate());
      try {
        const outcome = await engine.publishSession({ ...rest, date: day, opens_at: opens_at ? Date.parse(opens_at) : undefined });
        if (!outcome.ok) return outcomeResponse(outcome);
        return json(200, { session_id: outcome.sessionId, version: outcome.version, changed: outcome.changed });
      } catch (err) {
        if (err instanceof SessionInputError) return apiError(REQUEST_ERRORS.badRequest(err.message));
        throw err;
      }
    }),
  );

  router.get(
    '/teeka/admin/sessions',
    operatorOnly(ctx, 'admin', async (request) => {
      const center = queryId(request.query, 'center_id', () => REQUEST_ERRORS.badRequest('center_id: expected a number'));
      if (!center.ok) return apiError(center.error);
      const date = queryDate(request.query);
      if (!date.ok) return apiError(date.error);
      const sessions = (await engine.loadSessions(date.value, date.value)).filter((s) => s.center_id === center.value);
      return json(200, {
        sessions: sessions.map((s) => ({
          session_id: s.session_id,
          date: formatCowinDate(s.date),
          vaccine: s.vaccine,
          min_age_limit: s.min_age,
          status: s.status,
          capacity_dose1: s.cap1,
          capacity_dose2: s.cap2,
          booked_dose1: s.booked1,
          booked_dose2: s.booked2,
          slots: s.slots.map((label, i) => ({ slot: label, capacity: s.slot_caps[i], booked: s.slot_booked[i] })),
          version: s.version,
        })),
      });
    }),
  );

  router.get(
    '/teeka/vaccinator/appointments/:appointment_id',
    operatorOnly(ctx, 'vaccinator', async (request) => {
      const appointment = await engine.getAppointment(request.params.appointment_id!);
      if (!appointment) return apiError(REQUEST_ERRORS.notFound());
      const session = await engine.getSession(appointment.session_id);
      const bens = new Map((await engine.listBeneficiaries(appointment.account_id)).map((b) => [b.id, b]));
      const center = session ? country.centersById.get(session.center_id) : undefined;
      return json(200, {
        appointment_id: appointment.appointment_id,
        session_id: appointment.session_id,
        center_id: center?.center_id,
        center_name: center?.name,
        date: session ? formatCowinDate(session.date) : '',
        slot: appointment.slot,
        dose: appointment.dose,
        vaccine: session?.vaccine,
        beneficiaries: appointment.beneficiaries.map(({ id, status }) => {
          const ben = bens.get(id);
          return {
            beneficiary_reference_id: id,
            name: ben?.name ?? '',
            birth_year: ben?.birth_year,
            photo_id_last4: ben?.photo_id_last4,
            appointment_status: status,
            vaccination_status: ben ? vaccinationStatus(ben) : '',
          };
        }),
      });
    }),
  );

  router.post(
    '/teeka/vaccinator/vaccinate',
    operatorOnly(ctx, 'vaccinator', async (request, operator) => {
      const body = parseBody(request, schemas.vaccinate);
      if (!body.ok) return apiError(body.error);
      const outcome = await engine.markVaccinated({
        appointmentId: body.value.appointment_id,
        beneficiaryId: body.value.beneficiary_reference_id,
        securityCode: body.value.security_code,
        vaccinatorId: operator.sub,
      });
      if (!outcome.ok) {
        if (outcome.triesLeft === undefined) return outcomeResponse(outcome);
        const error = apiErrorFor(outcome.status);
        return apiError({ ...error, error: `${error.error} (${outcome.triesLeft} wrong ${outcome.triesLeft === 1 ? 'code' : 'codes'} left before the appointment is locked)` });
      }
      return json(200, { dose: outcome.dose, vaccine: outcome.vaccine, date: formatCowinDate(outcome.date) });
    }),
  );
}
