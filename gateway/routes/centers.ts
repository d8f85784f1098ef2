/**
 * Centres near a point (CoWIN's findByLatLong, June 2021): the nearest centres of the country file,
 * nearest first, for "centres near me". Centres are master data, so the answer is cacheable for as
 * long as the country file stands; only the per-address public limit costs a Redis call.
 */
import { REQUEST_ERRORS } from '../../engine/status.js';
import type { Center, Country } from '../../engine/masterdata.js';
import type { GatewayContext } from '../context.js';
import { publicLimited } from '../guards.js';
import { apiError, json, type Router } from '../http.js';
import { centerPlaceFields } from '../search.js';

/** How many centres an answer lists. */
export const NEAREST_CENTERS = 20;

const EARTH_RADIUS_KM = 6371;
const radians = (degrees: number) => (degrees * Math.PI) / 180;

/** Great-circle distance in km (haversine). */
export function distanceKm(lat1: number, long1: number, lat2: number, long2: number): number {
  const dLat = radians(lat2 - lat1);
  const dLong = radians(long2 - long1);
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(radians(lat1)) * Math.cos(radians(lat2)) * Math.sin(dLong / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

/**
 * Centres in one-degree cells, so a query looks at the cells around its point rather than at every
 * centre of a country (India had some 100,000 vaccination centres).
 */
export class CenterGrid {
  private readonly cells = new Map<string, Center[]>();

  constructor(private readonly centers: readonly Center[]) {
    for (const center of centers) {
      const key = CenterGrid.cell(center.lat, center.long);
      const list = this.cells.get(key);
      if (list) list.push(center);
      else this.cells.set(key, [center]);
    }
  }

  private static cell(lat: number, long: number): string {
    return `${Math.floor(lat)}:${Math.floor(long)}`;
  }

  /** The `count` centres nearest to the point, nearest first, each with its distance. */
  nearest(lat: number, long: number, count: number): { center: Center; km: number }[] {
    const found: { center: Center; km: number }[] = [];
    const baseLat = Math.floor(lat);
    const baseLong = Math.floor(long);
    // widen ring by ring; once `count` are found, one more ring catches any closer centre just
    // across a cell border; a cell is at most ~111 km on a side, so 180 rings cover the globe
    let ringsAfterEnough = -1;
    for (let ring = 0; ring <= 180 && ringsAfterEnough < 1; ring++) {
      for (let dLat = -ring; dLat <= ring; dLat++) {
        for (let dLong = -ring; dLong <= ring; dLong++) {
          if (Math.max(Math.abs(dLat), Math.abs(dLong)) !== ring) continue;
          for (const center of this.cells.get(`${baseLat + dLat}:${baseLong + dLong}`) ?? []) {
            found.push({ center, km: distanceKm(lat, long, center.lat, center.long) });
          }
        }
      }
      if (found.length >= Math.min(count, this.centers.length)) ringsAfterEnough += 1;
    }
    return found.sort((a, b) => a.km - b.km || a.center.center_id - b.center.center_id).slice(0, count);
  }
}

/** A coordinate query parameter: a decimal number in [min, max]. */
function coordinate(text: string | null, min: number, max: number): number | null {
  if (text === null || !/^-?\d{1,3}(\.\d{1,17})?$/.test(text)) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}

export function centerRoutes(router: Router, ctx: GatewayContext): void {
  const country: Country = ctx.country;
  const grid = new CenterGrid(country.data.centers);

  router.get(
    '/api/v2/appointment/centers/public/findByLatLong',
    publicLimited(ctx, (request) => {
      const lat = coordinate(request.query.get('lat'), -90, 90);
      if (lat === null) return apiError(REQUEST_ERRORS.badRequest('lat: expected a latitude in degrees, -90 to 90'));
      const long = coordinate(request.query.get('long'), -180, 180);
      if (long === null) return apiError(REQUEST_ERRORS.badRequest('long: expected a longitude in degrees, -180 to 180'));
      const language = country.language(request.headers['accept-language']);
      const centers = grid.nearest(lat, long, NEAREST_CENTERS).map(({ center }) => {
        const { address, address_l, ...names } = centerPlaceFields(country, center, language);
        // district_id is teeka's addition: it lets a client search the sessions of the nearest district
        return { ...names, district_id: center.district_id, location: address, location_l: address_l, pincode: country.pincodeOf(center), lat: center.lat, long: center.long };
      });
      return json(200, { centers, ttl: 24 }, { 'cache-control': 'public, max-age=3600', 'content-language': language, vary: 'Accept-Language' });
    }),
  );
}
