/**
 * The per-user search quota and the per-address public limit, with what a gateway thread already
 * knows answered from memory (rate-limiter-flexible's in-memory block, per thread):
 *
 * - once the quota script says an account is blocked until T, the thread answers 403 itself until T;
 *   once the public limit says an address must wait until T, 429 until T. A bot hammering away costs
 *   no script per request. Blocks only end by their time (nothing lifts one early), so this never
 *   refuses what Redis would allow; entries are per thread and bounded (the oldest go first, and a
 *   forgotten block only costs one more script call);
 * - a token whose login was revoked (revocations.ts) is refused without the script.
 *
 * The order is the script's: a blocked account is answered as blocked before its token is looked at.
 */
import type { BookingEngine, Outcome, QuotaAnswer } from '../engine/engine.js';
import { Status } from '../engine/status.js';
import type { Citizen } from './auth.js';
import type { GatewayMetrics } from './metrics.js';
import type { RevocationBook } from './revocations.js';

/** Keys (accounts, addresses) refused until an instant of the engine's clock, at most `capacity` of them. */
export class BlockedUntil {
  private readonly until = new Map<string, number>();

  constructor(private readonly capacity = 100_000) {}

  /** ms left of the block of `key` at `now`, or 0. */
  remainingMs(key: string, now: number): number {
    const until = this.until.get(key);
    if (until === undefined) return 0;
    if (until > now) return until - now;
    this.until.delete(key);
    return 0;
  }

  block(key: string, until: number): void {
    this.until.delete(key);
    if (this.until.size >= this.capacity) this.until.delete(this.until.keys().next().value!);
    this.until.set(key, until);
  }
}

export class QuotaGate {
  private readonly blockedAccounts: BlockedUntil;
  private readonly limitedAddresses: BlockedUntil;

  constructor(
    private readonly engine: BookingEngine,
    private readonly revocations: RevocationBook,
    private readonly metrics: GatewayMetrics,
    /** accounts and addresses each remembered at most. Default 100000 */
    capacity = 100_000,
  ) {
    this.blockedAccounts = new BlockedUntil(capacity);
    this.limitedAddresses = new BlockedUntil(capacity);
  }

  /** Count one protected search of `citizen` (engine.consumeSearchQuota), or refuse it from memory. */
  async consumeSearchQuota(citizen: Citizen): Promise<Outcome<QuotaAnswer>> {
    const now = this.engine.now();
    const blockedMs = this.blockedAccounts.remainingMs(citizen.accountId, now);
    if (blockedMs > 0) {
      this.metrics.refusedFromMemory('account_blocked');
      return { ok: false, status: Status.ACCOUNT_BLOCKED, retryAfterMs: blockedMs };
    }
    if (this.revocations.loginLive(citizen.sid, citizen.issuedAt) === false) {
      this.metrics.refusedFromMemory('login_revoked');
      return { ok: false, status: Status.UNAUTHENTICATED };
    }
    const outcome = await this.engine.consumeSearchQuota(citizen.accountId, citizen.sid);
    if (outcome.ok) return outcome;
    if (outcome.status === Status.ACCOUNT_BLOCKED && outcome.retryAfterMs) this.blockedAccounts.block(citizen.accountId, now + outcome.retryAfterMs);
    // this thread knows at once; the others within the revocation stream's delay
    if (outcome.status === Status.QUOTA_LOGOUT) this.revocations.revokeHere(citizen.sid);
    return outcome;
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
