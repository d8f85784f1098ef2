/**
 * teeka's own endpoints for operators, outside /api/v2: operator login, admins issuing and revoking
 * operators' credentials, admins publishing sessions. The vaccinators' own are in vaccinator.ts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { formatCowinDate, parseCowinDate } from '../../engine/dates.js';
import { KEY_ADMIN_ID, type OperatorRecord } from '../../engine/operators.js';
import { SessionInputError } from '../../engine/sessions.js';
import { apiErrorFor, REQUEST_ERRORS, Status } from '../../engine/status.js';
import { outcomeResponse } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { operatorOnly, publicLimited } from '../guards.js';
import { apiError, json, type Router } from '../http.js';
import { parseBody, queryDate, queryId } from '../validation.js';

/** Compare secrets in constant time (hashing first makes the lengths equal). */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return expected.length > 0 && timingSafeEqual(a, b);
}

const invalidCredentials = () => apiError(apiErrorFor(Status.OPERATOR_REFUSED));

function describeOperator(record: OperatorRecord) {
  return {
    operator_id: record.operatorId,
    role: record.role,
    center_ids: record.centerIds,
    status: record.status,
    issued_at: new Date(record.issuedAt).toISOString(),
    issued_by: record.issuedBy,
    ...(record.revokedAt !== undefined ? { revoked_at: new Date(record.revokedAt).toISOString(), revoked_by: record.revokedBy } : {}),
    version: record.version,
  };
}

export function operatorRoutes(router: Router, ctx: GatewayContext): void {
  const { engine, country, schemas, config, operators } = ctx;

  /**
   * `{operator_id, secret}`: an operator issued by an admin. `{role: "admin", key}`: the deployment's
   * admin key, the way in for the first admin. Vaccinators have no shared key: each logs in as
   * themselves, so what they record names them and a revocation stops exactly them.
   */
  router.post(
    '/teeka/auth/operator',
    publicLimited(ctx, async (request) => {
      const body = parseBody(request, schemas.operatorLogin);
      if (!body.ok) return apiError(body.error);
      const { role, key, operator_id: operatorId, secret } = body.value;
      let login;
      if (operatorId !== undefined && secret !== undefined && key === undefined) {
        login = await operators.login(operatorId, secret, role);
      } else if (key !== undefined && operatorId === undefined && secret === undefined && role === 'admin') {
        if (!sameSecret(key, config.adminKey)) return invalidCredentials();
        login = await operators.loginWithAdminKey();
      } else if (key !== undefined && role === 'vaccinator') {
        return apiError({ ...apiErrorFor(Status.OPERATOR_REFUSED), error: 'Vaccinators log in with their own operator_id and secret, issued by an admin' });
      } else {
        return apiError(REQUEST_ERRORS.badRequest('expected {operator_id, secret}, or {role: "admin", key}'));
      }
      if (!login.ok) return outcomeResponse(login);
      return json(200, { token: ctx.auth.operatorToken(login), role: login.role, operator_id: login.operatorId, center_ids: login.centerIds });
    }),
  );

  /** Issue credentials (new operator, or new credentials for one): the secret is in this answer only. */
  router.post(
    '/teeka/admin/operators',
    operatorOnly(ctx, 'admin', async (request, admin) => {
      const body = parseBody(request, schemas.issueOperator);
      if (!body.ok) return apiError(body.error);
      const { operator_id: operatorId, role, center_ids: centerIds = [] } = body.value;
      if (operatorId === KEY_ADMIN_ID) return apiError(REQUEST_ERRORS.badRequest(`operator_id: "${KEY_ADMIN_ID}" is the deployment's admin key`));
      const unknown = centerIds.find((id) => !country.centersById.has(id));
      if (unknown !== undefined) return apiError(REQUEST_ERRORS.badRequest(`center_ids: ${unknown} is not a centre`));
      if (role === 'vaccinator' && centerIds.length === 0) return apiError(REQUEST_ERRORS.badRequest('center_ids: a vaccinator works at one centre at least'));
      if (role === 'admin' && centerIds.length > 0) return apiError(REQUEST_ERRORS.badRequest('center_ids: admins are not bound to centres'));
      const issued = await operators.issue(operatorId, role, centerIds, admin.operatorId);
      if (!issued.ok) return outcomeResponse(issued);
      return json(
        200,
        { operator_id: operatorId, role, center_ids: [...new Set(centerIds)].sort((a, b) => a - b), secret: issued.secret, version: issued.version },
        { 'cache-control': 'no-store' },
      );
    }),
  );

  router.post(
    '/teeka/admin/operators/revoke',
    operatorOnly(ctx, 'admin', async (request, admin) => {
      const body = parseBody(request, schemas.revokeOperator);
      if (!body.ok) return apiError(body.error);
      const revoked = await operators.revoke(body.value.operator_id, admin.operatorId);
      if (!revoked.ok) return outcomeResponse(revoked);
      return json(200, { operator_id: body.value.operator_id, status: 'revoked', version: revoked.version });
    }),
  );

  router.get(
    '/teeka/admin/operators',
    operatorOnly(ctx, 'admin', async () => json(200, { operators: (await operators.list()).map(describeOperator) }, { 'cache-control': 'no-store' })),
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
          opens_at: s.opens_at > 0 ? new Date(s.opens_at).toISOString() : null,
          fair_admission: s.fair !== undefined,
          ...(s.fair ? { prequeue_minutes: s.fair.prequeue_ms / 60_000, admission_rate: s.fair.rate } : {}),
          version: s.version,
        })),
      });
    }),
  );
}
