/** Dates as 2021 CoWIN clients sent them: every unambiguous day-month-year form, nothing else. */
import { describe, expect, it } from 'vitest';
import { formatCowinDate, parseCowinDate } from '../../engine/dates.js';

describe('CoWIN dates', () => {
  it('accepts DD-MM-YYYY, D-M-YYYY, DD-MM-YY, D-M-YY and the / and . separators, all as the same day', () => {
    const day = parseCowinDate('05-06-2021');
    expect(day).not.toBeNull();
    for (const text of ['5-6-2021', '05-06-21', '5-6-21', '05/06/2021', '5/6/21', '05.06.2021']) {
      expect(parseCowinDate(text), text).toBe(day);
    }
    expect(formatCowinDate(day!)).toBe('05-06-2021');
  });

  it('refuses what is not a real day or not day-month-year', () => {
    for (const text of ['32-01-2026', '29-02-2025', '00-01-2026', '01-13-2026', '2026-05-01', '05-06/2021', '5-6-202', '123-4-2026', '', '05-06-2021 ', '٠٥-٠٦-٢٠٢١']) {
      expect(parseCowinDate(text), JSON.stringify(text)).toBeNull();
    }
    expect(parseCowinDate('29-02-24')).toBe(parseCowinDate('29-02-2024'));
  });
});
