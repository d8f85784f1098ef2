/**
 * Calls that carry a partner's API key (`x-api-key`, as CoWIN's partners sent it): which partner,
 * whether its scopes cover the endpoint, and its limits per minute and per day, with the
 * `RateLimit-*` headers of the IETF draft (draft-ietf-httpapi-ratelimit-headers) on every answer.
 *
 * A gateway thread keeps the keys it verified in memory for a short while (KEY_MEMORY_MS), so a
 * partner's call costs one script (its limits) rather than a registry read too. A revoked key, or a
 * changed or suspended partner, is pushed to every thread on the partner stream (the revoking
 * script appends to it; each thread follows it like the login revocations, stream-follower.ts) and
 * forgotten there within the stream's delay; the thread that revoked it at once. Memory answers
 * only while the thread is current on the stream; otherwise every call reads the registry.
 *
 * One race is closed by a generation count: a registry read that started before a revocation
 * reached this thread is not kept, since it may have read the key before it was revoked.
 *
 * A partner over a limit is refused from memory until the window the script named ends (a partner
 * hammering away costs no script per call); a change to the partner (new limits) lifts that at once.
 * A refused key counts against its address's public limit, so spraying made-up keys is limited like
 * anonymous calls.
 */
import type { Clock } from '../engine/clock.js';
import { keys } from '../engine/keys.js';
import { MalformedRecord } from '../engine/records.js';
import {
  apiKeyHash,
  DAY_MS,
  decodePartnerStreamEntry,
  MINUTE_MS,
  parseApiKey,
  sameKeyHash,
  type PartnerQuotaAnswer,
  type PartnerScope,
  type Partners,
  type VerifiedPartner,
} from '../engine/partners.js';
import { apiErrorFor, Status } from '../engine/status.js';
import { apiError, type HttpRequest, type HttpResponse } from './http.js';
import { outcomeResponse } from './auth.js';
import type { GatewayMetrics } from './metrics.js';
import type { QuotaGate } from './quota-gate.js';
import { DEFAULT_FOLLOW_OPTIONS, StreamFollower, type StreamConnection, type StreamEntry, type StreamOwner } from './stream-follower.js';

/** How long a thread trusts a key it verified, ms: the bound on a revocation whose stream entry was lost. */
export const KEY_MEMORY_MS = 10_000;
/** Keys remembered at most per thread (partners hold a few keys each). */
const KEY_MEMORY_CAPACITY = 10_000;

interface RememberedKey {
  hash: string;
  partner: VerifiedPartner;
  /** Date.now() after which the registry is read again */
  until: number;
}

/** A call a partner may make: who it is, and the headers its answer carries. */
export interface PartnerAdmission {
  partner: VerifiedPartner;
  headers: Record<string, string>;
}

/** The `RateLimit-*` headers for a count: the window closer to its limit speaks (the draft's rule for several policies). */
export function rateLimitHeaders(answer: PartnerQuotaAnswer): Record<string, string> {
  const minuteLeft = Math.max(0, answer.minute.limit - answer.minute.used);
  const dayLeft = Math.max(0, answer.day.limit - answer.day.used);
  // when both are used up, the one that ends later decides when a call is allowed again
  const dayDecides = dayLeft < minuteLeft || (dayLeft === 0 && minuteLeft === 0 && answer.day.resetMs > answer.minute.resetMs);
  const window = dayDecides ? answer.day : answer.minute;
  const headers: Record<string, string> = {
    'ratelimit-limit': String(window.limit),
    'ratelimit-remaining': String(dayDecides ? dayLeft : minuteLeft),
    'ratelimit-reset': String(Math.ceil(window.resetMs / 1000)),
    'ratelimit-policy': `${answer.minute.limit};w=${MINUTE_MS / 1000}, ${answer.day.limit};w=${DAY_MS / 1000}`,
  };
  if (!answer.allowed) headers['retry-after'] = headers['ratelimit-reset']!;
  return headers;
}

export class PartnerGate implements StreamOwner {
  private readonly remembered = new Map<string, RememberedKey>();
  /** partner id → the refusal to repeat until its window ends (engine clock) */
  private readonly limited = new Map<string, { at: number; until: number; answer: PartnerQuotaAnswer }>();
  /** moves on every entry applied and every reload: a registry read spanning a move is not kept */
  private generation = 0;
  private lastId = '0-0';
  private readonly follower: StreamFollower;

  constructor(
    private readonly partners: Partners,
    /** a connection of its own: the follower's XREAD BLOCK holds it (and disconnects it on stop) */
    private readonly connection: StreamConnection,
    private readonly clock: Clock,
    private readonly metrics: GatewayMetrics,
    /** the per-address public limit, which calls with unknown keys count against */
    private readonly quotas: QuotaGate,
    blockMs = DEFAULT_FOLLOW_OPTIONS.blockMs,
  ) {
    this.follower = new StreamFollower(connection, [{ key: keys.partnerRevocations(), owner: this }], { ...DEFAULT_FOLLOW_OPTIONS, blockMs, observeLag: metrics.lagObserver('partners') });
  }

  /** Follow the stream from its end: memory starts empty, so nothing before matters. */
  async start(): Promise<void> {
    const last = await this.connection.xrevrange(keys.partnerRevocations(), '+', '-', 'COUNT', 1);
    this.lastId = last[0]?.[0] ?? '0-0';
    this.follower.start();
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }

  position(): string {
    return this.lastId;
  }

  async apply(entries: StreamEntry[]): Promise<void> {
    this.lastId = entries[entries.length - 1]![0];
    this.generation += 1;
    for (const [id, fields] of entries) {
      try {
        const entry = decodePartnerStreamEntry(id, fields);
        if (entry.keyId !== undefined) this.forgetKey(entry.partnerId, entry.keyId);
        else this.forgetPartner(entry.partnerId);
      } catch (err) {
        if (!(err instanceof MalformedRecord)) throw err;
        // an entry no script wrote: forgetting everything is always safe
        console.error(`partner stream: ${err.message}; forgetting every verified key`);
        this.forgetAll();
      }
    }
  }

  /** Redis was away or the stream was trimmed unseen: entries may be lost, so nothing remembered stays. */
  async reconnected(): Promise<void> {
    this.forgetAll();
  }

  async trimmedPast(firstId: string): Promise<void> {
    this.forgetAll();
    this.lastId = firstId;
  }

  /** A revocation this thread made: forgotten here at once, the stream tells the others. */
  forgetKey(partnerId: string, keyId: string): void {
    this.remembered.delete(`${partnerId}.${keyId}`);
  }

  /** The partner changed (scopes, limits, suspended): forget its keys and any refusal held for it. */
  forgetPartner(partnerId: string): void {
    for (const [name, key] of this.remembered) if (key.partner.partnerId === partnerId) this.remembered.delete(name);
    this.limited.delete(partnerId);
  }

  private forgetAll(): void {
    this.generation += 1;
    this.remembered.clear();
    this.limited.clear();
  }

  /**
   * Admit a call carrying `x-api-key` to an endpoint that needs one of `scopes`: the partner and
   * the headers for its answer, or the refusal (401 unknown or revoked key, 403 outside its scopes,
   * 429 over a limit, each with the RateLimit headers where a count was made).
   */
  async admit(request: HttpRequest, scopes: readonly PartnerScope[], address: string): Promise<PartnerAdmission | HttpResponse> {
    const apiKey = request.headers['x-api-key'];
    // keys this thread does not know cost a registry read each: an address spraying made-up keys is
    // held to the public per-address limit, and once over it refused from memory (a known key is not)
    const limitedMs = this.remembers(apiKey) ? 0 : this.quotas.addressLimitedMs(address);
    if (limitedMs > 0) return outcomeResponse({ ok: false, status: Status.RATE_LIMITED, retryAfterMs: limitedMs });
    const partner = await this.verified(apiKey);
    if (!partner) {
      this.metrics.partnerCall('unknown', 'key_refused');
      const counted = await this.quotas.consumePublicQuota(address);
      if (!counted.ok) return outcomeResponse(counted);
      return apiError(apiErrorFor(Status.PARTNER_KEY_REFUSED));
    }
    if (!scopes.some((scope) => partner.scopes.has(scope))) {
      this.metrics.partnerCall(partner.partnerId, 'scope_refused');
      return apiError(apiErrorFor(Status.PARTNER_SCOPE_REFUSED));
    }
    const now = this.clock();
    const held = this.limited.get(partner.partnerId);
    if (held && held.until > now) {
      this.metrics.partnerCall(partner.partnerId, 'rate_limited');
      const passed = now - held.at;
      const later = (window: PartnerQuotaAnswer['minute']) => ({ ...window, resetMs: Math.max(0, window.resetMs - passed) });
      return apiError(apiErrorFor(Status.PARTNER_RATE_LIMITED), rateLimitHeaders({ ...held.answer, minute: later(held.answer.minute), day: later(held.answer.day) }));
    }
    const answer = await this.partners.consumeQuota(partner.partnerId, partner.limits);
    const headers = rateLimitHeaders(answer);
    if (!answer.allowed) {
      this.metrics.partnerCall(partner.partnerId, 'rate_limited');
      this.limited.set(partner.partnerId, { at: now, until: now + this.holdMs(answer), answer });
      return apiError(apiErrorFor(Status.PARTNER_RATE_LIMITED), headers);
    }
    this.limited.delete(partner.partnerId);
    this.metrics.partnerCall(partner.partnerId, 'allowed');
    return { partner, headers };
  }

  /** How long a refusal holds: until the used-up window that ends last. */
  private holdMs(answer: PartnerQuotaAnswer): number {
    const minuteFull = answer.minute.used >= answer.minute.limit;
    const dayFull = answer.day.used >= answer.day.limit;
    return Math.max(minuteFull ? answer.minute.resetMs : 0, dayFull ? answer.day.resetMs : 0);
  }

  /** Whether this thread holds a verified key with this text, still good. */
  private remembers(apiKey: string): boolean {
    const ids = parseApiKey(apiKey);
    const known = ids && this.remembered.get(`${ids.partnerId}.${ids.keyId}`);
    return Boolean(known && known.until > Date.now() && sameKeyHash(known.hash, apiKeyHash(apiKey)));
  }

  /** The partner an API key speaks for: from memory while the thread is current on the stream, else the registry. */
  private async verified(apiKey: string): Promise<VerifiedPartner | null> {
    const ids = parseApiKey(apiKey);
    if (!ids) return null;
    const name = `${ids.partnerId}.${ids.keyId}`;
    const hash = apiKeyHash(apiKey);
    const known = this.remembered.get(name);
    if (known && known.until > Date.now() && this.follower.current() && sameKeyHash(known.hash, hash)) {
      this.metrics.partnerKeyChecked('memory');
      return known.partner;
    }
    this.metrics.partnerKeyChecked('redis');
    const generation = this.generation;
    const partner = await this.partners.verifyKey(apiKey);
    if (partner && generation === this.generation) {
      if (this.remembered.size >= KEY_MEMORY_CAPACITY) this.remembered.delete(this.remembered.keys().next().value!);
      this.remembered.delete(name);
      this.remembered.set(name, { hash, partner, until: Date.now() + KEY_MEMORY_MS });
    }
    return partner;
  }
}

/** The same answer with more headers (a response's headers may be a shared constant: never changed in place). */
export function withHeaders(response: HttpResponse, headers: Record<string, string>): HttpResponse {
  return { ...response, headers: { ...response.headers, ...headers } };
}
