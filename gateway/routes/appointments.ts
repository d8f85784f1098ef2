/** Booking: schedule, reschedule, cancel, the captcha, and the appointment slip. */
import { createRequire } from 'node:module';
import { formatCowinDate } from '../../engine/dates.js';
import type { SecurityCode } from '../../engine/engine.js';
import { ADMISSION_PATTERN, isUnderFairAdmission } from '../../engine/fair-admission.js';
import { apiErrorFor, REQUEST_ERRORS, Status } from '../../engine/status.js';
import { accessInScript } from '../access-log.js';
import { outcomeResponse, type Citizen } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { citizenOnly } from '../guards.js';
import { apiError, json, noContent, pdfDownload, type HttpRequest, type HttpResponse, type Router } from '../http.js';
import { documentLanguage, documentText } from '../i18n.js';
import { centerPlaceFields } from '../search.js';
import { renderSlip } from '../slip.js';
import { parseBody, type BodySchemas } from '../validation.js';
import type { SessionState } from '../../engine/sessions.js';
import type { z } from 'zod';

type ScheduleBody = z.output<BodySchemas['schedule']>;

const require = createRequire(import.meta.url);
const svgCaptcha = require('svg-captcha') as { create(options: object): { data: string; text: string } };

/** CoWIN's answer to a booking, and the security codes the citizen will give at the centre (also on the slip). */
function bookedAnswer(appointmentId: string, securityCodes: SecurityCode[]): HttpResponse {
  return json(200, {
    appointment_confirmation_no: appointmentId,
    security_codes: securityCodes.map((c) => ({ beneficiary_reference_id: c.beneficiaryId, security_code: c.code })),
  });
}

/**
 * After a booking under an admission: mark it used. The booking stands whatever happens here; if
 * Redis fails now, the admission stays outstanding until it expires and is then never reissued.
 */
async function markAdmissionUsed(ctx: GatewayContext, sessionId: string, accountId: string, admission: string): Promise<void> {
  try {
    await ctx.engine.fairAdmission.useAdmission(sessionId, accountId, admission);
    // the threads' kept status says `admitted`: the next poll reads `used`
    ctx.queueRoom.placeChanged(sessionId, accountId);
  } catch (err) {
    console.error(`marking admission ${admission} used failed (it expires by itself):`, err);
  }
}

export function appointmentRoutes(router: Router, ctx: GatewayContext): void {
  const { engine, schemas, metrics, country } = ctx;

  router.post(
    '/api/v2/auth/getRecaptcha',
    citizenOnly(ctx, async (_request, citizen) => {
      const captcha = svgCaptcha.create({ size: 5, noise: 2, ignoreChars: '0o1il', background: '#f4f4f4' });
      await engine.issueCaptcha(citizen.accountId, captcha.text);
      return json(200, { captcha: captcha.data }, { 'cache-control': 'no-store' });
    }),
  );

  router.post(
    '/api/v2/appointment/schedule',
    // synchronous up to the refusal from memory (what most attempts of a rush get), so that answer
    // is written inside uWS's own callback, with no promise or turn; the rest is `book` below
    citizenOnly(ctx, (request, citizen) => {
      const body = parseBody(request, schemas.schedule);
      if (!body.ok) return apiError(body.error);
      const { dose, session_id, slot, beneficiaries, center_id } = body.value;
      const known = ctx.book.sessions.get(session_id);
      if (center_id !== undefined && known && known.center_id !== center_id) {
        return apiError(REQUEST_ERRORS.badRequest('center_id: the session is at another centre'));
      }
      const idempotencyKey = request.headers['idempotency-key'] || undefined;
      // memory may refuse, never accept: a full dose or slot this thread knows of is answered here,
      // without Redis (before the captcha, which a refusal does not use up). Not for a retry under
      // an idempotency key, whose booking may be the one that filled the session: the script
      // answers that with the first answer. Listing someone twice is the script's to answer.
      const seats = new Set(beneficiaries).size;
      if (!idempotencyKey && seats === beneficiaries.length && ctx.book.knownFull(session_id, dose, slot, seats)) {
        metrics.refusedFromMemory('full');
        metrics.booking(Status.FULL);
        return apiError(apiErrorFor(Status.FULL));
      }
      return book(request, citizen, body.value, known, idempotencyKey);
    }),
  );

  /** A booking memory did not refuse: the captcha, fair admission, then the atomic script. */
  async function book(request: HttpRequest, citizen: Citizen, value: ScheduleBody, known: SessionState | undefined, idempotencyKey: string | undefined): Promise<HttpResponse> {
    const { dose, session_id, slot, beneficiaries, captcha } = value;
    if (ctx.config.captchaRequired) {
      const checked = await engine.verifyCaptcha(citizen.accountId, captcha ?? '');
      if (!checked.ok) return outcomeResponse(checked);
    }
    // fair admission: while the session's opening is on, only with the account's admission (checked
    // before booking, marked used after: a crash between leaves an admission that expires, never a
    // place that lost its turn; engine/fair-admission.ts). A session this thread does not hold in
    // memory is read, so a gateway that has not seen its publication yet cannot let a booking by.
    const fairSession = known ?? (await engine.getSession(session_id));
    const admission = fairSession && isUnderFairAdmission(fairSession, engine.now()) ? value.admission ?? request.headers['x-admission'] ?? '' : null;
    if (admission !== null) {
      if (admission !== '' && !ADMISSION_PATTERN.test(admission)) return apiError(apiErrorFor(Status.ADMISSION_INVALID));
      const checked = await engine.fairAdmission.checkAdmission(session_id, citizen.accountId, admission, beneficiaries, idempotencyKey !== undefined);
      if (!checked.ok) {
        metrics.booking(checked.status);
        return outcomeResponse(checked);
      }
    }
    // an accepted booking's access log entry rides in its appointment's outbox entry
    const logInScript = accessInScript(request);
    const outcome = await engine.book({
      accountId: citizen.accountId,
      sessionId: session_id,
      slot,
      dose,
      beneficiaryIds: beneficiaries,
      idempotencyKey,
      access: logInScript?.access,
    });
    metrics.booking(outcome.status);
    if (!outcome.ok) return outcomeResponse(outcome);
    if (admission) await markAdmissionUsed(ctx, session_id, citizen.accountId, admission);
    const answer = bookedAnswer(outcome.appointmentId, outcome.securityCodes);
    return outcome.accessLogged && logInScript ? logInScript.logged(answer) : answer;
  }

  router.post(
    '/api/v2/appointment/reschedule',
    citizenOnly(ctx, async (request, citizen) => {
      const body = parseBody(request, schemas.reschedule);
      if (!body.ok) return apiError(body.error);
      // a session whose opening is under fair admission is booked only with an admission: a move into
      // it would pass the queue by (a booking elsewhere, then a reschedule at opens_at)
      const target = ctx.book.sessions.get(body.value.session_id) ?? (await engine.getSession(body.value.session_id));
      if (target && isUnderFairAdmission(target, engine.now())) return apiError(apiErrorFor(Status.RESCHEDULE_INTO_QUEUE));
      const outcome = await engine.reschedule(citizen.accountId, body.value.appointment_id, body.value.session_id, body.value.slot);
      if (!outcome.ok) return outcomeResponse(outcome);
      return noContent();
    }),
  );

  router.post(
    '/api/v2/appointment/cancel',
    citizenOnly(ctx, async (request, citizen) => {
      const body = parseBody(request, schemas.cancel);
      if (!body.ok) return apiError(body.error);
      const outcome = await engine.cancel(citizen.accountId, body.value.appointment_id, body.value.beneficiariesToCancel ?? []);
      if (!outcome.ok) return outcomeResponse(outcome);
      return noContent();
    }),
  );

  router.get(
    '/api/v2/appointment/appointmentslip/download',
    citizenOnly(ctx, async (request, citizen) => {
      const appointmentId = request.query.get('appointment_id') ?? '';
      if (!/^[0-9a-fA-F-]{8,64}$/.test(appointmentId)) return apiError(REQUEST_ERRORS.badRequest('appointment_id: expected an id'));
      const appointment = await engine.getAppointment(appointmentId);
      // another citizen's appointment is answered exactly like a missing one
      if (!appointment || appointment.account_id !== citizen.accountId) return apiError(REQUEST_ERRORS.notFound());
      const session = ctx.book.sessions.get(appointment.session_id) ?? (await engine.getSession(appointment.session_id));
      if (!session) return apiError(REQUEST_ERRORS.notFound());
      const language = documentLanguage(country, request.query.get('lang'), request.headers['accept-language']);
      const place = centerPlaceFields(country, country.centersById.get(session.center_id)!, language);
      const bens = new Map((await engine.listBeneficiaries(citizen.accountId)).map((b) => [b.id, b]));
      const idTypes = new Map(country.data.photo_id_types.map((t) => [t.id, t.type]));
      const pdf = await renderSlip({
        appointmentId,
        countryName: country.data.country.name,
        centerName: place.name_l,
        centerAddress: place.address_l,
        districtName: place.district_name_l,
        stateName: place.state_name_l,
        pincode: country.pincodeOf(country.centersById.get(session.center_id)!),
        date: formatCowinDate(session.date),
        slot: appointment.slot,
        dose: appointment.dose,
        vaccine: session.vaccine,
        beneficiaries: appointment.beneficiaries.map(({ id, status, security_code }) => {
          const ben = bens.get(id);
          return {
            referenceId: id,
            name: ben?.name ?? '(deleted)',
            birthYear: ben?.birth_year ?? 0,
            photoIdType: ben ? idTypes.get(ben.photo_id_type) ?? '' : '',
            photoIdLast4: ben?.photo_id_last4 ?? '',
            status,
            securityCode: security_code ?? '',
          };
        }),
      }, documentText(language));
      return pdfDownload(`appointment-${appointmentId}.pdf`, pdf);
    }),
  );
}
