/**
 * Admins' endpoints for partners (engine/partners.ts): register or change a partner, issue and
 * revoke its API keys, and list partners with their keys and their usage of the open windows.
 * `npm run partner -- …` (scripts/partner.ts) does the same from a shell. Each change is recorded
 * in PostgreSQL after Redis (engine/partners.ts); a PostgreSQL that refuses it fails the request
 * (503 for an outage), and the admin repeats it.
 */
import { PartnerInputError, type PartnerKeyRecord, type PartnerRecord, type Partners } from '../../engine/partners.js';
import { REQUEST_ERRORS } from '../../engine/status.js';
import { outcomeResponse } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { operatorOnly } from '../guards.js';
import { apiError, json, type Router } from '../http.js';
import { parseBody } from '../validation.js';

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
      const body = parseBody(request, ctx.schemas.registerPartner);
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
      const body = parseBody(request, ctx.schemas.issuePartnerKey);
      if (!body.ok) return apiError(body.error);
      const issued = await registry.issueKey(body.value.partner_id, admin.operatorId);
      if (!issued.ok) return outcomeResponse(issued);
      return json(200, { partner_id: body.value.partner_id, key_id: issued.keyId, api_key: issued.apiKey }, { 'cache-control': 'no-store' });
    }),
  );

  router.post(
    '/teeka/admin/partners/keys/revoke',
    operatorOnly(ctx, 'admin', async (request, admin) => {
      const body = parseBody(request, ctx.schemas.revokePartnerKey);
      if (!body.ok) return apiError(body.error);
      const { partner_id, key_id } = body.value;
      const revoked = await registry.revokeKey(partner_id, key_id, admin.operatorId);
      if (!revoked.ok) return outcomeResponse(revoked);
      ctx.partners.forgetKey(partner_id, key_id);
      return json(200, { partner_id, key_id, status: 'revoked', revoked_now: revoked.revokedNow });
    }),
  );
}
