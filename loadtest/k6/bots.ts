/**
 * Bots and honest citizens together: bots poll protected search as fast as they can (the quota logs
 * them out after 20 searches in 15 minutes and blocks them after 1,000 in a day) and hammer the
 * public API from one address (429 after 100 calls in 5 minutes), while honest citizens search a
 * few times and book. Passes when every honest citizen books and the bots are held back.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e DURATION=60s loadtest/k6/bots.ts
 */
import { check, sleep } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import type { Options } from 'k6/options';
import { adminHeaders, BASE_URL, beneficiaryOf, cowinDate, DISTRICT_ID, DURATION, login, openSlots, testMobile } from './common.ts';

const BOTS = Number(__ENV.BOTS || 20);
const HONEST = Number(__ENV.HONEST || 20);
const botLogouts = new Counter('bot_logouts');
const botBlocks = new Counter('bot_blocks');
const botLimited = new Counter('bot_public_429');
const honestBookings = new Counter('honest_bookings');

export const options: Options = {
  scenarios: {
    bots: { executor: 'constant-vus', vus: BOTS, duration: DURATION, exec: 'bot' },
    publicBot: { executor: 'constant-vus', vus: 1, duration: DURATION, exec: 'publicBot' },
    honest: { executor: 'per-vu-iterations', vus: HONEST, iterations: 1, maxDuration: DURATION, exec: 'honest', startTime: '2s' },
  },
  thresholds: {
    'checks{scenario:honest}': ['rate==1'],
    'honest_bookings': [`count==${HONEST}`],
    'bot_logouts': ['count>0'],
    'bot_public_429': ['count>0'],
  },
};

http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 401, 403, 409, 429));

export function setup(): { sessionId: string } {
  const admin = adminHeaders();
  const calendar = http.get(`${BASE_URL}/api/v2/appointment/sessions/public/calendarByDistrict?district_id=${DISTRICT_ID}&date=${cowinDate()}`);
  const centerId = (calendar.json('centers') as { center_id: number }[])[0]!.center_id;
  const published = http.post(
    `${BASE_URL}/teeka/admin/sessions`,
    JSON.stringify({ center_id: centerId, date: cowinDate(2), vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: HONEST * 2, capacity_dose2: 0 }),
    { headers: admin },
  );
  return { sessionId: published.json('session_id') as string };
}

let headers: Record<string, string> | null = null;

export function bot(): void {
  headers ??= login(testMobile(__VU, 200_000));
  if (!headers) return;
  const response = http.get(`${BASE_URL}/api/v2/appointment/sessions/calendarByDistrict?district_id=${DISTRICT_ID}&date=${cowinDate()}`, { headers });
  if (response.status === 401) {
    botLogouts.add(1);
    headers = null;
  } else if (response.status === 403) {
    botBlocks.add(1);
    sleep(10);
  }
}

export function publicBot(): void {
  const response = http.get(`${BASE_URL}/api/v2/appointment/sessions/public/calendarByDistrict?district_id=${DISTRICT_ID}&date=${cowinDate()}`);
  if (response.status === 429) botLimited.add(1);
}

export function honest(data: { sessionId: string }): void {
  const me = login(testMobile(__VU, 300_000));
  if (!check(me, { 'honest citizen logged in': (h) => h !== null }) || !me) return;
  const beneficiary = beneficiaryOf(me, __VU);
  let slot: string | undefined;
  for (let i = 0; i < 5 && !slot; i++) {
    const calendar = http.get(`${BASE_URL}/api/v2/appointment/sessions/calendarByDistrict?district_id=${DISTRICT_ID}&date=${cowinDate()}`, { headers: me });
    slot = openSlots(calendar.json()).find((s) => s.session_id === data.sessionId)?.slot;
    sleep(2);
  }
  const booked = http.post(`${BASE_URL}/api/v2/appointment/schedule`, JSON.stringify({ dose: 1, session_id: data.sessionId, slot, beneficiaries: [beneficiary] }), { headers: me });
  if (check(booked, { 'honest citizen booked': (r) => r.status === 200 })) honestBookings.add(1);
}
