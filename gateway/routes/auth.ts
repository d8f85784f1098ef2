/** OTP login, both CoWIN variants: generate → {txnId}; confirm with sha256(otp) → {token}. */
import { Status } from '../../engine/status.js';
import { outcomeResponse } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { publicLimited } from '../guards.js';
import { apiError, json, type Handler, type Router } from '../http.js';
import { parseBody } from '../validation.js';

export function authRoutes(router: Router, ctx: GatewayContext): void {
  const { engine, schemas, metrics } = ctx;

  const generate: Handler = async (request) => {
    const body = parseBody(request, schemas.generateOtp);
    if (!body.ok) return apiError(body.error);
    const outcome = await engine.issueOtp(body.value.mobile);
    if (!outcome.ok) {
      if (outcome.status === Status.ACCOUNT_BLOCKED) metrics.quotaEvent('otp_blocked');
      return outcomeResponse(outcome);
    }
    if (outcome.otp) await ctx.sendOtp(body.value.mobile, outcome.otp);
    return json(200, { txnId: outcome.txnId });
  };

  const confirm: Handler = async (request) => {
    const body = parseBody(request, schemas.confirmOtp);
    if (!body.ok) return apiError(body.error);
    const outcome = await engine.verifyOtp(body.value.txnId, body.value.otp);
    if (!outcome.ok) return outcomeResponse(outcome);
    return json(200, { token: ctx.auth.citizenToken(outcome.accountId, outcome.sid), isNewAccount: 'N' });
  };

  // the public variants count against the per-address limit; the app variants are limited per mobile
  router.post('/api/v2/auth/public/generateOTP', publicLimited(ctx, generate));
  router.post('/api/v2/auth/public/confirmOTP', publicLimited(ctx, confirm));
  router.post('/api/v2/auth/generateMobileOTP', generate);
  router.post('/api/v2/auth/validateMobileOtp', confirm);
}
