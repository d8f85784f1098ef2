/**
 * Shared by the k6 scenarios: configuration from the environment, the CoWIN login with test
 * numbers, and small helpers. k6 runs these TypeScript files as they are (k6 v1+).
 *
 * Environment: BASE_URL (default http://127.0.0.1:8080), VUS, DURATION, DISTRICT_ID (default 140),
 * TEST_PREFIX (the demo's test-number prefix, default 9999), TEST_OTP (default 123456),
 * ADMIN_KEY (default demo-admin-key). Send load only to servers you run.
 */
import { check } from 'k6';
import crypto from 'k6/crypto';
import http from 'k6/http';

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
export const VUS = Number(__ENV.VUS || 100);
export const DURATION = __ENV.DURATION || '60s';
export const DISTRICT_ID = Number(__ENV.DISTRICT_ID || 140);
export const TEST_PREFIX = __ENV.TEST_PREFIX || '9999';
export const TEST_OTP = __ENV.TEST_OTP || '123456';
export const ADMIN_KEY = __ENV.ADMIN_KEY || 'demo-admin-key';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** A 10-digit test number unique to a virtual user (and a scenario offset). */
export function testMobile(vu: number, offset = 0): string {
  return `${TEST_PREFIX}${String(offset + vu).padStart(10 - TEST_PREFIX.length, '0')}`;
}

/** DD-MM-YYYY of today plus `days` (UTC date; the country's day may differ near midnight). */
export function cowinDate(days = 0): string {
  const d = new Date(Date.now() + days * 86_400_000);
  return `${String(d.getUTCDate()).padStart(2, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${d.getUTCFullYear()}`;
}

/** Log in through the CoWIN app endpoints; returns the bearer headers, or null. */
export function login(mobile: string): Record<string, string> | null {
  const otp = http.post(`${BASE_URL}/api/v2/auth/generateMobileOTP`, JSON.stringify({ mobile, secret: 'k6' }), {
    headers: JSON_HEADERS,
    tags: { name: 'generateMobileOTP' },
  });
  if (!check(otp, { 'OTP issued': (r) => r.status === 200 })) return null;
  const confirmed = http.post(
    `${BASE_URL}/api/v2/auth/validateMobileOtp`,
    JSON.stringify({ otp: crypto.sha256(TEST_OTP, 'hex'), txnId: otp.json('txnId') }),
    { headers: JSON_HEADERS, tags: { name: 'validateMobileOtp' } },
  );
  if (!check(confirmed, { 'logged in': (r) => r.status === 200 })) return null;
  return { ...JSON_HEADERS, authorization: `Bearer ${confirmed.json('token')}` };
}

/** The account's first beneficiary with no appointment, registering one when there is none. */
export function beneficiaryOf(headers: Record<string, string>, vu: number): string | null {
  const list = http.get(`${BASE_URL}/api/v2/appointment/beneficiaries`, { headers, tags: { name: 'beneficiaries' } });
  const free = (list.json('beneficiaries') as { beneficiary_reference_id: string; appointments: unknown[] }[] | null)?.find((b) => b.appointments.length === 0);
  if (free) return free.beneficiary_reference_id;
  const added = http.post(
    `${BASE_URL}/api/v2/registration/beneficiary/new`,
    JSON.stringify({
      name: 'Load Tester',
      birth_year: String(1960 + (vu % 40)),
      gender_id: 1 + (vu % 3),
      photo_id_type: 1,
      // Aadhaar-shaped: 12 digits
      photo_id_number: `${String(vu % 1000).padStart(3, '0')}${String(Date.now() % 1e9).padStart(9, '0')}`,
      comorbidity_ind: 'N',
      consent_version: 'V1',
    }),
    { headers, tags: { name: 'beneficiary/new' } },
  );
  return added.status === 200 ? (added.json('beneficiary_reference_id') as string) : null;
}

export interface OpenSlot {
  session_id: string;
  slot: string;
  available: number;
}

/** Open dose-1 slots in a calendarByDistrict answer. */
export function openSlots(body: unknown): OpenSlot[] {
  const centers = (body as { centers?: { sessions: { session_id: string; available_capacity_dose1: number; slots: string[] }[] }[] })?.centers ?? [];
  return centers.flatMap((c) =>
    c.sessions.filter((s) => s.available_capacity_dose1 > 0).map((s) => ({ session_id: s.session_id, slot: s.slots[0]!, available: s.available_capacity_dose1 })),
  );
}

/** An admin token (for publishing the rush's session and checking it afterwards). */
export function adminHeaders(): Record<string, string> {
  const response = http.post(`${BASE_URL}/teeka/auth/operator`, JSON.stringify({ role: 'admin', key: ADMIN_KEY }), { headers: JSON_HEADERS });
  if (response.status !== 200) throw new Error(`admin login failed: ${response.status} ${response.body}`);
  return { ...JSON_HEADERS, authorization: `Bearer ${response.json('token')}` };
}
