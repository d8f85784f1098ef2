/**
 * The 28 April 2021 opening: citizens log in with test numbers, poll calendarByDistrict, and book
 * the moment a session opens. The setup publishes one hot session (CAPACITY seats, booking opens
 * OPENS_IN seconds after the test starts); the teardown checks that no dose was oversold.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=500 -e DURATION=60s loadtest/k6/rush.ts
 */
import { check, sleep } from 'k6';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import { adminHeaders, BASE_URL, beneficiaryOf, cowinDate, DISTRICT_ID, DURATION, login, openSlots, testMobile, VUS } from './common.ts';

const CAPACITY = Number(__ENV.CAPACITY || 1000);
const OPENS_IN = Number(__ENV.OPENS_IN || 10);
const CENTER_ID = Number(__ENV.CENTER_ID || 0);

const bookings = new Counter('bookings');
const full = new Counter('booking_full');
const bookingTime = new Trend('booking_duration', true);

export const options: Options = {
  scenarios: { rush: { executor: 'constant-vus', vus: VUS, duration: DURATION } },
  thresholds: {
    'http_req_failed': ['rate<0.01'],
    'http_req_duration{name:schedule}': ['p(99)<500'],
    'http_req_duration{name:calendarByDistrict}': ['p(99)<200'],
    'checks': ['rate>0.99'],
    'bookings': ['count>0'],
  },
};

// 409 (full, already booked) and 401 (quota logout) are answers in a rush, not failures
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 401, 409));

interface SetupData {
  sessionId: string;
  centerId: number;
  date: string;
}

export function setup(): SetupData {
  const admin = adminHeaders();
  const districts = http.get(`${BASE_URL}/api/v2/appointment/sessions/public/calendarByDistrict?district_id=${DISTRICT_ID}&date=${cowinDate()}`);
  const centerId = CENTER_ID || ((districts.json('centers') as { center_id: number }[] | null)?.[0]?.center_id ?? 0);
  if (!centerId) throw new Error(`no centre found in district ${DISTRICT_ID}; pass CENTER_ID`);
  const date = cowinDate(1);
  const published = http.post(
    `${BASE_URL}/teeka/admin/sessions`,
    JSON.stringify({
      center_id: centerId,
      date,
      vaccine: 'COVAXIN',
      min_age_limit: 18,
      capacity_dose1: CAPACITY,
      capacity_dose2: 0,
      opens_at: new Date(Date.now() + OPENS_IN * 1000).toISOString(),
    }),
    { headers: admin },
  );
  if (published.status !== 200) throw new Error(`publishing the hot session failed: ${published.status} ${published.body}`);
  return { sessionId: published.json('session_id') as string, centerId, date };
}

export default function rush(data: SetupData): void {
  const headers = login(testMobile(__VU));
  if (!headers) return;
  const beneficiary = beneficiaryOf(headers, __VU);
  if (!beneficiary) return;
  for (let attempt = 0; attempt < 60; attempt++) {
    const calendar = http.get(`${BASE_URL}/api/v2/appointment/sessions/calendarByDistrict?district_id=${DISTRICT_ID}&date=${cowinDate()}`, {
      headers,
      tags: { name: 'calendarByDistrict' },
    });
    if (calendar.status === 401) return; // quota logout: this citizen polled too often
    const hot = openSlots(calendar.json()).find((s) => s.session_id === data.sessionId);
    if (hot) {
      const booked = http.post(
        `${BASE_URL}/api/v2/appointment/schedule`,
        JSON.stringify({ dose: 1, session_id: hot.session_id, slot: hot.slot, beneficiaries: [beneficiary] }),
        { headers, tags: { name: 'schedule' } },
      );
      bookingTime.add(booked.timings.duration);
      check(booked, { 'booked or full': (r) => r.status === 200 || r.json('errorCode') === 'APPOIN0040' || r.json('errorCode') === 'APPOIN0012' });
      if (booked.status === 200) bookings.add(1);
      if (booked.status === 409) full.add(1);
      if (booked.status === 200 || booked.json('errorCode') === 'APPOIN0040') return;
    }
    sleep(1 + Math.random()); // poll like a citizen, not a bot: 20 searches per 15 minutes is the quota
  }
}

export function teardown(data: SetupData): void {
  const admin = adminHeaders();
  const sessions = http.get(`${BASE_URL}/teeka/admin/sessions?center_id=${data.centerId}&date=${data.date}`, { headers: admin });
  const hot = (sessions.json('sessions') as { session_id: string; capacity_dose1: number; booked_dose1: number }[]).find((s) => s.session_id === data.sessionId);
  check(hot, {
    'no oversell': (s) => s !== undefined && s.booked_dose1 <= s.capacity_dose1,
  });
  console.log(`hot session: ${hot?.booked_dose1} booked of ${hot?.capacity_dose1}`);
}
