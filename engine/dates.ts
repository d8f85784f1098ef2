/**
 * Calendar arithmetic. Inside the engine a date is an epoch day: whole days since 1970-01-01 of the
 * country's local calendar, so Lua compares dose intervals with integer subtraction. The API speaks
 * CoWIN's `DD-MM-YYYY`.
 */

const MS_PER_DAY = 86_400_000;

/**
 * A day-month-year date as CoWIN accepted it → epoch day, or null when it is not a real calendar
 * date. `DD-MM-YYYY` is the API's form; 2021 clients also sent `D-M-YYYY`, `DD-MM-YY` (it bypassed
 * CoWIN's cache) and `DD/MM/YYYY` or `DD.MM.YYYY`, all unambiguous as day, month, year. A two-digit
 * year is 20YY: vaccination calendars start in 2021. One separator throughout.
 */
export function parseCowinDate(text: string): number | null {
  const match = /^(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})$/.exec(text);
  if (!match) return null;
  const day = Number(match[1]);
  const month = Number(match[3]);
  const year = match[4]!.length === 2 ? 2000 + Number(match[4]) : Number(match[4]);
  const ms = Date.UTC(year, month - 1, day);
  const check = new Date(ms);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return null;
  return ms / MS_PER_DAY;
}

/** epoch day → `DD-MM-YYYY` */
export function formatCowinDate(epochDay: number): string {
  const d = new Date(epochDay * MS_PER_DAY);
  const dd = String(d.getUTCDate()).padStart(2, '0');
  const mm = String(d.getUTCMonth() + 1).padStart(2, '0');
  return `${dd}-${mm}-${d.getUTCFullYear()}`;
}

/** epoch day → `YYYY-MM-DD` (PostgreSQL and logs) */
export function formatIsoDate(epochDay: number): string {
  return new Date(epochDay * MS_PER_DAY).toISOString().slice(0, 10);
}

/** `YYYY-MM-DD` → epoch day */
export function parseIsoDate(text: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return null;
  return parseCowinDate(`${match[3]}-${match[2]}-${match[1]}`);
}

/** The calendar year of an epoch day. */
export function yearOf(epochDay: number): number {
  return new Date(epochDay * MS_PER_DAY).getUTCFullYear();
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** Minutes the zone is ahead of UTC at the instant `ms` (+330 for Asia/Kolkata). */
export function zoneOffsetMinutes(timeZone: string, ms: number): number {
  let fmt = offsetFormatters.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
    offsetFormatters.set(timeZone, fmt);
  }
  const name = fmt.formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  if (!match) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

/** True when `timeZone` is an IANA zone this runtime knows. */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The local calendar day (epoch day) at instant `ms`. */
export function localEpochDay(ms: number, timeZone: string): number {
  return Math.floor((ms + zoneOffsetMinutes(timeZone, ms) * 60_000) / MS_PER_DAY);
}

/** The UTC instant of local time `minutesAfterMidnight` on local day `epochDay`. */
export function localInstant(epochDay: number, minutesAfterMidnight: number, timeZone: string): number {
  const naive = epochDay * MS_PER_DAY + minutesAfterMidnight * 60_000;
  // The offset at the naive instant is right except within an hour of a DST change; one more
  // pass with the offset at the corrected instant settles it.
  const first = naive - zoneOffsetMinutes(timeZone, naive) * 60_000;
  return naive - zoneOffsetMinutes(timeZone, first) * 60_000;
}

export { MS_PER_DAY };
