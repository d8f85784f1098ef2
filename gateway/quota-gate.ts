/**
 * The per-user search quota and the per-address public limit, with what a gateway thread already
 * knows answered from memory (rate-limiter-flexible's in-memory block):
 *
 * - once the quota script blocks an account until T, every thread answers its searches 403 until T
 *   (the block comes with the revocation stream, revocations.ts); once the public limit says an
 *   address must wait until T, the thread that heard it answers 429 until T. A bot hammering away
 *   costs no script per request. Blocks only end by their time (nothing lifts one early), so this
 *   never refuses what Redis would allow; memory is bounded, and a forgotten block costs one script;
 * - a token whose login was revoked is refused without the script.
 *
 * The order is the script's: a blocked account is answered as blocked before its token is looked at.
 */
import type { BookingEngine, Outcome, QuotaAnswer } from '../engine/engine.js';
import { Status } from '../engine/status.js';
import type { Citizen } from './auth.js';
import { BlockedUntil } from './blocked-until.js';
import type { GatewayMetrics } from './metrics.js';
import type { RevocationBook } from './revocations.js';

export class QuotaGate {
  private readonly limitedAddresses: BlockedUntil;

  constructor(
    private readonly engine: BookingEngine,
    private readonly revocations: RevocationBook,
    private readonly metrics: GatewayMetrics,
    /** addresses remembered at most. Default 100000 */
    capacity = 100_000,
  ) {
    this.limitedAddresses = new BlockedUntil(capacity);
  }

  /** Count one protected search of `citizen` (engine.consumeSearchQuota), or refuse it from memory. */
  async consumeSearchQuota(citizen: Citizen): Promise<Outcome<QuotaAnswer>> {
    const now = this.engine.now();
    const blockedMs = this.revocations.accountBlockedMs(citizen.accountId);
    if (blockedMs > 0) {
      this.metrics.refusedFromMemory('account_blocked');
      return { ok: false, status: Status.ACCOUNT_BLOCKED, retryAfterMs: blockedMs };
    }
    if (this.revocations.loginLive(citizen.accountId, citizen.sid, citizen.issuedAt) === false) {
      this.metrics.refusedFromMemory('login_revoked');
      return { ok: false, status: Status.UNAUTHENTICATED };
    }
    const outcome = await this.engine.consumeSearchQuota(citizen.accountId, citizen.sid);
    if (outcome.ok) return outcome;
    // this thread knows at once; the others within the revocation stream's delay
    if (outcome.status === Status.ACCOUNT_BLOCKED && outcome.retryAfterMs) {
      this.revocations.blockHere(citizen.accountId, now + outcome.retryAfterMs);
      // the block also ended this login (consumeSearchQuota): bookings on this thread stop at once too
      this.revocations.revokeHere(citizen.sid);
    }
    if (outcome.status === Status.QUOTA_LOGOUT) this.revocations.revokeHere(citizen.sid);
    return outcome;
  }

  /** ms left of the address's public limit as far as this thread knows, or 0. */
  addressLimitedMs(address: string): number {
    return this.limitedAddresses.remainingMs(address, this.engine.now());
  }

  /** Count one public API call from `address` (engine.consumePublicQuota), or refuse it from memory. */
  async consumePublicQuota(address: string): Promise<Outcome<QuotaAnswer>> {
    const now = this.engine.now();
    const limitedMs = this.limitedAddresses.remainingMs(address, now);
    if (limitedMs > 0) {
      this.metrics.refusedFromMemory('address_limited');
      return { ok: false, status: Status.RATE_LIMITED, retryAfterMs: limitedMs };
    }
    const outcome = await this.engine.consumePublicQuota(address);
    if (!outcome.ok && outcome.status === Status.RATE_LIMITED && outcome.retryAfterMs) this.limitedAddresses.block(address, now + outcome.retryAfterMs);
    return outcome;
  }
}
