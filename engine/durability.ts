/**
 * Acknowledged changes that survive the loss of their Redis master.
 *
 * Redis replicates asynchronously: a script's reply means the master applied it, not that any
 * replica has it. A master that dies right after answering can take the change with it when a
 * replica is promoted. With `replicas` > 0 the engine sends Redis's `WAIT numreplicas timeout` after
 * a booking-domain change and before it answers, so an acknowledged booking is held by at least that
 * many replicas as well (in their memory; each writes its own AOF).
 *
 * WAIT counts the writes sent *on the connection it is sent on*, so it goes on the connection that
 * ran the script: the same client, routed to the node of the key the script wrote (a cluster sends
 * a pipeline to the node serving its keys' slot; EXISTS of that key routes the pipeline there).
 *
 * Group commit: commands on one connection are answered in order, so a WAIT that is still
 * unanswered when a script's reply arrives was sent after that script, and covers it. Every change
 * answered while a WAIT is in flight on its node joins that WAIT instead of sending its own: under
 * load one WAIT acknowledges a whole batch, as a database's group commit does.
 *
 * What it does not do: make Redis strongly consistent. If the master and every replica that
 * acknowledged are lost together, or the cluster promotes a replica that had not received the change
 * (Redis Cluster prefers the replica with the most data, but does not require the acknowledging one),
 * the change can still be lost. README ("Durability") says what each setting guarantees.
 */
import type { RedisClient } from './redis.js';

export interface DurabilityOptions {
  /** replicas that must hold a change before it is acknowledged; 0 acknowledges on the master alone */
  replicas: number;
  /** how long to wait for them, ms; past it the change is not acknowledged (ReplicationShortfallError) */
  timeoutMs: number;
}

export const NO_REPLICA_WAIT: DurabilityOptions = { replicas: 0, timeoutMs: 0 };

/**
 * The change was applied on the master, but fewer replicas than required confirmed it in time. The
 * request is answered 503 (engine/backend-errors.ts): the change exists and will most likely
 * survive, but it was not acknowledged; a client that retries with its idempotency key gets the
 * first answer, one without it is told the beneficiary is already booked.
 */
export class ReplicationShortfallError extends Error {
  override readonly name = 'ReplicationShortfallError';
  constructor(
    readonly required: number,
    readonly confirmed: number,
    readonly timeoutMs: number,
  ) {
    super(`only ${confirmed} of ${required} Redis replicas confirmed the change within ${timeoutMs} ms`);
  }
}

export class ReplicaAcknowledgement {
  /** per node (the node serving a key's slot; one entry on a single Redis): the WAIT in flight there */
  private readonly inFlight = new Map<string, Promise<number>>();
  /** WAIT calls sent and changes they acknowledged, for the batch-size figure of the benchmark */
  readonly counts = { waits: 0, changes: 0 };

  constructor(
    private readonly redis: RedisClient,
    readonly options: DurabilityOptions,
  ) {}

  get enabled(): boolean {
    return this.options.replicas > 0;
  }

  /**
   * Resolves once the change a script just wrote to `key` is held by the required replicas;
   * `changes` > 1 for a coalesced script call that made several (one WAIT covers them all).
   */
  async afterChange(key: string, changes = 1): Promise<void> {
    if (!this.enabled) return;
    this.counts.changes += changes;
    const node = this.nodeOf(key);
    let wait = this.inFlight.get(node);
    if (!wait) {
      wait = this.sendWait(key).finally(() => this.inFlight.delete(node));
      this.inFlight.set(node, wait);
    }
    const confirmed = await wait;
    if (confirmed < this.options.replicas) {
      throw new ReplicationShortfallError(this.options.replicas, confirmed, this.options.timeoutMs);
    }
  }

  private async sendWait(key: string): Promise<number> {
    this.counts.waits += 1;
    const replies = await this.redis.pipeline().exists(key).wait(this.options.replicas, this.options.timeoutMs).exec();
    const [error, confirmed] = replies?.[1] ?? [new Error('WAIT got no reply'), 0];
    if (error) throw error;
    return confirmed as number;
  }

  /**
   * Which in-flight WAIT a change may join: one per hash tag. On a cluster the tag decides the node,
   * so a WAIT never joins one sent on a connection that did not carry the write; on one Redis every
   * tag shares the connection and this is merely less sharing than possible.
   */
  private nodeOf(key: string): string {
    const hashTag = /\{([^}]+)\}/.exec(key);
    return hashTag ? hashTag[1]! : key;
  }
}
