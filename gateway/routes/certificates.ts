/**
 * Certificates: the citizen's download (CoWIN's endpoint, a PDF with the SMART Health Card's QR
 * code), what verifiers fetch from the issuer (its keys, each key's revocation list; both with CORS,
 * as the SHC specification requires), and an admin revoking a certificate issued in error.
 */
import { formatCowinDate } from '../../engine/dates.js';
import { apiErrorFor, REQUEST_ERRORS, Status } from '../../engine/status.js';
import { outcomeResponse } from '../auth.js';
import { renderCertificate } from '../certificate-pdf.js';
import { documentLanguage, documentText } from '../i18n.js';
import { centerPlaceFields } from '../search.js';
import type { GatewayContext } from '../context.js';
import { citizenOnly, operatorOnly } from '../guards.js';
import { apiError, json, pdfDownload, type Router } from '../http.js';
import { parseBody } from '../validation.js';

/** Verifiers fetch these from anywhere; a minute of caching spares the issuer without hiding a revocation for long. */
const VERIFIER_HEADERS = { 'access-control-allow-origin': '*', 'cache-control': 'public, max-age=60' } as const;
/** A kid is the base64url SHA-256 thumbprint: 43 characters. */
const REVOCATION_LIST_FILE = /^([A-Za-z0-9_-]{43})\.json$/;

export function certificateRoutes(router: Router, ctx: GatewayContext): void {
  const { engine, country, schemas, certificates } = ctx;

  router.get('/.well-known/jwks.json', async () => json(200, await certificates.jwks(), VERIFIER_HEADERS));

  router.get('/.well-known/crl/:file', async (request) => {
    const kid = REVOCATION_LIST_FILE.exec(request.params.file!)?.[1];
    if (!kid || !certificates.publishes(kid)) return apiError(REQUEST_ERRORS.notFound());
    return json(200, await certificates.revocationList(kid), VERIFIER_HEADERS);
  });

  router.get(
    '/api/v2/registration/certificate/public/download',
    citizenOnly(ctx, async (request, citizen) => {
      const beneficiaryId = request.query.get('beneficiary_reference_id') ?? '';
      if (!/^\d{1,20}$/.test(beneficiaryId)) return apiError(REQUEST_ERRORS.badRequest('beneficiary_reference_id: expected a beneficiary reference id'));
      const ben = (await engine.listBeneficiaries(citizen.accountId)).find((b) => b.id === beneficiaryId);
      // another account's beneficiary is answered like one that does not exist
      if (!ben) return apiError(REQUEST_ERRORS.notFound());
      const certificate = await certificates.latestOf(citizen.accountId, beneficiaryId);
      if (!certificate) return apiError({ ...apiErrorFor(Status.CERTIFICATE_NOT_FOUND), error: 'No dose has been recorded for this beneficiary yet' });
      if (certificate.status === 'revoked') return apiError(apiErrorFor(Status.CERTIFICATE_REVOKED));
      const language = documentLanguage(country, request.query.get('lang'), request.headers['accept-language']);
      const center = country.centersById.get(certificate.centerId);
      const place = center && centerPlaceFields(country, center, language);
      const pdf = await renderCertificate({
        certificateId: certificate.certificateId,
        issuer: certificates.issuer,
        countryName: country.data.country.name,
        name: ben.name,
        birthYear: ben.birth_year,
        referenceId: ben.id,
        photoIdType: country.data.photo_id_types.find((t) => t.id === ben.photo_id_type)?.type ?? '',
        photoIdLast4: ben.photo_id_last4,
        vaccine: certificate.vaccine,
        dose: certificate.dose,
        seriesDoses: Math.max(country.primaryDoses(certificate.vaccine), certificate.dose),
        date: formatCowinDate(certificate.date),
        centerName: place?.name_l ?? '',
        place: [place?.district_name_l, place?.state_name_l].filter(Boolean).join(', '),
        issuedAt: new Date(certificate.issuedAt).toISOString(),
        jws: certificate.jws,
      }, documentText(language));
      return pdfDownload(`certificate-${beneficiaryId}-dose${certificate.dose}.pdf`, pdf);
    }),
  );

  router.post(
    '/teeka/admin/certificates/revoke',
    operatorOnly(ctx, 'admin', async (request, admin) => {
      const body = parseBody(request, schemas.revokeCertificate);
      if (!body.ok) return apiError(body.error);
      const revoked = await certificates.revoke(body.value.certificate_id, admin.operatorId, body.value.reason);
      if (!revoked.ok) return outcomeResponse(revoked);
      return json(200, { certificate_id: body.value.certificate_id, status: 'revoked', version: revoked.version });
    }),
  );
}
