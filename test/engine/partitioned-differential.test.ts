/**
 * Differential test of the partitioned booking (engine/partitioned-booking.ts) against the model
 * of the rules (model.ts): seeded random publishes, registrations, bookings, cancels, reschedules
 * and time, with a stop injected after a random step k of some bookings, cancels and reschedules
 * (the test hook: the steps after k never run, as after a crash). After each stop the clock passes
 * the hold's deadline and recovery runs (resolveExpiredIntents); the model applies the operation
 * exactly when the stopped steps had decided it (a booking or reschedule once its seats were
 * taken, a cancel once step 1 ran), and the invariants are checked at once: no seat taken without
 * a live appointment, no beneficiary held, never two live appointments for one dose, never more
 * seats than capacity. Every answer of an operation that was not stopped must be the model's.
 * Replay a failure with PDIFF_SEED=<seed> npx vitest run test/engine/partitioned-differential.test.ts
 */
import { keys } from '../../engine/keys.js';
import { PartitionedBooking, StoppedAfterStep, type PartitionedOperation } from '../../engine/partitioned-booking.js';
import { beneficiaryField, decodeBeneficiary, encodeBeneficiary } from '../../engine/records.js';
import { defineSession, type SessionInput } from '../../engine/sessions.js';
import { Status } from '../../engine/status.js';
import { BookingModel, seededRandom, type ModelAnswer } from './model.js';
import { beneficiariesIntoPartition, partitionedViolations } from '../support/partitioned.js';
import { describe, expect, test } from '../support/fixtures.js';

const SEEDS = process.env.PDIFF_SEED ? [Number(process.env.PDIFF_SEED)] : [1, 2, 3, 4, 5, 6, 7, 8];
const STEPS = Number(process.env.PDIFF_STEPS ?? 500);
const FIRST_REFERENCE = 60_000_000_000_000;
const HOLD_MS = 30_000;
/** the last step after which an operation can stop (its final step ends it anyway) */
const LAST_STOP: Record<PartitionedOperation, number> = { book: 2, cancel: 2, reschedule: 4 };

describe('the partitioned booking agrees with the model of the rules, through stops after any step', () => {
  test.for(SEEDS)('seed %i', async (seed, { makeEngine, clock }) => {
    const engine = makeEngine({ firstBeneficiaryReference: FIRST_REFERENCE });
    const booking = new PartitionedBooking(engine, { holdMs: HOLD_MS });
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
    const country = engine.country;
    const model = new BookingModel(country.timeZone, country.rules.beneficiaries_per_account, FIRST_REFERENCE);

    const centers = country.data.centers.slice(0, 4);
    const vaccines = ['COVISHIELD', 'COVAXIN'];
    const accounts = ['a', 'b', 'c', 'd'].map((m) => engine.accountIdOf(`71000000${m.charCodeAt(0)}`));
    const year = new Date(clock.ms).getUTCFullYear();
    const sessionInputs = new Map<string, SessionInput>();
    const appointmentIds: string[] = [];
    const log: string[] = [];
    const seen = new Set<Status>();
    const stops = { book: 0, cancel: 0, reschedule: 0, decided: 0 };

    const compare = (step: number, what: string, actual: { status: Status; value?: unknown }, expected: ModelAnswer) => {
      log.push(`${step}: ${what} → ${actual.status}`);
      seen.add(actual.status);
      const context = `seed ${seed} step ${step}: ${what}\nrecent:\n${log.slice(-8).join('\n')}`;
      expect(actual.status, context).toBe(expected.status);
      if (expected.value !== undefined) expect(actual.value, context).toBe(expected.value);
    };

    /** A session, most often one still taking bookings (past sessions pile up as time passes) */
    const pickSession = (): string => {
      const open = [...model.sessions].filter(([, s]) => s.cutoff_at > clock.ms).map(([id]) => id);
      return open.length && random() < 0.8 ? pick(open) : pick([...sessionInputs.keys()]);
    };

    /** An appointment, most often one with someone still booked (cancelled ones pile up) */
    const pickAppointment = (): string => {
      const live = appointmentIds.filter((id) => [...model.appointments.get(id)!.status.values()].includes('booked'));
      return live.length && random() < 0.8 ? pick(live) : pick(appointmentIds);
    };

    /**
     * Run an operation, maybe with a stop after a random step. Returns its outcome, or `stopped`
     * with the step when the hook fired; then the deadline passes and recovery runs.
     */
    const maybeStopped = async <T>(operation: PartitionedOperation, run: () => Promise<T>): Promise<{ outcome: T } | { stopped: number }> => {
      const stopAt = random() < 0.4 ? int(1, LAST_STOP[operation]) : 0;
      booking.stopAfter = stopAt ? { operation, step: stopAt } : null;
      try {
        return { outcome: await run() };
      } catch (error) {
        if (!(error instanceof StoppedAfterStep)) throw error;
        stops[operation] += 1;
        return { stopped: error.step };
      } finally {
        booking.stopAfter = null;
      }
    };

    /** After a stop: the deadline passes, recovery resolves the account's partition, the invariants hold. */
    const recover = async (step: number, accountId: string) => {
      clock.advance(HOLD_MS + 1);
      log.push(`${step}: recovery after the deadline`);
      const resolved = await booking.resolveExpiredIntents(engine.partitions.of(accountId));
      if (process.env.PDIFF_VERBOSE) log.push(`${step}: resolved ${resolved}`);
      stops.decided += resolved;
      const violations = await partitionedViolations(booking, sessionInputs.keys(), appointmentIds, accounts);
      expect(violations, `seed ${seed} step ${step}\nrecent:\n${log.slice(-8).join('\n')}`).toEqual([]);
    };

    for (let step = 0; step < STEPS; step++) {
      const roll = random();
      if (roll < 0.12 || sessionInputs.size === 0) {
        const reuse = sessionInputs.size > 0 && random() < 0.3;
        const base: SessionInput = reuse
          ? pick([...sessionInputs.values()])
          : {
              center_id: pick(centers).center_id,
              date: engine.today() + (random() < 0.8 ? int(1, 10) : int(20, 300)),
              vaccine: pick(vaccines),
              min_age_limit: pick([18, 45]),
              max_age_limit: random() < 0.3 ? 60 : undefined,
              allow_all_age: random() < 0.2,
              capacity_dose1: 0,
              capacity_dose2: 0,
              opens_at: random() < 0.2 ? clock.ms + int(0, 3) * 3_600_000 : 0,
            };
        const input: SessionInput = { ...base, capacity_dose1: int(0, 6), capacity_dose2: int(0, 6), slot_capacity: undefined };
        const center = country.centersById.get(input.center_id)!;
        input.slot_capacity = country.slotsOf(center).map(() => int(0, 4));
        const { sessionId, definition } = defineSession(country, input);
        const actual = await booking.publishSession(input);
        compare(step, `publish ${sessionId.slice(0, 8)} cap ${input.capacity_dose1}/${input.capacity_dose2}`, actual, model.publish(sessionId, definition));
        if (actual.ok) sessionInputs.set(sessionId, input);
      } else if (roll < 0.24 || (roll < 0.5 && [...model.accounts.values()].reduce((n, m) => n + m.size, 0) < 6)) {
        const account = pick(accounts);
        const photo = String(int(1, 60)).padStart(12, '0');
        const birthYear = year - (random() < 0.8 ? int(46, 59) : int(15, 75));
        const actual = await engine.addBeneficiary(account, {
          name: 'Model Person',
          birth_year: birthYear,
          gender_id: 1,
          photo_id_type: 1,
          photo_id_number: photo,
          comorbidity_ind: 'N',
          consent_version: 'V1',
        });
        compare(step, `add beneficiary ${photo}`, { status: actual.status, value: actual.ok ? actual.beneficiaryId : undefined }, model.addBeneficiary(account, birthYear, photo));
        if (actual.ok) {
          await beneficiariesIntoPartition(engine, account, [actual.beneficiaryId]);
          // some arrive vaccinated already (their first dose, or two), so later doses and their intervals are booked too
          if (random() < 0.25) {
            const vaccine = pick(vaccines);
            const dose1 = engine.today() - int(0, 150);
            const dose2 = random() < 0.4 ? Math.min(engine.today(), dose1 + int(20, 120)) : 0;
            const key = keys.forAccount(engine.partitions, account).bookingAccount();
            const ben = decodeBeneficiary('test', (await engine.redis.hget(key, beneficiaryField(actual.beneficiaryId)))!);
            await engine.redis.hset(key, beneficiaryField(actual.beneficiaryId), encodeBeneficiary({ ...ben, vaccine, dose1, dose2 }));
            const modelBen = model.accounts.get(account)!.get(actual.beneficiaryId)!;
            modelBen.vaccine = vaccine;
            modelBen.dose = [dose1, dose2, 0];
          }
        }
      } else if (roll < 0.6) {
        const account = pick(accounts);
        const own = [...(model.accounts.get(account)?.keys() ?? [])];
        const others = [...model.accounts.values()].flatMap((m) => [...m.keys()]);
        const ids = own.sort(() => random() - 0.5).slice(0, int(1, 3));
        if (random() < 0.05 && ids.length) ids.push(ids[0]!);
        if (random() < 0.05 || !ids.length) ids.push(pick(others.length ? others : ['1']));
        const sessionId = random() < 0.95 ? pickSession() : 'no-such-session';
        const input = sessionInputs.get(sessionId);
        const slots = input ? country.slotsOf(country.centersById.get(input.center_id)!) : ['09:00AM-11:00AM'];
        const slot = random() < 0.95 ? pick(slots) : '01:00AM-02:00AM';
        const dose = pick([1, 1, 1, 1, 2, 2, 3, 4]);
        const what = `book ${ids.join('+')} dose ${dose} into ${sessionId.slice(0, 8)} ${slot}`;
        const intents = keys.forAccount(engine.partitions, account).intents();
        const run = await maybeStopped('book', () => booking.book({ accountId: account, sessionId, slot, dose, beneficiaryIds: ids }));
        if ('stopped' in run) {
          // the hold passed, so the model's checks up to capacity did too; step 2 decided the rest
          const [intent] = await engine.redis.zrange(intents, 0, -1);
          const appointmentId = intent!.slice('book:'.length);
          log.push(`${step}: ${what} stopped after step ${run.stopped}`);
          if (run.stopped >= 2) {
            const expected = model.book(account, sessionId, slot, dose, ids, clock.ms, () => appointmentId);
            if (expected.status === Status.OK) appointmentIds.push(appointmentId);
          }
          await recover(step, account);
        } else {
          const actual = run.outcome;
          const expected = model.book(account, sessionId, slot, dose, ids, clock.ms, () => (actual.ok ? actual.appointmentId : 'none'));
          compare(step, what, { status: actual.status, value: actual.ok ? actual.availableAfter : actual.beneficiaryId }, expected);
          if (actual.ok) appointmentIds.push(actual.appointmentId);
        }
      } else if (roll < 0.74 && appointmentIds.length) {
        const appointmentId = pickAppointment();
        const owner = model.appointments.get(appointmentId)!.account;
        const account = random() < 0.9 ? owner : pick(accounts);
        const ids = random() < 0.5 ? [] : [pick(model.appointments.get(appointmentId)!.bens)];
        const what = `cancel ${appointmentId.slice(0, 8)} ${ids.join(',') || 'all'}`;
        const run = await maybeStopped('cancel', () => booking.cancel(account, appointmentId, ids));
        if ('stopped' in run) {
          // step 1 cancelled it: the seats are owed back
          log.push(`${step}: ${what} stopped after step ${run.stopped}`);
          expect(model.cancel(account, appointmentId, ids, clock.ms).status).toBe(Status.OK);
          await recover(step, account);
        } else {
          const actual = run.outcome;
          compare(step, what, { status: actual.status, value: actual.ok ? actual.cancelled : actual.beneficiaryId }, model.cancel(account, appointmentId, ids, clock.ms));
        }
      } else if (roll < 0.92 && appointmentIds.length) {
        const appointmentId = pickAppointment();
        const owner = model.appointments.get(appointmentId)!.account;
        const account = random() < 0.9 ? owner : pick(accounts);
        const sessionId = pickSession();
        const slot = pick(country.slotsOf(country.centersById.get(sessionInputs.get(sessionId)!.center_id)!));
        const what = `reschedule ${appointmentId.slice(0, 8)} to ${sessionId.slice(0, 8)} ${slot}`;
        const run = await maybeStopped('reschedule', () => booking.reschedule(account, appointmentId, sessionId, slot));
        if ('stopped' in run) {
          // step 1 passed the model's checks up to capacity; the seats step decided the rest
          log.push(`${step}: ${what} stopped after step ${run.stopped}`);
          if (run.stopped >= 2) model.reschedule(account, appointmentId, sessionId, slot, clock.ms);
          await recover(step, account);
        } else {
          const actual = run.outcome;
          compare(step, what, { status: actual.status, value: actual.ok ? actual.availableAfter : actual.beneficiaryId }, model.reschedule(account, appointmentId, sessionId, slot, clock.ms));
        }
      } else {
        clock.advance(random() < 0.9 ? int(1, 6) * 3_600_000 : int(1, 4) * 86_400_000);
        log.push(`${step}: clock → ${new Date(clock.ms).toISOString()}`);
      }
    }

    // final state: every session's counters, every appointment, every beneficiary's dose pointers
    for (const [sessionId, expected] of model.sessions) {
      const actual = (await booking.getSession(sessionId))!;
      expect([actual.booked1, actual.booked2], `seed ${seed} session ${sessionId}`).toEqual([expected.booked1, expected.booked2]);
      expect(actual.slot_booked).toEqual(actual.slots.map((s) => expected.slotBooked.get(s)));
    }
    for (const [appointmentId, expected] of model.appointments) {
      const actual = (await booking.getAppointment(appointmentId))!;
      expect([actual.appointment.session_id, actual.appointment.slot, actual.pending]).toEqual([expected.session, expected.slot, null]);
      expect(actual.appointment.beneficiaries.map((b) => b.status)).toEqual(expected.bens.map((b) => expected.status.get(b)));
    }
    for (const [account, bens] of model.accounts) {
      const hash = await engine.redis.hgetall(keys.forAccount(engine.partitions, account).bookingAccount());
      for (const [id, expected] of bens) {
        const ben = decodeBeneficiary(id, hash[beneficiaryField(id)]!);
        expect([ben.appt1, ben.appt2, ben.appt3], `seed ${seed} beneficiary ${id}`).toEqual(expected.appt);
      }
    }
    expect(await partitionedViolations(booking, sessionInputs.keys(), appointmentIds, accounts)).toEqual([]);
    if (process.env.PDIFF_VERBOSE) console.log(seed, stops, [...seen].sort((a, b) => a - b).join(" "), process.env.PDIFF_VERBOSE === "2" ? log.join("\n") : "");
    // the run exercised the interesting outcomes and stops, not just one path
    expect(seen.has(Status.OK)).toBe(true);
    expect(seen.has(Status.FULL) || seen.has(Status.ALREADY_BOOKED)).toBe(true);
    expect(stops.book + stops.cancel + stops.reschedule).toBeGreaterThan(0);
  });
});
