/** States, districts and the registration reference lists: straight from the country file. */
import type { GatewayContext } from '../context.js';
import { publicLimited } from '../guards.js';
import { apiError, json, type Router } from '../http.js';
import { REQUEST_ERRORS } from '../../engine/status.js';

export function metadataRoutes(router: Router, ctx: GatewayContext): void {
  const { country } = ctx;
  // master data changes only with a new country file: render once
  const cache = { 'cache-control': 'public, max-age=3600' };
  // CoWIN's spec pairs each name with its `*_l` form in the Accept-Language's language
  const localizedHeaders = (language: string) => ({ ...cache, 'content-language': language, vary: 'Accept-Language' });
  const statesByLanguage = new Map(
    country.languages.map((language) => [
      language,
      json(
        200,
        {
          states: country.data.states.map((s) => ({
            state_id: s.state_id,
            state_name: s.state_name,
            state_name_l: country.localName(s, 'state_name', s.state_name, language),
          })),
          ttl: 24,
        },
        localizedHeaders(language),
      ),
    ]),
  );
  const genders = json(200, { genders: country.data.genders.map((g) => ({ id: g.id, gender: g.name })) }, cache);
  const idTypes = json(200, { types: country.data.photo_id_types.map((t) => ({ id: t.id, type: t.type })) }, cache);

  router.get(
    '/api/v2/admin/location/states',
    publicLimited(ctx, (request) => statesByLanguage.get(country.language(request.headers['accept-language']))!),
  );
  router.get(
    '/api/v2/admin/location/districts/:state_id',
    publicLimited(ctx, (request) => {
      const id = request.params.state_id!;
      if (!/^\d{1,9}$/.test(id)) return apiError(REQUEST_ERRORS.badRequest('state_id: expected a number'));
      const language = country.language(request.headers['accept-language']);
      const districts = (country.districtsByState.get(Number(id)) ?? []).map((d) => ({
        district_id: d.district_id,
        district_name: d.district_name,
        district_name_l: country.localName(d, 'district_name', d.district_name, language),
      }));
      return json(200, { districts, ttl: 24 }, localizedHeaders(language));
    }),
  );
  router.get('/api/v2/registration/beneficiary/genders', () => genders);
  router.get('/api/v2/registration/beneficiary/idTypes', () => idTypes);
}
