/**
 * Admins' questions to the access log: "who looked at this person's record" (`object=`), "what
 * did this operator or partner look at" (`who=`), since when; and which operators and partners the
 * watch flagged. The log itself is PostgreSQL's (worker/access-log.ts): what the worker has written,
 * normally within a second. `npm run audit -- query` asks the same from a shell.
 */
import { REQUEST_ERRORS } from '../../engine/status.js';
import { queryAccessLog } from '../../worker/access-log.js';
import type { GatewayContext } from '../context.js';
import { operatorOnly } from '../guards.js';
import { apiError, json, type Router } from '../http.js';

const OBJECT = /^(account|beneficiary|appointment|certificate):[A-Za-z0-9_-]{1,100}$/;
const WHO = /^[A-Za-z0-9._-]{1,200}$/;

export function accessLogRoutes(router: Router, ctx: GatewayContext): void {
  router.get(
    '/teeka/admin/access-log',
    operatorOnly(ctx, 'admin', async (request) => {
      const who = request.query.get('who') ?? undefined;
      const object = request.query.get('object') ?? undefined;
      const sinceText = request.query.get('since');
      const limitText = request.query.get('limit');
      if (who === undefined && object === undefined) return apiError(REQUEST_ERRORS.badRequest('who or object: ask about someone (who=<account or operator or partner id>, object=beneficiary:<id>)'));
      if (who !== undefined && !WHO.test(who)) return apiError(REQUEST_ERRORS.badRequest('who: expected an account, operator or partner id'));
      if (object !== undefined && !OBJECT.test(object)) return apiError(REQUEST_ERRORS.badRequest('object: expected account:<id>, beneficiary:<id>, appointment:<id> or certificate:<id>'));
      const since = sinceText === null ? undefined : Date.parse(sinceText);
      if (since !== undefined && Number.isNaN(since)) return apiError(REQUEST_ERRORS.badRequest('since: expected a time like 2026-05-01T10:00:00Z'));
      if (limitText !== null && !/^\d{1,4}$/.test(limitText)) return apiError(REQUEST_ERRORS.badRequest('limit: expected 1 to 9999'));
      const rows = await queryAccessLog(ctx.database, { who, object, since, limit: limitText === null ? 1000 : Math.max(1, Number(limitText)) });
      return json(200, { entries: rows.map((row) => ({ ...row, at: new Date(row.at).toISOString() })) }, { 'cache-control': 'no-store' });
    }),
  );

  router.get(
    '/teeka/admin/access-log/flagged',
    operatorOnly(ctx, 'admin', async () => {
      const flagged = await ctx.accessWatch.flagged();
      return json(200, { flagged: flagged.map((f) => ({ reader: f.reader, at: new Date(f.at).toISOString() })) }, { 'cache-control': 'no-store' });
    }),
  );
}
