/**
 * parseBody's hand-written fast path for `schedule` (gateway/validation.ts) must answer exactly as the
 * zod schema does: it may only take what the schema accepts, giving the same value, and leave the
 * rest (with the schema's own errors) to the schema. Checked over the shapes apps send and over
 * each field made wrong, unusual or missing, against the real schema.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../engine/config.js';
import { loadCountry } from '../../engine/masterdata.js';
import type { HttpRequest } from '../../gateway/http.js';
import { bodySchemas, hasFastPath, parseBody } from '../../gateway/validation.js';

const country = loadCountry(loadConfig().countryFile);
const schemas = bodySchemas(country, () => Date.UTC(2026, 0, 15));
const max = country.rules.beneficiaries_per_account;

const request = (body: unknown) => ({ body: Buffer.from(JSON.stringify(body)) }) as HttpRequest;

const valid = { dose: 1, session_id: '0b6c4f3e-8a1d-4c1e-9f6a-2b3c4d5e6f70', slot: '09:00AM-11:00AM', beneficiaries: ['12345678901234'] };

/** Every field made right in another way, wrong, or odd; and fields added or removed. */
const variants: Record<string, unknown>[] = [
  valid,
  { ...valid, dose: 2 },
  { ...valid, dose: 3 },
  { ...valid, dose: '1' },
  { ...valid, dose: '03' },
  { ...valid, dose: 0 },
  { ...valid, dose: 4 },
  { ...valid, dose: 1.5 },
  { ...valid, dose: -1 },
  { ...valid, dose: ' 1' },
  { ...valid, dose: '1.0' },
  { ...valid, dose: '' },
  { ...valid, dose: null },
  { ...valid, dose: true },
  { ...valid, dose: [1] },
  { ...valid, session_id: 'ABCDEF12' },
  { ...valid, session_id: 'abcdef1' },
  { ...valid, session_id: 'g'.repeat(10) },
  { ...valid, session_id: 'a'.repeat(64) },
  { ...valid, session_id: 'a'.repeat(65) },
  { ...valid, session_id: 12345678 },
  { ...valid, slot: '' },
  { ...valid, slot: 'x' },
  { ...valid, slot: 'x'.repeat(40) },
  { ...valid, slot: 'x'.repeat(41) },
  { ...valid, slot: 'स्लॉट' },
  { ...valid, slot: 9 },
  { ...valid, beneficiaries: [] },
  { ...valid, beneficiaries: ['1', '2'] },
  { ...valid, beneficiaries: Array.from({ length: max }, (_, i) => String(i + 1)) },
  { ...valid, beneficiaries: Array.from({ length: max + 1 }, (_, i) => String(i + 1)) },
  { ...valid, beneficiaries: ['1'.repeat(20)] },
  { ...valid, beneficiaries: ['1'.repeat(21)] },
  { ...valid, beneficiaries: [12345] },
  { ...valid, beneficiaries: [0] },
  { ...valid, beneficiaries: [-1] },
  { ...valid, beneficiaries: [1.5] },
  { ...valid, beneficiaries: ['12a'] },
  { ...valid, beneficiaries: [''] },
  { ...valid, beneficiaries: '123' },
  { ...valid, beneficiaries: [null] },
  { ...valid, beneficiaries: ['1', '1'] },
  { ...valid, center_id: 5 },
  { ...valid, center_id: '5' },
  { ...valid, center_id: 0 },
  { ...valid, captcha: 'abcde' },
  { ...valid, captcha: '' },
  { ...valid, captcha: 'x'.repeat(20) },
  { ...valid, captcha: 'x'.repeat(21) },
  { ...valid, captcha: null },
  { ...valid, captcha: 5 },
  { ...valid, extra: 1 },
  { ...valid, Dose: 1 },
  ...(['dose', 'session_id', 'slot', 'beneficiaries'] as const).map((field) => {
    const { [field]: _left, ...rest } = valid;
    return rest;
  }),
  {},
];

describe('the schedule fast path', () => {
  it('is in place for schedule', () => {
    expect(hasFastPath(schemas.schedule)).toBe(true);
  });

  it.each(variants.map((body) => [JSON.stringify(body).slice(0, 120), body] as const))('answers %s as the schema does', (_name, body) => {
    const parsed = parseBody(request(body), schemas.schedule);
    const bySchema = schemas.schedule.safeParse(body);
    expect(parsed.ok).toBe(bySchema.success);
    if (parsed.ok && bySchema.success) expect(parsed.value).toStrictEqual(JSON.parse(JSON.stringify(bySchema.data)));
  });

  it('gives the error the schema gives when it leaves a body to the schema', () => {
    const parsed = parseBody(request({ ...valid, dose: 4 }), schemas.schedule);
    expect(parsed).toEqual({ ok: false, error: expect.objectContaining({ httpStatus: 400, error: expect.stringMatching(/^dose: /) }) });
    const unknown = parseBody(request({ ...valid, extra: 1 }), schemas.schedule);
    expect(unknown).toEqual({ ok: false, error: expect.objectContaining({ error: 'unknown field: extra' }) });
  });
});
