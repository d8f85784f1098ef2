/**
 * Search storm: protected search at a high arrival rate from many citizens (each within its quota:
 * it logs in again after 20 searches), and public search from one address, where the per-address
 * limit (100 calls per 5 minutes) answers 429 with Retry-After.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=2000 -e DURATION=60s loadtest/k6/search-storm.ts
 */
import { check } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import type { Options } from 'k6/options';
import { BASE_URL, cowinDate, DISTRICT_ID, DURATION, login, testMobile, VUS } from './common.ts';

const RATE = Number(__ENV.RATE || 1000);
const rateLimited = new Counter('public_rate_limited');
const logouts = new Counter('quota_logouts');

export const options: Options = {
  scenarios: {
    protected: { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: DURATION, preAllocatedVUs: VUS, maxVUs: VUS * 4, exec: 'protectedSearch' },
    public: { executor: 'constant-arrival-rate', rate: Math.max(1, Math.floor(RATE / 10)), timeUnit: '1s', duration: DURATION, preAllocatedVUs: 20, exec: 'publicSearch' },
  },
  thresholds: {
    'http_req_duration{scenario:protected,expected_response:true}': ['p(99)<200'],
    'http_req_duration{scenario:public,expected_response:true}': ['p(99)<200'],
    'http_req_failed': ['rate<0.01'],
    'checks': ['rate>0.99'],
  },
};

http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 401, 429));

// per-VU state: a citizen's login and how many searches it has left in its window
let headers: Record<string, string> | null = null;
let searchesLeft = 0;
const DISTRICTS = (__ENV.DISTRICTS || `${DISTRICT_ID}`).split(',');

export function protectedSearch(): void {
  if (!headers || searchesLeft === 0) {
    headers = login(testMobile(__VU, 100_000));
    searchesLeft = 20;
    if (!headers) return;
  }
  const district = DISTRICTS[__ITER % DISTRICTS.length];
  const response = http.get(`${BASE_URL}/api/v2/appointment/sessions/calendarByDistrict?district_id=${district}&date=${cowinDate()}`, {
    headers: { ...headers, 'accept-encoding': 'gzip' },
    tags: { name: 'calendarByDistrict' },
  });
  searchesLeft -= 1;
  if (response.status === 401) {
    logouts.add(1);
    headers = null;
  }
  check(response, { 'answered or logged out by quota': (r) => r.status === 200 || r.status === 401 });
}

export function publicSearch(): void {
  const response = http.get(`${BASE_URL}/api/v2/appointment/sessions/public/calendarByDistrict?district_id=${DISTRICT_ID}&date=${cowinDate()}`, {
    tags: { name: 'public calendarByDistrict' },
  });
  if (response.status === 429) rateLimited.add(1);
  check(response, {
    'answered, or limited with Retry-After': (r) => r.status === 200 || (r.status === 429 && Number(r.headers['Retry-After']) > 0),
  });
}
