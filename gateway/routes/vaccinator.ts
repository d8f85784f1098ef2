/**
 * A vaccinator's endpoints: the day at their centre, one appointment, a walk-in booking, recording a
 * dose given.
 *
 * A vaccinator sees and acts on their own centres' appointments of the day only (the operator record
 * an admin issued names the centres). Anything else is answered exactly like an appointment or centre
 * that does not exist, so a vaccinator cannot even learn that another centre's booking exists (the
 * 2023 CoWIN leak came through a staff lookup without such a scope). No view shows a security code:
 * the citizen gives it.
 */
import type { Appointment, NewBeneficiary, StoredBeneficiary } from '../../engine/engine.js';
import { formatCowinDate } from '../../engine/dates.js';
import type { OperatorSession } from '../../engine/operators.js';
import type { SessionState } from '../../engine/sessions.js';
import { apiErrorFor, REQUEST_ERRORS, Status } from '../../engine/status.js';
import { outcomeResponse } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { operatorOnly } from '../guards.js';
import { apiError, json, type Router } from '../http.js';
import { parseBody } from '../validation.js';
import { vaccinationStatus } from './beneficiaries.js';

/** What a search of the day matches: a beneficiary reference id, or the last 4 characters of the photo ID. */
const DAY_SEARCH = /^[A-Za-z0-9]{4,20}$/;

export function vaccinatorRoutes(router: Router, ctx: GatewayContext): void {
  const { engine, country, schemas, metrics } = ctx;
  const idTypes = new Map(country.data.photo_id_types.map((t) => [t.id, t.type]));

  /** The session of an appointment if it is today at one of the vaccinator's centres, else null. */
  async function inScope(appointment: Appointment, vaccinator: OperatorSession): Promise<SessionState | null> {
    const session = ctx.book.sessions.get(appointment.session_id) ?? (await engine.getSession(appointment.session_id));
    if (!session || !vaccinator.centerIds.includes(session.center_id) || session.date !== engine.today()) return null;
    return session;
  }

  /** An appointment as a vaccinator sees it: who, which dose, booked or done. Never the security code. */
  function describe(appointment: Appointment, session: SessionState, bens: Map<string, StoredBeneficiary>, only?: (ben: StoredBeneficiary | undefined, id: string) => boolean) {
    const center = country.centersById.get(session.center_id);
    return {
      appointment_id: appointment.appointment_id,
      session_id: appointment.session_id,
      center_id: session.center_id,
      center_name: center?.name,
      date: formatCowinDate(session.date),
      slot: appointment.slot,
      dose: appointment.dose,
      vaccine: session.vaccine,
      locked: appointment.wrong_codes >= ctx.config.securityCodeMaxWrong,
      beneficiaries: appointment.beneficiaries
        .filter(({ id }) => !only || only(bens.get(id), id))
        .map(({ id, status }) => {
          const ben = bens.get(id);
          return {
            beneficiary_reference_id: id,
            name: ben?.name ?? '',
            birth_year: ben?.birth_year,
            photo_id_type: ben ? idTypes.get(ben.photo_id_type) ?? '' : '',
            photo_id_last4: ben?.photo_id_last4,
            appointment_status: status,
            vaccination_status: ben ? vaccinationStatus(ben, country) : '',
          };
        }),
    };
  }

  /**
   * The day at a centre: every appointment of today's sessions there, with each beneficiary's status,
   * optionally narrowed to a reference id or the last 4 characters of a photo ID (`q`). Which
   * appointments a session holds is read from PostgreSQL (Redis keeps no index of them, and adding one
   * would cost every booking a write); their state is read from Redis, so statuses are current.
   * A booking made in the last moment shows once the worker has written it (well under a second
   * normally); looking an appointment up by its id never waits for that.
   */
  router.get(
    '/teeka/vaccinator/day',
    operatorOnly(ctx, 'vaccinator', async (request, vaccinator) => {
      const centerText = request.query.get('center_id');
      let centerId: number;
      if (centerText === null) {
        if (vaccinator.centerIds.length !== 1) return apiError(REQUEST_ERRORS.badRequest('center_id: required, you work at several centres'));
        centerId = vaccinator.centerIds[0]!;
      } else {
        if (!/^\d{1,12}$/.test(centerText)) return apiError(REQUEST_ERRORS.badRequest('center_id: expected a number'));
        centerId = Number(centerText);
      }
      // another centre's day is answered like a centre that does not exist
      if (!vaccinator.centerIds.includes(centerId)) return apiError(REQUEST_ERRORS.notFound());
      const q = request.query.get('q');
      if (q !== null && !DAY_SEARCH.test(q)) return apiError(REQUEST_ERRORS.badRequest('q: expected a beneficiary reference id or the last 4 characters of a photo ID'));

      const today = engine.today();
      const sessions = new Map(ctx.book.sessionsOfCenter(centerId).filter((s) => s.date === today).map((s) => [s.session_id, s]));
      const appointmentIds = sessions.size
        ? (
            await ctx.database.query<{ appointment_id: string }>(
              'SELECT DISTINCT appointment_id FROM appointments WHERE session_id = ANY($1::text[])',
              [[...sessions.keys()]],
            )
          ).rows.map((r) => r.appointment_id)
        : [];
      const appointments = (await Promise.all(appointmentIds.map((id) => engine.getAppointment(id)))).filter(
        // Redis is the fresher: a reschedule may have moved one away since PostgreSQL heard
        (a): a is Appointment => a !== null && sessions.has(a.session_id),
      );
      const accounts = [...new Set(appointments.map((a) => a.account_id))];
      const bens = new Map<string, StoredBeneficiary>();
      for (const list of await Promise.all(accounts.map((id) => engine.listBeneficiaries(id)))) for (const b of list) bens.set(b.id, b);

      const matches = q === null ? undefined : (ben: StoredBeneficiary | undefined, id: string) => id === q || ben?.photo_id_last4.toUpperCase() === q.toUpperCase();
      const described = appointments
        .map((a) => describe(a, sessions.get(a.session_id)!, bens, matches))
        .filter((a) => a.beneficiaries.length > 0)
        .sort((a, b) => a.slot.localeCompare(b.slot) || a.appointment_id.localeCompare(b.appointment_id));
      return json(
        200,
        { center_id: centerId, center_name: country.centersById.get(centerId)?.name, date: formatCowinDate(today), appointments: described },
        { 'cache-control': 'no-store' },
      );
    }),
  );

  router.get(
    '/teeka/vaccinator/appointments/:appointment_id',
    operatorOnly(ctx, 'vaccinator', async (request, vaccinator) => {
      const appointment = await engine.getAppointment(request.params.appointment_id!);
      const session = appointment && (await inScope(appointment, vaccinator));
      // missing, another centre's, another day's: one answer
      if (!appointment || !session) return apiError(REQUEST_ERRORS.notFound());
      const bens = new Map((await engine.listBeneficiaries(appointment.account_id)).map((b) => [b.id, b]));
      return json(200, describe(appointment, session, bens), { 'cache-control': 'no-store' });
    }),
  );

  /**
   * A walk-in: someone arrives without a booking and there is a free seat today. The vaccinator
   * registers them on their mobile's account (as CoWIN's on-site registration did; the person can
   * log in with that mobile later and sees the appointment), or reuses the account's beneficiary
   * with that photo ID, and books them with the citizen's own engine call, so capacity, eligibility
   * and one live appointment per dose hold alike. The answer carries the security code, which the
   * vaccinator hands to the person and then records the dose with, as for any booking. Only today's
   * sessions at the vaccinator's centres: any other session is answered as a missing one.
   */
  router.post(
    '/teeka/vaccinator/walk-in',
    operatorOnly(ctx, 'vaccinator', async (request, vaccinator) => {
      const body = parseBody(request, schemas.walkIn);
      if (!body.ok) return apiError(body.error);
      const { mobile, session_id, slot, dose, ...person } = body.value;
      // Redis's session, not this thread's copy: the scope check must see what the booking will
      const session = await engine.getSession(session_id);
      if (!session || !vaccinator.centerIds.includes(session.center_id) || session.date !== engine.today()) {
        return apiError(apiErrorFor(Status.SESSION_NOT_FOUND));
      }
      const accountId = engine.accountIdOf(mobile);
      const beneficiary = await walkInBeneficiary(accountId, person);
      if (!beneficiary.ok) return outcomeResponse(beneficiary);
      const outcome = await engine.book({
        accountId,
        sessionId: session_id,
        slot,
        dose,
        beneficiaryIds: [beneficiary.beneficiaryId],
        // as for schedule: a retried request whose answer was lost books once and answers the same code
        idempotencyKey: request.headers['idempotency-key'] || undefined,
      });
      metrics.booking(outcome.status);
      if (!outcome.ok) return outcomeResponse(outcome);
      return json(200, {
        appointment_id: outcome.appointmentId,
        beneficiary_reference_id: beneficiary.beneficiaryId,
        // the stored name: a reused registration shows whom the photo ID was registered as
        name: beneficiary.name,
        registered: beneficiary.registered,
        center_id: session.center_id,
        date: formatCowinDate(session.date),
        slot,
        dose,
        security_code: outcome.securityCodes[0]!.code,
      });
    }),
  );

  /**
   * The walk-in's beneficiary on the account: the one registered with this photo ID, else a new
   * registration. A concurrent walk-in of the same person may register them in between (the
   * registration is then refused as a duplicate photo ID): the account holds them now, so look again.
   */
  async function walkInBeneficiary(accountId: string, person: NewBeneficiary) {
    const existing = () => engine.beneficiaryWithPhotoId(accountId, person.photo_id_type, person.photo_id_number);
    const found = await existing();
    if (found) return { ok: true as const, beneficiaryId: found.id, name: found.name, registered: false };
    const added = await engine.addBeneficiary(accountId, person);
    if (added.ok) return { ok: true as const, beneficiaryId: added.beneficiaryId, name: person.name, registered: true };
    const raced = added.status === Status.DUPLICATE_PHOTO_ID ? await existing() : null;
    if (raced) return { ok: true as const, beneficiaryId: raced.id, name: raced.name, registered: false };
    return added;
  }

  router.post(
    '/teeka/vaccinator/vaccinate',
    operatorOnly(ctx, 'vaccinator', async (request, vaccinator) => {
      const body = parseBody(request, schemas.vaccinate);
      if (!body.ok) return apiError(body.error);
      // the script checks the centre itself (another centre's appointment: APPOINTMENT_NOT_FOUND)
      const outcome = await engine.markVaccinated({
        appointmentId: body.value.appointment_id,
        beneficiaryId: body.value.beneficiary_reference_id,
        securityCode: body.value.security_code,
        vaccinatorId: vaccinator.operatorId,
        centerIds: vaccinator.centerIds,
      });
      if (!outcome.ok) {
        if (outcome.triesLeft === undefined) return outcomeResponse(outcome);
        const error = apiErrorFor(outcome.status);
        return apiError({ ...error, error: `${error.error} (${outcome.triesLeft} wrong ${outcome.triesLeft === 1 ? 'code' : 'codes'} left before the appointment is locked)` });
      }
      return json(200, { dose: outcome.dose, vaccine: outcome.vaccine, date: formatCowinDate(outcome.date), certificate_id: outcome.certificateId });
    }),
  );
}
