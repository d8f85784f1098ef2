/**
 * The booking across two partitions (engine/partitioned-booking.md): book, cancel and reschedule as
 * steps, each one Lua script on one slot and idempotent by its booking id, with the account's
 * partition p(A) deciding "one live appointment per beneficiary and dose" and the session's
 * partition p(S) deciding "never more seats than capacity". A stop between any two steps (a crash,
 * a failover, a cut) leaves an intent in p(A); once its deadline passes, `resolveExpiredIntents`
 * (the worker's sweeper, or the next booking that meets the held beneficiary) finishes it from the
 * claim in p(S).
 *
 * Built beside the single-slot path (BookingEngine.book/cancel/reschedule on `{bk}`), which the
 * gateway and worker still use: sessions published here live in their own partition, and accounts'
 * beneficiaries in `keys.forAccount(...).bookingAccount()`.
 *
 * Time is the engine's clock; the test hook `stopAfter` stops an operation after its step k, as a
 * crash there would (the steps after it never run).
 */
import type { BookingEngine, BookingRequest, Outcome, Vaccination } from './engine.js';
import { bookingFingerprint, code, failure, IDEMPOTENCY_KEY, STALE_RETRIES } from './engine.js';
import { newAppointmentId, newCertificateId } from './ids.js';
import { keys } from './keys.js';
import {
  appointmentField,
  beneficiaryField,
  decodeClaim,
  decodeHeldAppointment,
  decodeSessionHash,
  encodeSessionFacts,
  type Claim,
  type HeldAppointment,
  type SessionState,
} from './records.js';
import type { ScriptName } from './scripts.js';
import { defineSession, type SessionInput } from './sessions.js';
import { Status } from './status.js';

export type PartitionedOperation = 'book' | 'cancel' | 'reschedule';

export interface PartitionedBookingOptions {
  /** how long a hold waits before anyone may resolve it (H): far above a step's latency. Default 30 s */
  holdMs?: number;
  /** how long a refusal or an `aborted` tombstone is kept: longer than any step can be delayed. Default a day */
  tombstoneMs?: number;
  /** intents resolved per call of resolveExpiredIntents. Default 100 */
  sweepBatch?: number;
}

/** Thrown by the test hook: the operation stopped after its step k, as if its process had died there. */
/** A test hook stopped an operation between two steps (engine/partitioned-beneficiaries.ts stops registrations too). */
export class StoppedAfterStep extends Error {
  override readonly name = 'StoppedAfterStep';
  constructor(
    readonly operation: PartitionedOperation | 'register' | 'remove',
    readonly step: number,
  ) {
    super(`${operation} stopped after step ${step} (test hook)`);
  }
}

/** How many times a booking starts again when the session changed under it (SESSION_CHANGED). */
const SESSION_CHANGED_RETRIES = 3;

export class PartitionedBooking {
  private readonly holdMs: number;
  private readonly tombstoneMs: number;
  private readonly sweepBatch: number;
  /**
   * Test hook: the next book, cancel or reschedule of this operation stops (throws StoppedAfterStep)
   * after this step; it is cleared as it fires. Steps: book 1 hold, 2 take seats, 3 confirm or
   * release; cancel 1 cancel in p(A), 2 give seats back, 3 clear the intent; reschedule 1 mark the
   * move, 2 take seats in the new session, 3 confirm or release, 4 give the old seats back, 5 clear.
   */
  stopAfter: { operation: PartitionedOperation; step: number } | null = null;

  constructor(
    readonly engine: BookingEngine,
    options: PartitionedBookingOptions = {},
  ) {
    this.holdMs = options.holdMs ?? 30_000;
    this.tombstoneMs = options.tombstoneMs ?? 86_400_000;
    this.sweepBatch = options.sweepBatch ?? 100;
  }

  private get partitions() {
    return this.engine.partitions;
  }

  private step(operation: PartitionedOperation, step: number): void {
    if (this.stopAfter?.operation === operation && this.stopAfter.step === step) {
      this.stopAfter = null;
      throw new StoppedAfterStep(operation, step);
    }
  }

  /** Run one step's script; a change it made is held until the required replicas have it (engine/durability.ts). */
  private run(name: ScriptName, scriptKeys: string[], args: (string | number)[]): Promise<unknown[]> {
    return this.engine.change(name, scriptKeys, args);
  }

  // ---------------------------------------------------------------- sessions and records

  /** Publish or update a session in its own partition (publishSession-4.lua on the partition's keys). */
  async publishSession(input: SessionInput): Promise<Outcome<{ sessionId: string; version: number; changed: boolean }>> {
    const { sessionId, definition } = defineSession(this.engine.country, input);
    const partition = this.partitions.of(sessionId);
    const reply = await this.run(
      'publishSession',
      [
        keys.partitionSession(this.partitions, sessionId),
        keys.partitionSessionsByDate(this.partitions, partition),
        keys.partitionOutbox(this.partitions, partition),
        keys.partitionAvailability(this.partitions, partition),
      ],
      [sessionId, JSON.stringify(definition), this.engine.now(), this.engine.availabilityCap],
    );
    if (code(reply) !== Status.OK) return failure(reply);
    return { ok: true, status: Status.OK, sessionId, version: reply[1] as number, changed: reply[2] === 1 };
  }

  async getSession(sessionId: string): Promise<SessionState | null> {
    return decodeSessionHash(sessionId, await this.engine.redis.hgetall(keys.partitionSession(this.partitions, sessionId)));
  }

  /** Every partition's sessions dated from `fromDay` to `toDay` inclusive. */
  async loadSessions(fromDay: number, toDay: number): Promise<SessionState[]> {
    const perPartition = await Promise.all(
      this.partitions
        .all()
        .map((partition) => this.engine.loadSessionsIn(keys.partitionSessionsByDate(this.partitions, partition), (id) => keys.partitionSession(this.partitions, id), fromDay, toDay)),
    );
    return perPartition.flat();
  }

  async getAppointment(appointmentId: string): Promise<HeldAppointment | null> {
    return decodeHeldAppointment(appointmentId, await this.engine.redis.hgetall(keys.partitionAppointment(this.partitions, appointmentId)));
  }

  async getClaim(sessionId: string, bookingId: string): Promise<Claim | null> {
    return decodeClaim(bookingId, await this.engine.redis.hgetall(keys.claim(this.partitions, sessionId, bookingId)));
  }

  /** The session's facts for a step in the account's partition ('' when there is no such session), and the session. */
  private async sessionFacts(sessionId: string, slot: string): Promise<{ facts: string; session: SessionState | null }> {
    const session = await this.getSession(sessionId);
    return { facts: session ? encodeSessionFacts(session, slot) : '', session };
  }

  /** The keys of the account's partition that the p(A) steps take, in their order. */
  private accountSide(accountId: string, appointmentId: string) {
    const account = keys.forAccount(this.partitions, accountId);
    return { account, hash: account.bookingAccount(), appointment: keys.partitionAppointment(this.partitions, appointmentId) };
  }

  // ---------------------------------------------------------------- book

  /** Book beneficiaries of one account into a session slot: all of them or none, in three steps. */
  async book(
    request: BookingRequest,
  ): Promise<Outcome<{ appointmentId: string; availableAfter?: number; securityCodes: { beneficiaryId: string; code: string }[] }>> {
    if (request.idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(request.idempotencyKey)) {
      return { ok: false, status: Status.IDEMPOTENCY_MISMATCH };
    }
    let outcome: Awaited<ReturnType<PartitionedBooking['book']>> = { ok: false, status: Status.SESSION_CHANGED };
    for (let i = 0; i < SESSION_CHANGED_RETRIES && !outcome.ok && outcome.status === Status.SESSION_CHANGED; i++) {
      outcome = await this.bookOnce(request);
    }
    return outcome;
  }

  private async bookOnce(
    request: BookingRequest,
  ): Promise<Outcome<{ appointmentId: string; availableAfter?: number; securityCodes: { beneficiaryId: string; code: string }[] }>> {
    const { accountId, sessionId, slot, dose, beneficiaryIds, idempotencyKey } = request;
    const partition = this.partitions.of(accountId);
    const appointmentId = this.partitions.idIn(partition, newAppointmentId);
    const { account, hash, appointment } = this.accountSide(accountId, appointmentId);
    const codeDigits = await this.engine.securityCodeDigits(accountId, beneficiaryIds.length);
    const { facts, session } = await this.sessionFacts(sessionId, slot);
    const now = this.engine.now();
    const holdKeys = [hash, appointment, account.idempotency(idempotencyKey ?? '-'), account.intents()];
    const holdArgs = [
      appointmentId,
      sessionId,
      accountId,
      slot,
      dose,
      now,
      this.engine.today(),
      bookingFingerprint(request),
      this.engine.idempotencyTtlMs,
      codeDigits,
      now + this.holdMs,
      facts,
      idempotencyKey ?? '',
      ...beneficiaryIds,
    ];
    let hold = await this.run('holdAppointment', holdKeys, holdArgs);
    // whoever meets an expired hold resolves it: a crashed booking of the same beneficiary and dose
    if (code(hold) === Status.ALREADY_BOOKED && (await this.resolveExpiredIntents(partition)) > 0) {
      hold = await this.run('holdAppointment', holdKeys, holdArgs);
    }
    if (code(hold) === Status.REPLAYED) return this.replayBooking(hold[1] as string, beneficiaryIds);
    if (code(hold) !== Status.OK) return failure(hold, 'beneficiary');
    this.step('book', 1);

    // what step 1 wrote, known without reading it back (a round trip less per booking)
    const held: HeldAppointment = {
      appointment: {
        appointment_id: appointmentId,
        account_id: accountId,
        session_id: sessionId,
        slot,
        dose,
        version: 1,
        created_at: now,
        beneficiaries: beneficiaryIds.map((id, i) => ({ id, status: 'booked' as const, security_code: codeDigits.slice(i * 4, i * 4 + 4) })),
        wrong_codes: 0,
      },
      pending: 'book',
      claim: appointmentId,
      idempotencyKey: idempotencyKey ?? '',
      sessionVersion: session!.version,
      date: session!.date,
      move: null,
      owed: new Map(),
    };
    const take = await this.takeSeats(appointmentId, held);
    this.step('book', 2);
    if (code(take) !== Status.OK) {
      await this.releaseHold(held);
      this.step('book', 3);
      return failure(take);
    }
    await this.confirm(held);
    this.step('book', 3);
    const securityCodes = beneficiaryIds.map((beneficiaryId, i) => ({ beneficiaryId, code: codeDigits.slice(i * 4, i * 4 + 4) }));
    return { ok: true, status: Status.OK, appointmentId, availableAfter: take[1] as number, securityCodes };
  }

  /**
   * The same request under the same idempotency key: the first answer. A booking still pending (its
   * process stopped between steps) is finished first, by the same idempotent steps; one that failed
   * meanwhile dropped its record, so the retry never gets here for it.
   */
  private async replayBooking(
    appointmentId: string,
    beneficiaryIds: string[],
  ): Promise<Outcome<{ appointmentId: string; securityCodes: { beneficiaryId: string; code: string }[] }>> {
    const held = await this.getAppointment(appointmentId);
    if (held?.pending === 'book') {
      const take = await this.takeSeats(appointmentId, held);
      if (code(take) !== Status.OK) {
        await this.releaseHold(held);
        return failure(take);
      }
      await this.confirm(held);
    }
    const appointmentKey = keys.partitionAppointment(this.partitions, appointmentId);
    const codes = beneficiaryIds.length ? await this.engine.redis.hmget(appointmentKey, ...beneficiaryIds.map(appointmentField.securityCode)) : [];
    const securityCodes = beneficiaryIds.map((beneficiaryId, i) => ({ beneficiaryId, code: codes[i] ?? '' }));
    return { ok: true, status: Status.REPLAYED, appointmentId, securityCodes };
  }

  /** Step 2 of a booking: the seats of a held appointment, under its claim, in the session's partition. */
  private takeSeats(appointmentId: string, held: HeldAppointment): Promise<unknown[]> {
    const { session_id: sessionId, slot, dose, beneficiaries } = held.appointment;
    const claim = keys.claim(this.partitions, sessionId, appointmentId);
    return this.run(
      'takeSeats',
      [keys.partitionSession(this.partitions, sessionId), claim, keys.partitionAvailability(this.partitions, this.partitions.of(sessionId)), claim],
      [appointmentId, sessionId, slot, dose, beneficiaries.length, held.sessionVersion, this.engine.now(), this.engine.availabilityCap, this.tombstoneMs, ''],
    );
  }

  /** Step 3 of a booking or reschedule whose seats are taken (of the move `held` read, not a later one). */
  private confirm(held: HeldAppointment): Promise<unknown[]> {
    const { appointment_id: appointmentId, account_id: accountId } = held.appointment;
    const { account, hash, appointment } = this.accountSide(accountId, appointmentId);
    return this.run('confirmAppointment', [hash, appointment, account.intents(), account.outbox()], [
      appointmentId,
      this.engine.now(),
      this.engine.now() + this.holdMs,
      held.move?.n ?? '',
    ]);
  }

  /** Step 3 of a booking or reschedule whose seats were refused or never taken (the move `held` read, not a later one). */
  private releaseHold(held: HeldAppointment): Promise<unknown[]> {
    const { appointment_id: appointmentId, account_id: accountId } = held.appointment;
    const { account, hash, appointment } = this.accountSide(accountId, appointmentId);
    return this.run('releaseHold', [hash, appointment, account.intents(), account.idempotency(held.idempotencyKey || '-')], [appointmentId, held.move?.n ?? '']);
  }

  // ---------------------------------------------------------------- cancel

  /** Cancel some beneficiaries of an appointment (all still booked when none are named), in three steps. */
  async cancel(accountId: string, appointmentId: string, beneficiaryIds: string[] = []): Promise<Outcome<{ cancelled: number }>> {
    if (this.partitions.of(appointmentId) !== this.partitions.of(accountId)) return { ok: false, status: Status.APPOINTMENT_NOT_FOUND };
    const { account, hash, appointment } = this.accountSide(accountId, appointmentId);
    const begin = await this.withExpiredResolved(this.partitions.of(accountId), () =>
      this.run('beginCancel', [hash, appointment, account.intents(), account.outbox()], [appointmentId, accountId, this.engine.now(), this.engine.now() + this.holdMs, ...beneficiaryIds]),
    );
    if (code(begin) !== Status.OK) return failure(begin, 'beneficiary');
    this.step('cancel', 1);
    const [, cancelled, n, sessionId, claim] = begin as [Status, number, number, string, string];
    await this.giveSeatsBack(appointmentId, n, { session_id: sessionId, claim, count: cancelled }, 'cancel');
    return { ok: true, status: Status.OK, cancelled };
  }

  /** Steps 2–3 of a cancel (4–5 of a reschedule): the claim gives the seats back, then the intent goes. */
  private async giveSeatsBack(
    appointmentId: string,
    n: number,
    owed: { session_id: string; claim: string; count: number },
    operation: PartitionedOperation | null,
  ): Promise<void> {
    const sessionPartition = this.partitions.of(owed.session_id);
    await this.run(
      'releaseSeats',
      [keys.partitionSession(this.partitions, owed.session_id), keys.claim(this.partitions, owed.session_id, owed.claim), keys.partitionAvailability(this.partitions, sessionPartition)],
      [n, owed.count, owed.session_id, this.engine.availabilityCap],
    );
    if (operation) this.step(operation, operation === 'cancel' ? 2 : 4);
    await this.run('clearIntent', [keys.partitionAppointment(this.partitions, appointmentId), keys.intents(this.partitions, this.partitions.of(appointmentId))], [appointmentId, n]);
    if (operation) this.step(operation, operation === 'cancel' ? 3 : 5);
  }

  /**
   * A change of an appointment refused as STALE_APPOINTMENT meets another change of it in flight;
   * when that one's process stopped, its intent has expired: resolve it and try once more.
   */
  private async withExpiredResolved(partition: number, attempt: () => Promise<unknown[]>): Promise<unknown[]> {
    const reply = await attempt();
    if (code(reply) === Status.STALE_APPOINTMENT && (await this.resolveExpiredIntents(partition)) > 0) return attempt();
    return reply;
  }

  // ---------------------------------------------------------------- the vaccinator's action

  /**
   * Record a dose given to one beneficiary of an appointment and issue its certificate: one script
   * in the account's partition (recordVaccination-5.lua), where the appointment, the beneficiary and
   * the certificate (its id drawn there) live. Read again when the appointment changed in between
   * (STALE_APPOINTMENT), as the single-slot path does.
   */
  async markVaccinated(vaccination: Vaccination): Promise<Outcome<{ dose: number; vaccine: string; date: number; certificateId: string }>> {
    let outcome: Outcome<{ dose: number; vaccine: string; date: number; certificateId: string }> = { ok: false, status: Status.STALE_APPOINTMENT };
    for (let i = 0; i < STALE_RETRIES && !outcome.ok && outcome.status === Status.STALE_APPOINTMENT; i++) {
      outcome = await this.vaccinateOnce(vaccination);
    }
    return outcome;
  }

  private async vaccinateOnce(vaccination: Vaccination): Promise<Outcome<{ dose: number; vaccine: string; date: number; certificateId: string }>> {
    const { appointmentId, beneficiaryId } = vaccination;
    const held = await this.getAppointment(appointmentId);
    if (!held) return { ok: false, status: Status.APPOINTMENT_NOT_FOUND };
    const { account_id: accountId, session_id: sessionId, dose } = held.appointment;
    const account = keys.forAccount(this.partitions, accountId);
    // a step still pending whose process stopped: resolve it, so the vaccinator does not wait for the sweeper
    if (held.pending) await this.resolveExpiredIntents(account.partition);
    const [[centerText, dateText, vaccine], rawBen] = await Promise.all([
      this.engine.redis.hmget(keys.partitionSession(this.partitions, sessionId), 'center_id', 'date', 'vaccine'),
      this.engine.redis.hget(account.bookingAccount(), beneficiaryField(beneficiaryId)),
    ]);
    const ben = held.appointment.beneficiaries.find((b) => b.id === beneficiaryId);
    const certificateId = this.partitions.idIn(account.partition, newCertificateId);
    const prepared = held.pending
      ? null
      : await this.engine.prepareCertificate(certificateId, vaccination, {
          accountId,
          rawBen,
          centerId: Number(centerText),
          date: Number(dateText),
          vaccine: vaccine ?? null,
          dose,
          status: ben?.status ?? null,
          storedCode: ben?.security_code ?? null,
        });
    const reply = await this.run(
      'recordVaccination',
      [
        account.bookingAccount(),
        keys.partitionAppointment(this.partitions, appointmentId),
        account.outbox(),
        keys.partitionCertificate(this.partitions, certificateId),
        account.beneficiaryCertificates(beneficiaryId),
      ],
      [
        appointmentId,
        beneficiaryId,
        sessionId,
        this.engine.now(),
        vaccination.vaccinatorId,
        vaccination.securityCode,
        this.engine.securityCodeMaxWrong,
        vaccination.centerIds.join(','),
        prepared?.beneficiaryVersion ?? -1,
        prepared?.signed.certificateId ?? '',
        prepared?.signed.jws ?? '',
        prepared?.signed.kid ?? '',
        prepared?.signed.rid ?? '',
        vaccine ?? '',
      ],
    );
    if (code(reply) !== Status.OK) return failure(reply, 'beneficiary');
    return { ok: true, status: Status.OK, dose: reply[1] as number, vaccine: reply[2] as string, date: reply[3] as number, certificateId: reply[4] as string };
  }

  // ---------------------------------------------------------------- reschedule

  /** Move an appointment to another session and slot (perhaps in another partition), in five steps. */
  async reschedule(accountId: string, appointmentId: string, newSessionId: string, newSlot: string): Promise<Outcome<{ availableAfter: number }>> {
    let outcome: Outcome<{ availableAfter: number }> = { ok: false, status: Status.SESSION_CHANGED };
    for (let i = 0; i < SESSION_CHANGED_RETRIES && !outcome.ok && outcome.status === Status.SESSION_CHANGED; i++) {
      outcome = await this.rescheduleOnce(accountId, appointmentId, newSessionId, newSlot);
    }
    return outcome;
  }

  private async rescheduleOnce(accountId: string, appointmentId: string, newSessionId: string, newSlot: string): Promise<Outcome<{ availableAfter: number }>> {
    if (this.partitions.of(appointmentId) !== this.partitions.of(accountId)) return { ok: false, status: Status.APPOINTMENT_NOT_FOUND };
    const { account, hash, appointment } = this.accountSide(accountId, appointmentId);
    const { facts } = await this.sessionFacts(newSessionId, newSlot);
    const begin = await this.withExpiredResolved(this.partitions.of(accountId), () =>
      this.run('beginMove', [hash, appointment, account.intents()], [
        appointmentId,
        accountId,
        newSessionId,
        newSlot,
        this.engine.now(),
        this.engine.today(),
        this.engine.now() + this.holdMs,
        facts,
      ]),
    );
    if (code(begin) !== Status.OK) return failure(begin, 'beneficiary');
    this.step('reschedule', 1);

    const held = (await this.getAppointment(appointmentId))!;
    const take = await this.takeMovedSeats(held);
    this.step('reschedule', 2);
    if (code(take) !== Status.OK) {
      await this.releaseHold(held);
      this.step('reschedule', 3);
      return failure(take);
    }
    await this.finishMove(held, 'reschedule');
    return { ok: true, status: Status.OK, availableAfter: take[1] as number };
  }

  /** Step 2 of a reschedule: seats in the new session under `<id>:<n>`, moved within it when it is the same session. */
  private takeMovedSeats(held: HeldAppointment): Promise<unknown[]> {
    const move = held.move!;
    const { session_id: fromSessionId, dose } = held.appointment;
    const claim = keys.claim(this.partitions, move.session_id, move.claim);
    const sameSession = fromSessionId === move.session_id;
    return this.run(
      'takeSeats',
      [
        keys.partitionSession(this.partitions, move.session_id),
        claim,
        keys.partitionAvailability(this.partitions, this.partitions.of(move.session_id)),
        sameSession ? keys.claim(this.partitions, fromSessionId, held.claim) : claim,
      ],
      [move.claim, move.session_id, move.slot, dose, move.count, move.version, this.engine.now(), this.engine.availabilityCap, this.tombstoneMs, sameSession ? move.n : ''],
    );
  }

  /** Steps 3–5 of a reschedule whose new seats are taken: confirm, give the old seats back, clear. */
  private async finishMove(held: HeldAppointment, operation: PartitionedOperation | null): Promise<void> {
    const confirmed = await this.confirm(held);
    if (operation) this.step(operation, 3);
    const appointmentId = held.appointment.appointment_id;
    if (confirmed[1] === 'move') {
      const [, , n, sessionId, claim, count] = confirmed as [Status, string, number, string, string, number];
      await this.giveSeatsBack(appointmentId, n, { session_id: sessionId, claim, count }, operation);
      return;
    }
    // confirmed before (a replay): the seats may still be owed
    await this.payOwedSeats(appointmentId, null);
  }

  /** Every release a change of this appointment still owes (after a stop between steps 3 and 5). */
  private async payOwedSeats(appointmentId: string, operation: PartitionedOperation | null): Promise<void> {
    const held = await this.getAppointment(appointmentId);
    for (const [n, owed] of held?.owed ?? []) await this.giveSeatsBack(appointmentId, n, owed, operation);
  }

  // ---------------------------------------------------------------- recovery

  /**
   * Resolve the intents of one partition whose deadline has passed (never one before it: its
   * operation may still be running). For a booking or a reschedule, decide in the session's
   * partition (the claim's state, or the `aborted` tombstone), then finish: confirm when the seats
   * were taken, release the hold otherwise. For seats owed back, give them back. Returns how many
   * intents were resolved.
   */
  async resolveExpiredIntents(partition: number): Promise<number> {
    const intentsKey = keys.intents(this.partitions, partition);
    const expired = await this.engine.redis.zrangebyscore(intentsKey, '-inf', this.engine.now(), 'LIMIT', 0, this.sweepBatch);
    for (const intent of expired) await this.resolveIntent(intentsKey, intent);
    return expired.length;
  }

  /**
   * The sweeper's pass: every partition's expired intents, a batch at a time until none is left
   * (the worker is to run it every few seconds once the gateway books through this path). Returns
   * how many were resolved.
   */
  async resolveAllExpiredIntents(): Promise<number> {
    let resolved = 0;
    for (const partition of this.partitions.all()) {
      for (let batch = this.sweepBatch; batch === this.sweepBatch; resolved += batch) batch = await this.resolveExpiredIntents(partition);
    }
    return resolved;
  }

  private async resolveIntent(intentsKey: string, intent: string): Promise<void> {
    const [kind, appointmentId, n] = intent.split(':') as [string, string, string | undefined];
    const held = await this.getAppointment(appointmentId);
    if (kind === 'release') {
      const owed = held?.owed.get(Number(n));
      if (owed) await this.giveSeatsBack(appointmentId, Number(n), owed, null);
      else await this.engine.redis.zrem(intentsKey, intent); // cleared in between
      return;
    }
    const pendingHere = kind === 'book' ? held?.pending === 'book' : held?.pending === 'move' && held.move?.n === Number(n);
    if (!held || !pendingHere) {
      // finished in between by its own process: the intent went with it, unless a retried step re-added nothing
      await this.engine.redis.zrem(intentsKey, intent);
      return;
    }
    const [sessionId, bookingId] = kind === 'book' ? [held.appointment.session_id, appointmentId] : [held.move!.session_id, held.move!.claim];
    const decided = await this.run('decide', [keys.claim(this.partitions, sessionId, bookingId)], [this.tombstoneMs]);
    if (decided[1] !== 'taken') {
      await this.releaseHold(held);
      return;
    }
    if (kind === 'book') await this.confirm(held);
    else await this.finishMove(held, null);
  }
}
