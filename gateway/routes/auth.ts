/** OTP login, both CoWIN variants: generate → {txnId}; confirm with sha256(otp) → {token}. */
import { Status } from '../../engine/status.js';
import { outcomeResponse } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { addressForLimits, publicLimited } from '../guards.js';
import { apiError, json, type Handler, type Router } from '../http.js';
import type { QuotaEvent } from '../metrics.js';
import { parseBody } from '../validation.js';

/** Refusals of an OTP request that operators watch: abuse (per requester, per address) and SMS capacity */
const OTP_LIMIT_EVENTS = new Map<Status, QuotaEvent>([
  [Status.OTP_REQUESTER_LIMIT, 'otp_requester_limited'],
  [Status.OTP_ADDRESS_LIMIT, 'otp_address_limited'],
  [Status.OTP_COUNTRY_LIMIT, 'otp_country_limited'],
]);

export function authRoutes(router: Router, ctx: GatewayContext): void {
  const { engine, schemas, metrics } = ctx;

  const generate: Handler = async (request) => {
    const body = parseBody(request, schemas.generateOtp);
    if (!body.ok) return apiError(body.error);
    const outcome = await engine.issueOtp(body.value.mobile, addressForLimits(request.remoteAddress));
    if (!outcome.ok) {
      const event = OTP_LIMIT_EVENTS.get(outcome.status);
      if (event) metrics.quotaEvent(event);
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
    // the login this one replaced: refused here at once, by the other threads within the stream's delay
    ctx.revocations.revokeHere(outcome.replacedSid);
    const token = ctx.auth.citizenToken(outcome.accountId, outcome.sid, { mobileLast4: outcome.mobileLast4, userAgent: request.headers['user-agent'] });
    return json(200, { token, isNewAccount: 'N' });
  };

  // the public variants also count against the public API's per-address limit; every variant that
  // issues an OTP is limited per requester, per address and per country (issueOtp)
  // (a partner's app logs its citizens in here: either scope may, booking needs the login)
  router.post('/api/v2/auth/public/generateOTP', publicLimited(ctx, generate, ['availability', 'booking']));
  router.post('/api/v2/auth/public/confirmOTP', publicLimited(ctx, confirm, ['availability', 'booking']));
  router.post('/api/v2/auth/generateMobileOTP', generate);
  router.post('/api/v2/auth/validateMobileOtp', confirm);
}
