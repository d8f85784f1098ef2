/**
 * What the fault tests' rushes share: sessions with room for every booking over demo centres, the
 * citizens (test numbers, 4 beneficiaries each), and a careful client that retries a request that got
 * no answer, or a 5xx, with the same Idempotency-Key until it gets one.
 */
import type { BookingEngine } from '../../engine/engine.js';
import { loggedInCitizens } from '../../loadtest/bench-support.js';

export interface RushSession {
  id: string;
  slots: string[];
}

/** `count` sessions tomorrow at demo centres with four slots, `perSlot` seats in each slot. */
export async function publishRushSessions(engine: BookingEngine, count: number, perSlot: number): Promise<RushSession[]> {
  const { country } = engine;
  const centers = country.data.centers.filter((c) => country.slotsOf(c).length === 4).slice(0, count);
  const sessions: RushSession[] = [];
  for (const center of centers) {
    const published = await engine.publishSession({
      center_id: center.center_id,
      date: engine.today() + 1,
      vaccine: 'COVISHIELD',
      min_age_limit: 18,
      capacity_dose1: perSlot * 4,
      capacity_dose2: 0,
      slot_capacity: [perSlot, perSlot, perSlot, perSlot],
    });
    if (!published.ok) throw new Error(`publishSession: ${published.status}`);
    sessions.push({ id: published.sessionId, slots: country.slotsOf(center) });
  }
  return sessions;
}

export interface Seat {
  token: string;
  beneficiaryId: string;
}

/** One seat per beneficiary: `bookings / 4` test-number citizens logged in through the engine. */
export async function rushSeats(engine: BookingEngine, secret: string, bookings: number): Promise<Seat[]> {
  const citizens = await loggedInCitizens(engine, secret, '123456', {
    accounts: bookings / 4,
    mobileOf: (i) => `9999${String(i).padStart(6, '0')}`,
    beneficiariesOf: () => 4,
    photoIdOf: (i, b) => String(i * 4 + b + 1).padStart(12, '0'),
  });
  return citizens.flatMap((c) => c.beneficiaryIds.map((beneficiaryId) => ({ token: c.token, beneficiaryId })));
}

export interface RushAnswer {
  status: number;
  appointmentId?: string;
  errorCode?: string;
  /** when the answered attempt was sent, and when its answer came (performance.now()) */
  sentAt: number;
  answeredAt: number;
  /** attempts that got no answer or a 5xx before it */
  retries: number;
}

/**
 * Book one seat into a session's slot, retrying with the same Idempotency-Key until answered below 500;
 * past `giveUpMs` without such an answer it throws (a gateway that never comes back ends the rush).
 */
export async function bookUntilAnswered(port: number, seat: Seat, session: RushSession, slot: string, giveUpMs = 180_000): Promise<RushAnswer> {
  const body = JSON.stringify({ dose: 1, session_id: session.id, slot, beneficiaries: [seat.beneficiaryId] });
  const deadline = performance.now() + giveUpMs;
  for (let retries = 0; ; retries++) {
    if (performance.now() > deadline) throw new Error(`booking of ${seat.beneficiaryId} got no answer below 500 in ${giveUpMs} ms (${retries} attempts)`);
    const sentAt = performance.now();
    const response = await fetch(`http://127.0.0.1:${port}/api/v2/appointment/schedule`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${seat.token}`, 'idempotency-key': `rush-${seat.beneficiaryId}` },
      body,
      signal: AbortSignal.timeout(10_000),
    }).catch(() => null);
    if (response && response.status < 500) {
      const answer = (await response.json()) as { appointment_confirmation_no?: string; errorCode?: string };
      return { status: response.status, appointmentId: answer.appointment_confirmation_no, errorCode: answer.errorCode, sentAt, answeredAt: performance.now(), retries };
    }
    await response?.body?.cancel();
    await new Promise((r) => setTimeout(r, 100));
  }
}
