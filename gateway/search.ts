/**
 * Session search in CoWIN's v2 shapes, answered from the in-memory availability book.
 *
 * - find*: `{sessions: [...]}` for one date, centre fields merged into each session;
 * - calendar*: `{centers: [...]}` with each centre's sessions for `calendar_days` days from the date
 *   (calendarByCenter answers `{centers: {...}}`, one object, as CoWIN did).
 *
 * Rendered bodies are cached per query and reused while nothing in the districts they cover has
 * changed, or for at most `maxStaleMs` while bookings pour in, so availability is never older than
 * that and a rush does not re-render on every request. They are cached as UTF-8 bytes (a calendar
 * of a district is tens of kilobytes: encoding it per request was the search's largest cost) and,
 * for clients that accept it, gzip-compressed once per render.
 */
import { gzipSync } from 'node:zlib';
import { formatCowinDate } from '../engine/dates.js';
import type { Center, Country } from '../engine/masterdata.js';
import type { SessionState } from '../engine/sessions.js';
import type { AvailabilityBook } from './availability.js';

export type SearchKind = 'findByPin' | 'findByDistrict' | 'calendarByPin' | 'calendarByDistrict' | 'calendarByCenter';

export interface SearchQuery {
  kind: SearchKind;
  /** pincode, district id or centre id, by kind */
  id: number;
  /** epoch day */
  date: number;
  /** only this vaccine (protected search's `vaccine=`) */
  vaccine?: string | undefined;
  /** the language of the `*_l` names (Country.language of the request's Accept-Language) */
  language: string;
}

interface CachedBody {
  body: Buffer;
  gzipped: Buffer | undefined;
  version: number;
  renderedAt: number;
}

export interface SearchAnswer {
  body: Buffer;
  /** 'gzip' when `body` is the compressed form */
  encoding: 'gzip' | undefined;
}

export class SessionSearch {
  private readonly cache = new Map<string, CachedBody>();

  constructor(
    private readonly country: Country,
    private readonly book: AvailabilityBook,
    /** how stale a cached body may be while its districts keep changing */
    private readonly maxStaleMs = 250,
    private readonly maxCacheEntries = 20_000,
  ) {}

  /** The JSON body for a query, gzip-compressed when the client accepts it. */
  answer(query: SearchQuery, acceptsGzip = false): SearchAnswer {
    const centers = this.centersOf(query);
    const version = this.versionOf(centers);
    const key = `${query.kind}:${query.id}:${query.date}:${query.vaccine ?? ''}:${query.language}`;
    const now = Date.now();
    let entry = this.cache.get(key);
    if (!entry || (entry.version !== version && now - entry.renderedAt >= this.maxStaleMs)) {
      entry = { body: Buffer.from(this.render(query, centers)), gzipped: undefined, version, renderedAt: now };
      if (this.cache.size >= this.maxCacheEntries) this.cache.delete(this.cache.keys().next().value!);
      this.cache.delete(key);
      this.cache.set(key, entry);
    }
    // small bodies gain nothing from compression
    if (!acceptsGzip || entry.body.length < 1024) return { body: entry.body, encoding: undefined };
    entry.gzipped ??= gzipSync(entry.body, { level: 5 });
    return { body: entry.gzipped, encoding: 'gzip' };
  }

  private centersOf(query: SearchQuery): readonly Center[] {
    switch (query.kind) {
      case 'findByPin':
      case 'calendarByPin':
        return this.country.centersByPincode.get(query.id) ?? [];
      case 'findByDistrict':
      case 'calendarByDistrict':
        return this.country.centersByDistrict.get(query.id) ?? [];
      case 'calendarByCenter': {
        const center = this.country.centersById.get(query.id);
        return center ? [center] : [];
      }
    }
  }

  /** Sum of the district versions covered: it changes whenever any of them changes. */
  private versionOf(centers: readonly Center[]): number {
    let version = 0;
    let last = -1;
    for (const c of centers) {
      if (c.district_id === last) continue;
      last = c.district_id;
      version += this.book.districtVersion(c.district_id);
    }
    return version;
  }

  private render(query: SearchQuery, centers: readonly Center[]): string {
    const calendar = query.kind.startsWith('calendar');
    const lastDay = calendar ? query.date + this.country.rules.calendar_days - 1 : query.date;
    if (!calendar) {
      const sessions = [];
      for (const center of centers) {
        for (const s of this.book.sessionsOfCenter(center.center_id)) {
          if (s.date !== query.date || s.status !== 'open' || (query.vaccine && s.vaccine !== query.vaccine)) continue;
          sessions.push({ ...this.centerFields(center, false, query.language), ...this.sessionFields(s), fee: feeOf(center, s.vaccine) });
        }
      }
      return JSON.stringify({ sessions });
    }
    const list = [];
    for (const center of centers) {
      const sessions = [];
      for (const s of this.book.sessionsOfCenter(center.center_id)) {
        if (s.date < query.date || s.date > lastDay || s.status !== 'open' || (query.vaccine && s.vaccine !== query.vaccine)) continue;
        sessions.push(this.sessionFields(s));
      }
      if (sessions.length) list.push({ ...this.centerFields(center, true, query.language), sessions });
    }
    if (query.kind === 'calendarByCenter') return JSON.stringify({ centers: list[0] ?? {} });
    return JSON.stringify({ centers: list });
  }

  private centerFields(center: Center, withFees: boolean, language: string) {
    return {
      ...centerFields(this.country, center, language),
      ...(withFees && center.vaccine_fees ? { vaccine_fees: center.vaccine_fees } : {}),
    };
  }

  private sessionFields(s: SessionState) {
    const dose1 = Math.max(0, s.cap1 - s.booked1);
    const dose2 = Math.max(0, s.cap2 - s.booked2);
    return {
      session_id: s.session_id,
      date: formatCowinDate(s.date),
      available_capacity: dose1 + dose2,
      available_capacity_dose1: dose1,
      available_capacity_dose2: dose2,
      // the precaution dose books from dose 2's seats (lua/includes/capacityBucket.lua)
      available_capacity_dose3: dose2,
      min_age_limit: s.min_age,
      ...(s.max_age >= 0 ? { max_age_limit: s.max_age } : {}),
      allow_all_age: s.allow_all_age === 1,
      vaccine: s.vaccine,
      slots: s.slots,
      // a session that opens through its queue (fair admission) says so, and when it opens, so a page
      // can offer the queue instead of a booking; every other session keeps CoWIN's exact fields
      ...(s.fair ? { fair_admission: true, opens_at: new Date(s.opens_at).toISOString() } : {}),
    };
  }
}

function feeOf(center: Center, vaccine: string): string {
  return center.vaccine_fees?.find((f) => f.vaccine === vaccine)?.fee ?? '0';
}

/**
 * A centre's names as CoWIN answered them: each beside its `*_l` form in `language` (the plain name
 * when the country file has none in that language). Shared by search, beneficiaries and
 * findByLatLong, so every answer names places the same way.
 */
export function centerPlaceFields(country: Country, center: Center, language: string) {
  const district = country.districtsById.get(center.district_id)!;
  const state = country.statesById.get(district.state_id)!;
  return {
    center_id: center.center_id,
    name: center.name,
    name_l: country.localName(center, 'name', center.name, language),
    address: center.address,
    address_l: country.localName(center, 'address', center.address, language),
    state_name: state.state_name,
    state_name_l: country.localName(state, 'state_name', state.state_name, language),
    district_name: district.district_name,
    district_name_l: country.localName(district, 'district_name', district.district_name, language),
    block_name: center.block_name,
    block_name_l: country.localName(center, 'block_name', center.block_name, language),
  };
}

/** A centre as CoWIN's answers carry it: its names, PIN code, coordinates, hours and fee type. */
export function centerFields(country: Country, center: Center, language: string) {
  return {
    ...centerPlaceFields(country, center, language),
    pincode: country.pincodeOf(center),
    lat: center.lat,
    long: center.long,
    from: center.from,
    to: center.to,
    fee_type: center.fee_type,
  };
}
