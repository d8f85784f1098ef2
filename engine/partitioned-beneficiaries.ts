/**
 * Registering and deleting beneficiaries in their account's partition p(A), where the partitioned
 * booking reads them (engine/partitioned-booking.md, "Registering a beneficiary"). A photo ID belongs
 * to one beneficiary country-wide; its entry lives in the photo ID's own partition, so registration
 * crosses two partitions, as a booking does, in steps that are each one script on one slot:
 *
 *   1 reserve   p(photo ID)  reservePhotoId        the entry names this registration, until a deadline
 *   2 register  p(A)         registerBeneficiary   the beneficiary, once per registration id
 *   3 settle    p(photo ID)  settlePhotoId         confirm (the entry names the beneficiary), or release
 *
 * Whoever meets a reservation past its deadline resolves it (abortRegistration in p(A): the
 * beneficiary it made, or a tombstone that refuses its late step 2), and whoever meets an entry
 * naming a deleted beneficiary frees it: there is no sweeper to wait for, because the only one
 * harmed by a stale entry is the next registration of the same photo ID, which resolves it.
 *
 * Built and tested beside the single-slot registration (engine.addBeneficiary on `{bk}`), not yet
 * the path the gateway uses.
 */
import { randomUUID } from 'node:crypto';
import type { BookingEngine, NewBeneficiary, Outcome } from './engine.js';
import { code, failure } from './engine.js';
import { keys } from './keys.js';
import { MAX_PARTITION_COUNT } from './partitions.js';
import { beneficiaryField, decodeAccountBeneficiaries, type StoredBeneficiary } from './records.js';
import { Status } from './status.js';
import { StoppedAfterStep } from './partitioned-booking.js';

export interface PartitionedBeneficiariesOptions {
  /** how long a registration may hold a photo ID before anyone may resolve it, ms. Default 30 s */
  holdMs?: number;
}

/** A registration met a tombstone this many times in a row: something is badly wrong (a clock far off). */
const ABORTED_RETRIES = 3;

export class PartitionedBeneficiaries {
  private readonly holdMs: number;
  /**
   * Test hook: the next register or remove stops (throws StoppedAfterStep) after this step; cleared
   * as it fires. register: 1 reserved, 2 registered; remove: 1 removed from the account.
   */
  stopAfter: { operation: 'register' | 'remove'; step: number } | null = null;

  constructor(
    readonly engine: BookingEngine,
    options: PartitionedBeneficiariesOptions = {},
  ) {
    this.holdMs = options.holdMs ?? 30_000;
  }

  private get partitions() {
    return this.engine.partitions;
  }

  private step(operation: 'register' | 'remove', step: number): void {
    if (this.stopAfter?.operation === operation && this.stopAfter.step === step) {
      this.stopAfter = null;
      throw new StoppedAfterStep(operation, step);
    }
  }

  private accountHash(accountId: string): string {
    return keys.forAccount(this.partitions, accountId).bookingAccount();
  }

  /** Register a beneficiary under an account (created with its first), as engine.addBeneficiary does. */
  async register(accountId: string, input: NewBeneficiary): Promise<Outcome<{ beneficiaryId: string }>> {
    const beneficiary = this.engine.beneficiaryToStore(input);
    if (!beneficiary) return { ok: false, status: Status.INVALID_PHOTO_ID };
    for (let attempt = 0; attempt < ABORTED_RETRIES; attempt++) {
      const outcome = await this.registerOnce(accountId, beneficiary.photoIdHash, beneficiary.stored);
      // aborted: its reservation outlived its deadline and was resolved; a new registration starts
      if (outcome.ok || outcome.status !== Status.BOOKING_ABORTED) return outcome;
    }
    throw new Error(`registering a beneficiary for ${accountId}: aborted ${ABORTED_RETRIES} times in a row (is the hold far shorter than a step?)`);
  }

  private async registerOnce(accountId: string, photoIdHash: string, stored: Record<string, string | number>): Promise<Outcome<{ beneficiaryId: string }>> {
    const registrationId = randomUUID();
    const photoId = keys.partitionPhotoId(this.partitions, photoIdHash);
    if (!(await this.reserve(photoId, accountId, registrationId))) return { ok: false, status: Status.DUPLICATE_PHOTO_ID };
    this.step('register', 1);
    const account = keys.forAccount(this.partitions, accountId);
    const reply = await this.engine.change(
      'registerBeneficiary',
      [account.bookingAccount(), keys.partitionBeneficiarySequence(this.partitions, account.partition), account.outbox()],
      [accountId, registrationId, this.engine.now(), this.engine.country.rules.beneficiaries_per_account, JSON.stringify(stored), this.engine.firstReference, MAX_PARTITION_COUNT, account.partition],
    );
    this.step('register', 2);
    const status = code(reply);
    if (status === Status.OK || status === Status.REPLAYED) {
      const beneficiaryId = String(reply[1]);
      await this.engine.change('settlePhotoId', [photoId], ['confirm', registrationId, beneficiaryId]);
      return { ok: true, status: Status.OK, beneficiaryId };
    }
    await this.engine.change('settlePhotoId', [photoId], ['release', registrationId, '']);
    return failure(reply);
  }

  /**
   * Reserve the photo ID for a registration: true when it holds it, false when a beneficiary or a
   * registration still running does. What no longer holds it (a registration past its deadline, a
   * deleted beneficiary) is resolved first.
   */
  private async reserve(photoId: string, accountId: string, registrationId: string): Promise<boolean> {
    // each round that does not decide resolves what held the entry, so the next one finds it changed
    for (let round = 0; round < 3; round++) {
      const reply = (await this.engine.change('reservePhotoId', [photoId], [accountId, registrationId, this.engine.now() + this.holdMs])) as [Status, string, ...unknown[]];
      const state = reply[1];
      if (state === 'reserved') return true;
      if (state === 'taken') {
        const [holder, beneficiaryId] = [String(reply[2]), String(reply[3])];
        // ids are never used again: a beneficiary gone from its account is gone for good
        if (await this.engine.redis.hexists(this.accountHash(holder), beneficiaryField(beneficiaryId))) return false;
        await this.engine.change('settlePhotoId', [photoId], ['free', holder, beneficiaryId]);
        continue;
      }
      const [holder, otherRegistration, deadline] = [String(reply[2]), String(reply[3]), Number(reply[4])];
      if (deadline > this.engine.now()) return false; // being registered right now
      await this.resolveRegistration(photoId, holder, otherRegistration);
    }
    throw new Error(`photo ID entry ${photoId} changed under three reservations in a row`);
  }

  /** A registration past its deadline: what it made in its account decides the entry. */
  private async resolveRegistration(photoId: string, accountId: string, registrationId: string): Promise<void> {
    const [, made] = (await this.engine.change('abortRegistration', [this.accountHash(accountId)], [registrationId])) as [Status, string];
    if (made === 'aborted') await this.engine.change('settlePhotoId', [photoId], ['release', registrationId, '']);
    else await this.engine.change('settlePhotoId', [photoId], ['confirm', registrationId, made]);
  }

  /** Delete a beneficiary of the account (not one with a recorded dose or a live appointment), freeing the photo ID. */
  async remove(accountId: string, beneficiaryId: string): Promise<Outcome> {
    const account = keys.forAccount(this.partitions, accountId);
    const reply = await this.engine.change('removeBeneficiary', [account.bookingAccount(), account.outbox()], [accountId, beneficiaryId, this.engine.now(), this.engine.today()]);
    if (code(reply) !== Status.OK) return failure(reply);
    this.step('remove', 1);
    await this.engine.change('settlePhotoId', [keys.partitionPhotoId(this.partitions, String(reply[1]))], ['free', accountId, beneficiaryId]);
    return { ok: true, status: Status.OK };
  }

  /** The account's beneficiaries in its partition, by id. */
  async list(accountId: string): Promise<StoredBeneficiary[]> {
    return decodeAccountBeneficiaries(accountId, await this.engine.redis.hgetall(this.accountHash(accountId)));
  }

  /** Who holds a photo ID (by its keyed hash), as its entry says: for tests and tools. */
  async photoIdHolder(photoIdHash: string): Promise<Record<string, string>> {
    return this.engine.redis.hgetall(keys.partitionPhotoId(this.partitions, photoIdHash));
  }
}
