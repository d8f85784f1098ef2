/** States, districts and the registration reference lists: straight from the country file. */
import type { GatewayContext } from '../context.js';
import { publicLimited } from '../guards.js';
import { apiError, json, type Router } from '../http.js';
import { REQUEST_ERRORS } from '../../engine/status.js';

export function metadataRoutes(router: Router, ctx: GatewayContext): void {
  const { country } = ctx;
  // master data changes only with a new country file: render once
  const cache = { 'cache-control': 'public, max-age=3600' };
  const states = json(200, { states: country.data.states.map((s) => ({ state_id: s.state_id, state_name: s.state_name })), ttl: 24 }, cache);
  const genders = json(200, { genders: country.data.genders.map((g) => ({ id: g.id, gender: g.name })) }, cache);
  const idTypes = json(200, { types: country.data.photo_id_types.map((t) => ({ id: t.id, type: t.type })) }, cache);

  router.get('/api/v2/admin/location/states', publicLimited(ctx, () => states));
  router.get(
    '/api/v2/admin/location/districts/:state_id',
    publicLimited(ctx, (request) => {
      const id = request.params.state_id!;
      if (!/^\d{1,9}$/.test(id)) return apiError(REQUEST_ERRORS.badRequest('state_id: expected a number'));
      const districts = (country.districtsByState.get(Number(id)) ?? []).map((d) => ({
        district_id: d.district_id,
        district_name: d.district_name,
      }));
      return json(200, { districts, ttl: 24 }, cache);
    }),
  );
  router.get('/api/v2/registration/beneficiary/genders', () => genders);
  router.get('/api/v2/registration/beneficiary/idTypes', () => idTypes);
}
