/**
 * The fair admission queue's scripts on a real Redis, on a clock the test moves (engine/fair-admission.ts):
 * the shuffle is a permutation that replays from its seed and happens once however many call at the
 * opening; admissions follow the rate and never outrun the seats left; an expired admission passes
 * its turn on and is never issued again; a crash between checking an admission and booking loses
 * no place and admits no one twice.
 */
import { demoCountry, describe, expect, test } from '../support/fixtures.js';
import { keys } from '../../engine/keys.js';
import { parseCountry } from '../../engine/masterdata.js';
import { accountWithBeneficiaries, publishSession, slotsOf, demoCenterId } from '../support/booking.js';
import { isUnderFairAdmission, nextRandom, replayShuffle, type AdmitSummary } from '../../engine/fair-admission.js';
import type { BookingEngine } from '../../engine/engine.js';
import type { SessionState } from '../../engine/sessions.js';
import { Status } from '../../engine/status.js';
import type { TestClock } from '../support/clock.js';

const MINUTE = 60_000;

/** A session under fair admission opening in 10 minutes (pre-queue 30 minutes), read back as stored. */
async function fairSession(engine: BookingEngine, clock: TestClock, seats: number, rate = 1000, extra: Record<string, unknown> = {}): Promise<SessionState> {
  const sessionId = await publishSession(engine, {
    capacity_dose1: seats,
    capacity_dose2: 0,
    opens_at: clock.ms + 10 * MINUTE,
    fair_admission: true,
    prequeue_minutes: 30,
    admission_rate: rate,
    ...extra,
  });
  return (await engine.getSession(sessionId))!;
}

async function people(engine: BookingEngine, count: number, beneficiaries = 1) {
  const list = [];
  for (let i = 0; i < count; i++) list.push(await accountWithBeneficiaries(engine, beneficiaries));
  return list;
}

describe('replayShuffle', () => {
  test('is the Park–Miller Fisher–Yates the script runs, a permutation', () => {
    // the generator's published check value: 10,000 steps from 1 with 48271 give 399268537
    let x = 1;
    for (let i = 0; i < 10_000; i++) x = nextRandom(x);
    expect(x).toBe(399_268_537);
    const items = Array.from({ length: 1000 }, (_, i) => `a${i}`);
    const shuffled = replayShuffle(12345, items);
    expect([...shuffled].sort()).toEqual([...items].sort());
    expect(shuffled).not.toEqual(items);
    expect(replayShuffle(12345, items)).toEqual(shuffled);
    expect(replayShuffle(12346, items)).not.toEqual(shuffled);
  });
});

describe('the queue', () => {
  test('pre-queue, then one shuffle at the opening that replays from its seed, then late arrivals at the end', async ({ engine, clock }) => {
    const session = await fairSession(engine, clock, 500, 1);
    const early = await people(engine, 120);
    // too early: more than 30 minutes before the opening
    clock.advance(-25 * MINUTE);
    expect((await engine.fairAdmission.join(session, early[0]!.accountId, early[0]!.beneficiaryIds)).status).toBe(Status.QUEUE_NOT_OPEN_YET);
    clock.advance(25 * MINUTE);
    for (const p of early) {
      const joined = await engine.fairAdmission.join(session, p.accountId, p.beneficiaryIds);
      expect(joined.ok && joined.place).toMatchObject({ state: 'pre', number: null, ahead: null });
    }
    clock.advance(10 * MINUTE);
    // many callers at the opening (admit turns, status reads, a late join), all at once: one shuffle
    const late = await people(engine, 3);
    const calls = await Promise.all([
      ...Array.from({ length: 8 }, () => engine.fairAdmission.admit(session)),
      ...early.slice(0, 20).map((p) => engine.fairAdmission.status(session, p.accountId)),
      ...late.map((p) => engine.fairAdmission.join(session, p.accountId, p.beneficiaryIds)),
    ]);
    expect(calls.length).toBe(31);
    const audit = (await engine.fairAdmission.audit(session.session_id))!;
    expect(audit.joined).toEqual(early.map((p) => p.accountId));
    expect([...audit.order].sort()).toEqual([...audit.joined].sort());
    expect(audit.order).not.toEqual(audit.joined);
    expect(replayShuffle(audit.seed, audit.joined)).toEqual(audit.order);
    // the shuffle does not happen again: later calls keep the order and the seed
    await engine.fairAdmission.admit(session);
    expect(await engine.fairAdmission.audit(session.session_id)).toEqual(audit);
    // positions follow the shuffle; late arrivals after all 120
    for (const [i, account] of audit.order.slice(0, 5).entries()) {
      const status = await engine.fairAdmission.status(session, account);
      expect(status.ok && status.queue.number).toBe(i + 1);
    }
    for (const p of late) {
      const status = await engine.fairAdmission.status(session, p.accountId);
      expect(status.ok && status.queue.number).toBeGreaterThan(120);
    }
  });

  test('admits in order at the rate, whoever calls', async ({ engine, clock }) => {
    const session = await fairSession(engine, clock, 500, 4);
    const everyone = await people(engine, 40);
    for (const p of everyone) await engine.fairAdmission.join(session, p.accountId, p.beneficiaryIds);
    clock.advance(10 * MINUTE);
    const admittedOrder: string[] = [];
    let last: AdmitSummary | undefined;
    // 5 simulated seconds, 4 concurrent callers every 100 ms (four gateway threads)
    for (let step = 0; step < 50; step++) {
      const turns = await Promise.all(Array.from({ length: 4 }, () => engine.fairAdmission.admit(session)));
      for (const turn of turns) {
        for (const account of turn.changed) admittedOrder.push(account);
        last = turn;
      }
      clock.advance(100);
    }
    // one second's worth at the opening, then 4 a second: 4 + 4 × 4.9 s
    expect(last!.admitted).toBe(admittedOrder.length);
    expect(admittedOrder.length).toBeGreaterThanOrEqual(20);
    expect(admittedOrder.length).toBeLessThanOrEqual(4 + Math.ceil(4 * 5));
    expect(new Set(admittedOrder).size).toBe(admittedOrder.length);
    const audit = (await engine.fairAdmission.audit(session.session_id))!;
    expect(admittedOrder).toEqual(audit.order.slice(0, admittedOrder.length));
    expect(last!.waiting).toBe(40 - admittedOrder.length);
  });

  test('never admits more beneficiaries than the seats left can serve; when none are left, everyone waiting reads full', async ({ engine, clock }) => {
    const session = await fairSession(engine, clock, 7);
    const everyone = [...(await people(engine, 6, 2)), ...(await people(engine, 6, 1))];
    for (const p of everyone) await engine.fairAdmission.join(session, p.accountId, p.beneficiaryIds);
    clock.advance(10 * MINUTE);
    const byAccount = new Map(everyone.map((p) => [p.accountId, p]));
    const slots = slotsOf(engine, demoCenterId(engine));
    for (let round = 0; round < 20; round++) {
      const turn = await engine.fairAdmission.admit(session);
      const seatsLeft = await engine.fairAdmission.seatsLeft(session.session_id);
      expect(turn.outstandingSeats).toBeLessThanOrEqual(seatsLeft);
      // the places admitted this turn book (one of them only after its admission expired)
      for (const account of turn.changed) {
        const status = await engine.fairAdmission.status(session, account);
        if (!status.ok || status.queue.state !== 'admitted') continue;
        const p = byAccount.get(account)!;
        const checked = await engine.fairAdmission.checkAdmission(session.session_id, account, status.queue.admission!, p.beneficiaryIds, false);
        expect(checked.ok).toBe(true);
        // as many of the place's beneficiaries as a slot has room for (7 seats are 2, 2, 2 and 1 a slot)
        book: for (let seats = p.beneficiaryIds.length; seats >= 1; seats--) {
          for (const slot of slots) {
            const booked = await engine.book({ accountId: account, sessionId: session.session_id, slot, dose: 1, beneficiaryIds: p.beneficiaryIds.slice(0, seats) });
            if (!booked.ok) continue;
            await engine.fairAdmission.useAdmission(session.session_id, account, status.queue.admission!);
            break book;
          }
        }
      }
      clock.advance(1000);
    }
    const final = await engine.fairAdmission.admit(session);
    expect(await engine.fairAdmission.seatsLeft(session.session_id)).toBe(0);
    expect(final.outstandingSeats).toBe(0);
    const stored = (await engine.getSession(session.session_id))!;
    expect(stored.booked1).toBe(7);
    expect(final.used).toBeGreaterThanOrEqual(4);
    const waiting = everyone.filter((p) => !final.changed.includes(p.accountId));
    const states = await Promise.all(waiting.map((p) => engine.fairAdmission.status(session, p.accountId)));
    const stillWaiting = states.filter((s) => s.ok && s.queue.state === 'waiting');
    expect(stillWaiting.length).toBe(final.waiting);
    expect(final.waiting).toBeGreaterThan(0);
    for (const s of stillWaiting) expect(s.ok && s.queue.seatsLeft).toBe(0);
  });

  test('an unused admission expires and passes to the next place; it is never issued again', async ({ engine, clock }) => {
    const session = await fairSession(engine, clock, 1, 1000, { prequeue_minutes: 30 });
    const [first, second] = await people(engine, 2);
    await engine.fairAdmission.join(session, first!.accountId, first!.beneficiaryIds);
    clock.advance(10 * MINUTE);
    await engine.fairAdmission.join(session, second!.accountId, second!.beneficiaryIds);
    const turn = await engine.fairAdmission.admit(session);
    // one seat: only the first is admitted
    expect(turn.changed).toEqual([first!.accountId]);
    const admission = (await engine.fairAdmission.status(session, first!.accountId)) as { queue: { admission: string } };
    // a crash after the check and before the booking: nothing is written by the check
    expect((await engine.fairAdmission.checkAdmission(session.session_id, first!.accountId, admission.queue.admission, first!.beneficiaryIds, false)).ok).toBe(true);
    clock.advance(session.fair!.admission_ms - 1);
    expect((await engine.fairAdmission.admit(session)).changed).toEqual([]);
    clock.advance(1);
    const next = await engine.fairAdmission.admit(session);
    expect(next.changed).toEqual([first!.accountId, second!.accountId]);
    expect(next.expired).toBe(1);
    expect((await engine.fairAdmission.checkAdmission(session.session_id, first!.accountId, admission.queue.admission, first!.beneficiaryIds, false)).status).toBe(Status.ADMISSION_EXPIRED);
    const seen = await engine.fairAdmission.status(session, first!.accountId);
    expect(seen.ok && seen.queue.state).toBe('expired');
    // more turns never admit the first again; joining again puts it at the end, waiting for a seat
    clock.advance(session.fair!.admission_ms + 1);
    const later = await engine.fairAdmission.admit(session);
    expect(later).toMatchObject({ admitted: 2, expired: 2, waiting: 0 });
    const rejoined = await engine.fairAdmission.join(session, first!.accountId, first!.beneficiaryIds);
    expect(rejoined.ok && rejoined.place).toMatchObject({ state: 'waiting', number: 3 });
    // a new turn, with a new admission: the old one stays expired
    expect((await engine.fairAdmission.admit(session)).changed).toEqual([first!.accountId]);
    const again = await engine.fairAdmission.status(session, first!.accountId);
    expect(again.ok && again.queue.admission).not.toBe(admission.queue.admission);
    expect((await engine.fairAdmission.checkAdmission(session.session_id, first!.accountId, admission.queue.admission, first!.beneficiaryIds, false)).status).toBe(Status.ADMISSION_INVALID);
  });

  test('a booking whose admission was not marked used (a crash after the booking) admits no one twice', async ({ engine, clock }) => {
    const session = await fairSession(engine, clock, 5);
    const everyone = await people(engine, 3);
    for (const p of everyone) await engine.fairAdmission.join(session, p.accountId, p.beneficiaryIds);
    clock.advance(10 * MINUTE);
    const turn = await engine.fairAdmission.admit(session);
    expect(turn.admitted).toBe(3);
    const p = everyone.find((x) => x.accountId === turn.changed[0])!;
    const status = (await engine.fairAdmission.status(session, p.accountId)) as { queue: { admission: string } };
    const slot = slotsOf(engine, demoCenterId(engine))[0]!;
    expect((await engine.book({ accountId: p.accountId, sessionId: session.session_id, slot, dose: 1, beneficiaryIds: p.beneficiaryIds })).ok).toBe(true);
    // (the gateway died here) the admission expires; the place is over, not re-admitted
    clock.advance(session.fair!.admission_ms);
    const after = await engine.fairAdmission.admit(session);
    expect(after.admitted).toBe(3);
    expect(after.outstandingSeats).toBe(0);
    // the late mark still lands, and the admission can never book again
    expect((await engine.fairAdmission.useAdmission(session.session_id, p.accountId, status.queue.admission)).ok).toBe(true);
    expect((await engine.fairAdmission.checkAdmission(session.session_id, p.accountId, status.queue.admission, p.beneficiaryIds, false)).status).toBe(Status.ADMISSION_USED);
  });

  test("a publication that does not say takes the country's defaults; one that says off is off", async ({ makeEngine, clock }) => {
    const data = structuredClone(demoCountry().data);
    data.rules.fair_admission = { enabled: true, prequeue_minutes: 5, admission_rate: 3, admission_seconds: 45, grace_seconds: 0 };
    const engine = makeEngine({ country: parseCountry(data, 'fair-by-default.json') });
    const defaulted = (await engine.getSession(await publishSession(engine, { opens_at: clock.ms + MINUTE })))!;
    expect(defaulted.fair).toEqual({ prequeue_ms: 5 * MINUTE, rate: 3, admission_ms: 45_000, grace_ms: 0 });
    const own = (await engine.getSession(await publishSession(engine, { opens_at: clock.ms + MINUTE, date: engine.today() + 2, admission_rate: 0.5, prequeue_minutes: 0 })))!;
    expect(own.fair).toEqual({ prequeue_ms: 0, rate: 0.5, admission_ms: 45_000, grace_ms: 0 });
    const off = (await engine.getSession(await publishSession(engine, { opens_at: clock.ms + MINUTE, date: engine.today() + 3, fair_admission: false })))!;
    expect(off.fair).toBeUndefined();
    // the demo country's default is off, and an unchanged definition stays byte for byte what it was
    expect(demoCountry().rules.fair_admission.enabled).toBe(false);
    expect(await engine.redis.hget(keys.session(off.session_id), 'definition')).not.toContain('fair');
  });

  test('a place not seen for the grace period after the opening is skipped at its turn; one seen (status, an open socket) keeps it', async ({ makeEngine, clock }) => {
    const data = structuredClone(demoCountry().data);
    data.rules.fair_admission = { ...data.rules.fair_admission, grace_seconds: 30, admission_seconds: 3600 };
    const engine = makeEngine({ country: parseCountry(data, 'grace.json') });
    // one place a second: the second turn comes after the grace period
    const session = await fairSession(engine, clock, 10, 0.02);
    const [gone, polling, socket] = await people(engine, 3);
    for (const p of [polling!, socket!]) await engine.fairAdmission.join(session, p.accountId, p.beneficiaryIds);
    clock.advance(10 * MINUTE);
    // the last in the line: it joins after the opening, then is never seen again
    await engine.fairAdmission.join(session, gone!.accountId, gone!.beneficiaryIds);
    expect((await engine.fairAdmission.admit(session)).admittedNow).toBe(1);
    const summaries = [];
    for (let turn = 0; turn < 6; turn++) {
      clock.advance(20_000);
      // the others show up: one polls its status, the other's socket is open on a gateway thread
      await engine.fairAdmission.status(session, polling!.accountId);
      summaries.push(await engine.fairAdmission.admit(session, [socket!.accountId]));
    }
    const final = summaries.at(-1)!;
    expect(final).toMatchObject({ admitted: 2, lapsed: 1, waiting: 0 });
    // skipped only at its turn: after the second admission, 50 s after the first
    expect(summaries.findIndex((s) => s.lapsed === 1)).toBeGreaterThan(summaries.findIndex((s) => s.admitted === 2) - 1);
    const state = async (account: string) => ((await engine.fairAdmission.status(session, account)) as { queue: { state: string } }).queue.state;
    expect([await state(polling!.accountId), await state(socket!.accountId), await state(gone!.accountId)]).toEqual(['admitted', 'admitted', 'lapsed']);
    // it may join again, at the end
    const again = await engine.fairAdmission.join(session, gone!.accountId, gone!.beneficiaryIds);
    expect(again.ok && again.place.state).toBe('waiting');
  });

  test('refuses what the queue is not for', async ({ engine, clock }) => {
    const plainId = await publishSession(engine, { opens_at: clock.ms + MINUTE });
    const plain = (await engine.getSession(plainId))!;
    expect(plain.fair).toBeUndefined();
    expect(isUnderFairAdmission(plain, clock.ms + 2 * MINUTE)).toBe(false);
    const [p, q] = await people(engine, 2);
    expect((await engine.fairAdmission.join(plain, p!.accountId, p!.beneficiaryIds)).status).toBe(Status.QUEUE_OFF);
    const session = await fairSession(engine, clock, 5, 10, { date: engine.today() + 2 });
    expect(isUnderFairAdmission(session, clock.ms)).toBe(true);
    // another account's beneficiary, a beneficiary twice
    expect(await engine.fairAdmission.join(session, p!.accountId, q!.beneficiaryIds)).toEqual({ ok: false, status: Status.BENEFICIARY_NOT_FOUND, beneficiaryId: q!.beneficiaryIds[0] });
    expect((await engine.fairAdmission.join(session, p!.accountId, [...p!.beneficiaryIds, ...p!.beneficiaryIds])).status).toBe(Status.DUPLICATE_BENEFICIARY);
    expect((await engine.fairAdmission.status(session, p!.accountId)).status).toBe(Status.QUEUE_PLACE_NOT_FOUND);
    // after the cutoff
    clock.ms = session.cutoff_at;
    expect((await engine.fairAdmission.join(session, p!.accountId, p!.beneficiaryIds)).status).toBe(Status.BOOKING_CLOSED);
  });
});
