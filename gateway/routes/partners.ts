/**
 * Admins' endpoints for partners (engine/partners.ts): register or change a partner, issue and
 * revoke its API keys, and list partners with their keys and their usage of the open windows.
 * `npm run partner -- …` (scripts/partner.ts) does the same from a shell.
 */
import { z } from 'zod';
import { PARTNER_ID, PARTNER_SCOPES, PartnerInputError, type PartnerKeyRecord, type PartnerRecord, type Partners } from '../../engine/partners.js';
import { REQUEST_ERRORS } from '../../engine/status.js';
import { outcomeResponse } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { operatorOnly } from '../guards.js';
import { apiError, json, type Router } from '../http.js';
import { parseBody } from '../validation.js';

const partnerId = z.string().regex(PARTNER_ID, "expected 2 to 40 of a-z, 0-9 and '-'");
const SCHEMAS = {
  register: z.strictObject({
    partner_id: partnerId,
    name: z.string().max(100),
    contact: z.string().max(200),
    scopes: z.array(z.enum(PARTNER_SCOPES)).min(1).max(PARTNER_SCOPES.length),
    per_minute: z.number().int(),
    per_day: z.number().int(),
    status: z.enum(['active', 'suspended']).optional(),
  }),
  issueKey: z.strictObject({ partner_id: partnerId }),
  revokeKey: z.strictObject({ partner_id: partnerId, key_id: z.string().regex(/^[0-9a-f]{8}$/, 'expected 8 hex digits') }),
};

const iso = (ms: number) => new Date(ms).toISOString();

function describeKey(key: PartnerKeyRecord) {
  return {
    key_id: key.keyId,
    status: key.status,
    issued_at: iso(key.issuedAt),
    issued_by: key.issuedBy,
    ...(key.revokedAt !== undefined ? { revoked_at: iso(key.revokedAt), revoked_by: key.revokedBy } : {}),
  };
}

/** A partner as the admin's views (and the CLI) show it, with its calls in the open windows. */
export async function describePartner(partners: Partners, partner: PartnerRecord & { keys: PartnerKeyRecord[] }) {
  const usage = await partners.usage(partner.partnerId);
  return {
    partner_id: partner.partnerId,
    name: partner.name,
    contact: partner.contact,
    scopes: partner.scopes,
    per_minute: partner.limits.perMinute,
    per_day: partner.limits.perDay,
    status: partner.status,
    usage: { minute: usage.minute, day: usage.day },
    keys: partner.keys.map(describeKey),
    created_at: iso(partner.createdAt),
    updated_at: iso(partner.updatedAt),
    updated_by: partner.updatedBy,
    version: partner.version,
  };
}

export function partnerRoutes(router: Router, ctx: GatewayContext): void {
  const registry = ctx.partnerRegistry;

  router.post(
    '/teeka/admin/partners',
    operatorOnly(ctx, 'admin', async (request, admin) => {
      const body = parseBody(request, SCHEMAS.register);
      if (!body.ok) return apiError(body.error);
      const { partner_id, name, contact, scopes, per_minute, per_day, status } = body.value;
      try {
        const done = await registry.register({ partnerId: partner_id, name, contact, scopes, limits: { perMinute: per_minute, perDay: per_day }, status }, admin.operatorId);
        if (!done.ok) return outcomeResponse(done);
        // this thread at once; the others from the partner stream
        ctx.partners.forgetPartner(partner_id);
        return json(done.created ? 201 : 200, { partner_id, version: done.version, created: done.created });
      } catch (err) {
        if (err instanceof PartnerInputError) return apiError(REQUEST_ERRORS.badRequest(err.message));
        throw err;
      }
    }),
  );

  router.get(
    '/teeka/admin/partners',
    operatorOnly(ctx, 'admin', async () => {
      const partners = await registry.list();
      return json(200, { partners: await Promise.all(partners.map((p) => describePartner(registry, p))) }, { 'cache-control': 'no-store' });
    }),
  );

  /** A new key for the partner: its text is in this answer only (only its sha256 is kept). */
  router.post(
    '/teeka/admin/partners/keys',
    operatorOnly(ctx, 'admin', async (request, admin) => {
      const body = parseBody(request, SCHEMAS.issueKey);
      if (!body.ok) return apiError(body.error);
      const issued = await registry.issueKey(body.value.partner_id, admin.operatorId);
      if (!issued.ok) return outcomeResponse(issued);
      return json(200, { partner_id: body.value.partner_id, key_id: issued.keyId, api_key: issued.apiKey }, { 'cache-control': 'no-store' });
    }),
  );

  router.post(
    '/teeka/admin/partners/keys/revoke',
    operatorOnly(ctx, 'admin', async (request, admin) => {
      const body = parseBody(request, SCHEMAS.revokeKey);
      if (!body.ok) return apiError(body.error);
      const { partner_id, key_id } = body.value;
      const revoked = await registry.revokeKey(partner_id, key_id, admin.operatorId);
      if (!revoked.ok) return outcomeResponse(revoked);
      ctx.partners.forgetKey(partner_id, key_id);
      return json(200, { partner_id, key_id, status: 'revoked', revoked_now: revoked.revokedNow });
    }),
  );
}
