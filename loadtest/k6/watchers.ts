/**
 * Watchers: many WebSocket subscribers follow a district's availability while a few citizens book
 * in it. Each push carries `changed_at` (when the booking changed the session, by the server's
 * clock); run k6 on the same machine as teeka (or with synchronised clocks) to read push latency.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e WATCHERS=2000 -e DURATION=60s loadtest/k6/watchers.ts
 *
 * Every watcher connects from k6's one address: start the gateway with TEEKA_WS_MAX_PER_ADDRESS
 * above WATCHERS (default 50), or the rest are refused with 429.
 */
import { check, sleep } from 'k6';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import { WebSocket } from 'k6/websockets';
import { BASE_URL, beneficiaryOf, cowinDate, DISTRICT_ID, DURATION, login, openSlots, testMobile } from './common.ts';

const WATCHERS = Number(__ENV.WATCHERS || 500);
const pushes = new Counter('availability_pushes');
const pushLatency = new Trend('push_latency', true);

export const options: Options = {
  scenarios: {
    watchers: { executor: 'constant-vus', vus: WATCHERS, duration: DURATION, exec: 'watch' },
    bookers: { executor: 'constant-vus', vus: 5, duration: DURATION, exec: 'book', startTime: '5s' },
  },
  thresholds: {
    'availability_pushes': ['count>0'],
    'push_latency': ['p(99)<100'],
    'checks': ['rate>0.99'],
  },
};

http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 401, 409));

export function watch(): void {
  const url = `${BASE_URL.replace(/^http/, 'ws')}/teeka/ws/availability?district_id=${DISTRICT_ID}`;
  const socket = new WebSocket(url);
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event?.data)) as { type: string; sessions?: { changed_at: number }[] };
    if (message.type !== 'availability') return;
    pushes.add(1);
    for (const session of message.sessions ?? []) pushLatency.add(Date.now() - session.changed_at);
  };
  socket.onerror = () => check(null, { 'websocket stays open': () => false });
  // hold the connection for the whole test: k6 closes it when the VU's time is up
  sleep(Number.parseInt(DURATION, 10) || 60);
  socket.close();
}

export function book(): void {
  const headers = login(testMobile(__VU, 400_000 + __ITER * 10));
  if (!headers) return;
  const beneficiary = beneficiaryOf(headers, __VU);
  const calendar = http.get(`${BASE_URL}/api/v2/appointment/sessions/calendarByDistrict?district_id=${DISTRICT_ID}&date=${cowinDate()}`, { headers });
  const open = openSlots(calendar.json())[0];
  if (!open || !beneficiary) return;
  const booked = http.post(`${BASE_URL}/api/v2/appointment/schedule`, JSON.stringify({ dose: 1, session_id: open.session_id, slot: open.slot, beneficiaries: [beneficiary] }), { headers });
  check(booked, { 'booked or full': (r) => r.status === 200 || r.status === 409 });
  sleep(1);
}
