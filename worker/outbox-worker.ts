/**
 * The persistence worker: drains the outbox streams into PostgreSQL.
 *
 *   outbox stream ──XREADGROUP (batch)──▶ Bull job {ids, stream} ──processor──▶ one PostgreSQL transaction
 *                                                                           └──▶ XACK + XDEL (one MULTI)
 *
 * The streams: the booking partition's, read with a blocking XREADGROUP, and given the partitions,
 * each partition's (engine/partitioned-booking.md, "What PostgreSQL sees"). Redis Cluster refuses
 * one XREADGROUP over keys in several slots, so the partitions' streams are read one call each,
 * without blocking, in rounds: a round that finds nothing waits, doubling from 10 ms up to
 * TEEKA_WORKER_BLOCK_MS, and one that finds something goes again at once. Everything below holds
 * per stream: its own consumer group (same name), its pending entries, its dead letters.
 *
 * Exactly once, whatever dies when:
 * - an entry stays in the stream, pending in the consumer group, until its batch is committed;
 *   only then is it acknowledged and deleted. A crash before that leaves it to be written again;
 * - writing again is harmless (persist.ts: event ids and version guards), so "at least once"
 *   delivery lands exactly once in PostgreSQL;
 * - a job whose worker died is picked up again by Bull (stalled-job recovery); entries a dead
 *   worker had read but not enqueued are claimed by a live one once the dead one's heartbeat key
 *   expires; anything pending for very long (TEEKA_WORKER_ORPHAN_IDLE_MS) is enqueued again.
 *
 * An entry PostgreSQL refuses for good (a data error) never holds back the others: the batch is
 * split until it stands alone, and it is moved to the dead-letter stream (dead-letter.ts).
 *
 * Several workers may run at once: each is a consumer of the group and a Bull worker of the queue.
 *
 * Given the partitioned booking (`intents`), it is also the intents' sweeper
 * (engine/partitioned-booking.md, "Recovery"): every TEEKA_WORKER_SWEEP_MS it resolves, over every
 * partition, the intents of operations whose process stopped between two steps and whose deadline
 * has passed, which nobody else may ever meet again (the citizen never retries). A pass never
 * touches an intent before its deadline, so it cannot race a step still running; two workers'
 * passes may meet the same intent, which the steps' idempotence makes harmless.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type Bull from 'bull';
import type { RedisAddress, RedisClient } from '../engine/redis.js';
import type pg from 'pg';
import { NO_REPLICA_WAIT, ReplicaAcknowledgement, type DurabilityOptions } from '../engine/durability.js';
import { keys } from '../engine/keys.js';
import type { PartitionedBooking } from '../engine/partitioned-booking.js';
import type { Partitions } from '../engine/partitions.js';
import { describeSetAside, persistOutboxEntries } from './dead-letter.js';
import { ensureOutboxGroup, OUTBOX_GROUP, outboxKeyWithPrefix, outboxStreams, readOutboxEntries, type StreamEntry } from './outbox.js';
import type { BatchWriteReport } from './persist.js';
import { batchJobId, openPersistQueue, type BatchJob, type PersistQueue } from './queue.js';
import { publishQueueDepth, readQueueDepth } from './queue-depth.js';
import { snapshotDailyQuotas } from './quotas.js';
import type { WorkerSettings } from './settings.js';

export interface OutboxWorkerOptions {
  /** a connection with the deployment's key prefix and the worker role (waits out Redis outages) */
  redis: RedisClient;
  /** to open Bull's own connections */
  redisAddress: RedisAddress;
  redisKeyPrefix: string;
  pool: pg.Pool;
  settings: WorkerSettings;
  /**
   * TEEKA_WAIT_REPLICAS as the gateways have it: an entry is written to PostgreSQL only once that many
   * replicas hold it. Default none.
   */
  durability?: DurabilityOptions;
  /** the partitioned booking whose expired intents this worker resolves (see above). Default: none */
  intents?: PartitionedBooking;
  /**
   * the deployment's partitions: their outbox streams are drained beside the booking partition's, and
   * the quota snapshot reads their quota-changes sets. Default: none (no partition streams; every
   * quota snapshot scans the keyspace)
   */
  partitions?: Partitions;
  /** this worker's consumer name in the group. Default: host, pid and a random part */
  consumer?: string;
  /** progress and trouble lines. Default: stdout */
  log?: (line: string) => void;
}

/** What the worker has done since it started. */
export interface WorkerTotals {
  batches: number;
  events: number;
  rows: number;
  /** batch attempts that failed (PostgreSQL down, ...) and will be retried */
  failedAttempts: number;
  /** entries taken over from dead consumers or found orphaned, and enqueued again */
  claimed: number;
  /** entries PostgreSQL refused for good, moved to the dead-letter stream */
  setAside: number;
  /** the partitioned booking's expired intents this worker resolved */
  intentsResolved: number;
}

export class OutboxWorker {
  readonly consumer: string;
  readonly totals: WorkerTotals = { batches: 0, events: 0, rows: 0, failedAttempts: 0, claimed: 0, setAside: 0, intentsResolved: 0 };
  private readonly redis: RedisClient;
  private readonly pool: pg.Pool;
  private readonly settings: WorkerSettings;
  private readonly log: (line: string) => void;
  private readonly persist: PersistQueue;
  private readonly replicas: ReplicaAcknowledgement;
  private readonly intents: PartitionedBooking | undefined;
  private readonly partitions: Partitions | undefined;
  /** this worker's first quota snapshot scans every key (worker/quotas.ts); later ones read the changes */
  private quotaSnapshotScanned = false;
  /** every stream this worker drains, the booking partition's first */
  private readonly streams: string[];
  private readonly drained: Set<string>;
  private reader: RedisClient | undefined;
  private stopping = false;
  private readLoop: Promise<void> | undefined;
  private partitionReadLoop: Promise<void> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<void>>();
  private lastError = '';
  private sinceLastLine = { at: Date.now(), batches: 0, events: 0, rows: 0, failedAttempts: 0 };

  constructor(options: OutboxWorkerOptions) {
    this.redis = options.redis;
    this.pool = options.pool;
    this.settings = options.settings;
    this.log = options.log ?? ((line) => console.log(line));
    this.consumer = options.consumer ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 6)}`;
    this.replicas = new ReplicaAcknowledgement(this.redis, options.durability ?? NO_REPLICA_WAIT);
    this.intents = options.intents;
    this.partitions = options.partitions;
    this.streams = outboxStreams(options.partitions);
    this.drained = new Set(this.streams);
    this.persist = openPersistQueue({ redisAddress: options.redisAddress, redisKeyPrefix: options.redisKeyPrefix, settings: options.settings });
  }

  get queue(): Bull.Queue<BatchJob> {
    return this.persist.queue;
  }

  async start(): Promise<void> {
    const { settings, queue } = this;
    for (const stream of this.streams) await ensureOutboxGroup(this.redis, stream);
    // alive before the first read: a consumer seen in the group without its key is taken for dead
    await this.beat();
    this.every('heartbeat', Math.max(100, Math.floor(settings.heartbeatMs / 3)), () => this.beat());

    queue.on('error', (err) => this.log(`worker: queue error: ${err.message}`));
    queue.on('failed', (job, err) => {
      this.totals.failedAttempts += 1;
      this.lastError = err.message;
      if (job.attemptsMade >= (job.opts.attempts ?? 1)) {
        this.log(`worker: batch ${job.id} FAILED for good after ${job.attemptsMade} attempts, kept for inspection: ${err.message}`);
      }
    });
    queue.on('stalled', (job) => this.log(`worker: batch ${job.id} lost its worker; running it again`));
    queue.process(settings.concurrency, (job) => this.writeJob(job)).catch((err: Error) => this.log(`worker: processing stopped: ${err.message}`));

    this.reader = this.redis.duplicate();
    this.readLoop = this.readOutbox();
    if (this.streams.length > 1) this.partitionReadLoop = this.readPartitionOutboxes(this.streams.slice(1));
    this.every('claiming abandoned entries', settings.claimIntervalMs, () => this.claimAbandoned());
    if (settings.quotaSnapshotMs > 0) this.every('quota snapshot', settings.quotaSnapshotMs, () => this.snapshotQuotas());
    if (this.intents && settings.sweepMs > 0) this.every('sweeping expired intents', settings.sweepMs, () => this.sweepIntents(this.intents!));
    this.every('progress line', settings.logEveryMs, async () => this.logProgress());
    // the gateways show what this publishes, and "unknown" once no worker has for a while
    await this.publishDepth().catch((err: Error) => this.log(`worker: queue depth failed: ${err.message}`));
    this.every('queue depth', settings.depthPublishMs, () => this.publishDepth());
    const partitionStreams = this.streams.length > 1 ? ` and the ${this.streams.length - 1} partitions' outbox streams` : '';
    this.log(`worker: consumer ${this.consumer} reading ${outboxKeyWithPrefix(this.redis)}${partitionStreams} in batches of ${settings.batchSize}`);
  }

  /** Stop reading, let the batch in progress finish, close the queue. The caller closes redis and pool. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.readLoop;
    await this.partitionReadLoop;
    await Promise.all(this.running);
    await this.persist.close();
    this.reader?.disconnect();
    await this.redis.del(keys.persistConsumer(this.consumer)).catch(() => {});
    const { batches, events, rows, failedAttempts } = this.totals;
    this.log(`worker: stopped after ${batches} batches, ${events} events, ${rows} rows (${failedAttempts} failed attempts)`);
  }

  // ------------------------------------------------------------------ reading and enqueueing

  /** Backpressure: while PostgreSQL is down or slow the backlog stays in the streams (as lag). */
  private async queueIsFull(): Promise<boolean> {
    const counts = await this.queue.getJobCounts();
    return counts.waiting + counts.active + counts.delayed >= this.settings.maxQueuedJobs;
  }

  private async readOutbox(): Promise<void> {
    const { batchSize, readBlockMs } = this.settings;
    while (!this.stopping) {
      try {
        if (await this.queueIsFull()) {
          await sleep(100);
          continue;
        }
        const reply = (await this.reader!.xreadgroup(
          'GROUP',
          OUTBOX_GROUP,
          this.consumer,
          'COUNT',
          batchSize,
          'BLOCK',
          readBlockMs,
          'STREAMS',
          keys.outbox(),
          '>',
        )) as [string, StreamEntry[]][] | null;
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length) await this.enqueue(entries.map(([id]) => id));
      } catch (err) {
        if (this.stopping) break;
        const message = (err as Error).message;
        if (/NOGROUP/.test(message)) {
          // the stream was wiped (a rebuild): start the group again from the beginning
          await ensureOutboxGroup(this.redis).catch(() => {});
          continue;
        }
        this.log(`worker: reading the outbox failed (${message}); retrying`);
        await sleep(1000);
      }
    }
  }

  /** The partitions' streams, in rounds of one non-blocking read each (see the header). */
  private async readPartitionOutboxes(streams: string[]): Promise<void> {
    const { batchSize, readBlockMs } = this.settings;
    let idleMs = 0;
    while (!this.stopping) {
      try {
        if (await this.queueIsFull()) {
          await sleep(100);
          continue;
        }
        const found = await Promise.all(
          streams.map(async (stream) => {
            const reply = (await this.redis.xreadgroup('GROUP', OUTBOX_GROUP, this.consumer, 'COUNT', batchSize, 'STREAMS', stream, '>')) as
              | [string, StreamEntry[]][]
              | null;
            const entries = reply?.[0]?.[1] ?? [];
            if (entries.length) await this.enqueue(entries.map(([id]) => id), stream);
            return entries.length;
          }),
        );
        if (found.some((count) => count > 0)) {
          idleMs = 0;
          continue;
        }
        idleMs = Math.min(readBlockMs, Math.max(10, idleMs * 2));
        await sleep(idleMs);
      } catch (err) {
        if (this.stopping) break;
        const message = (err as Error).message;
        if (/NOGROUP/.test(message)) {
          // a stream was wiped (a rebuild): its group starts again from the beginning
          for (const stream of streams) await ensureOutboxGroup(this.redis, stream).catch(() => {});
          continue;
        }
        this.log(`worker: reading the partitions' outbox streams failed (${message}); retrying`);
        await sleep(1000);
      }
    }
  }

  /**
   * Enqueue a batch of one stream; entries read are pending on this consumer until their job writes
   * them. A job of the booking partition's stream names no stream, as before there were others.
   */
  private async enqueue(ids: string[], stream = keys.outbox(), jobId?: string): Promise<void> {
    const named = stream === keys.outbox() ? undefined : stream;
    const job: BatchJob = named ? { ids, stream: named } : { ids };
    jobId ??= batchJobId(ids, named);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.queue.add(job, { jobId });
        return;
      } catch (err) {
        // keep trying: giving up would leave the entries pending until the orphan sweep
        if (attempt % 10 === 0) this.log(`worker: enqueueing a batch failed (${(err as Error).message}); retrying`);
        await sleep(500);
      }
    }
  }

  /**
   * Entries of consumers whose heartbeat key has expired (their process died) are claimed and
   * enqueued again; then anything pending longer than the orphan idle time, whoever holds it.
   * Stream by stream.
   */
  private async claimAbandoned(): Promise<void> {
    for (const stream of this.streams) {
      if (this.stopping) return;
      await this.claimAbandonedIn(stream);
    }
  }

  private async claimAbandonedIn(outbox: string): Promise<void> {
    const { batchSize, orphanIdleMs } = this.settings;
    const consumers = (await this.redis.xinfo('CONSUMERS', outboxKeyWithPrefix(this.redis, outbox), OUTBOX_GROUP)) as unknown[][];
    for (const fields of consumers) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) info[String(fields[i])] = fields[i + 1];
      const name = String(info.name);
      if (name === this.consumer || (await this.redis.exists(keys.persistConsumer(name)))) continue;
      for (;;) {
        const pending = (await this.redis.xpending(outbox, OUTBOX_GROUP, '-', '+', batchSize, name)) as [string, string, number, number][];
        if (!pending.length) break;
        // min idle 1 s: of two workers claiming at once, the second finds the entries just claimed
        const claimed = (await this.redis.xclaim(outbox, OUTBOX_GROUP, this.consumer, 1000, ...pending.map(([id]) => id), 'JUSTID')) as string[];
        if (!claimed.length) break;
        this.totals.claimed += claimed.length;
        this.log(`worker: claimed ${claimed.length} entries of dead consumer ${name}${this.inStream(outbox)}`);
        await this.enqueueClaimed(claimed, outbox);
      }
      // a dead consumer with nothing pending is only clutter in XINFO
      const left = (await this.redis.xpending(outbox, OUTBOX_GROUP, '-', '+', 1, name)) as unknown[];
      if (!left.length) await this.redis.xgroup('DELCONSUMER', outboxKeyWithPrefix(this.redis, outbox), OUTBOX_GROUP, name);
    }

    let cursor = '0-0';
    do {
      const [next, claimed] = (await this.redis.xautoclaim(outbox, OUTBOX_GROUP, this.consumer, orphanIdleMs, cursor, 'COUNT', batchSize, 'JUSTID')) as [
        string,
        string[],
        string[],
      ];
      cursor = next;
      if (claimed.length) {
        this.totals.claimed += claimed.length;
        this.log(`worker: ${claimed.length} entries pending longer than ${orphanIdleMs} ms${this.inStream(outbox)}; enqueued again`);
        await this.enqueueClaimed(claimed, outbox);
      }
    } while (cursor !== '0-0' && !this.stopping);
  }

  /**
   * Enqueue claimed entries. Bull ignores a job id it still holds: while the batch's own job is on
   * its way (waiting, delayed, running) that is what we want; but a job kept as failed (or
   * completed, if its acknowledgement was lost) would swallow the retry, so those entries get a
   * job of their own and the failed one stays for inspection.
   */
  private async enqueueClaimed(ids: string[], stream: string): Promise<void> {
    const jobId = batchJobId(ids, stream === keys.outbox() ? undefined : stream);
    const existing = await this.queue.getJob(jobId);
    const state = existing ? await existing.getState() : null;
    if (state === 'failed' || state === 'completed') await this.enqueue(ids, stream, `${jobId}:again:${Date.now()}`);
    else await this.enqueue(ids, stream, jobId);
  }

  /** For log lines: which stream, when it is a partition's. */
  private inStream(stream: string): string {
    return stream === keys.outbox() ? '' : ` in ${stream}`;
  }

  // ------------------------------------------------------------------ writing

  private async writeJob(job: Bull.Job<BatchJob>): Promise<BatchWriteReport> {
    const { ids } = job.data;
    const outbox = job.data.stream ?? keys.outbox();
    if (!this.drained.has(outbox)) {
      // another worker enqueued it: the workers disagree on TEEKA_PARTITIONS; Bull retries it, and
      // once its attempts are spent keeps it as failed, for a worker that drains that stream
      throw new Error(`batch ${job.id} names the outbox stream ${outbox}, which this worker does not drain (do all workers have the same TEEKA_PARTITIONS?)`);
    }
    // The entries are this consumer's from now on: the reader that enqueued them may be dead, and
    // its heartbeat's expiry must not enqueue them again while this job holds them. Touching them
    // at every attempt also keeps them younger than the orphan idle time.
    await this.redis.xclaim(outbox, OUTBOX_GROUP, this.consumer, 0, ...ids, 'JUSTID');
    // A booking whose WAIT timed out was answered 503 and exists on the master only; if the master
    // dies, the promoted replica never had it and the citizen's retry books again. Writing it to
    // PostgreSQL before a replica holds it would leave a booking nobody was told of beside the one
    // they were. WAIT after the XCLAIM (a write) covers every entry written before it.
    await this.replicas.afterChange(outbox);
    // entries no longer in the stream were written and acknowledged by an earlier run of this batch
    const entries = await readOutboxEntries(this.redis, ids, outbox);
    // the commit is durable (synchronous_commit stays on) before the entries leave the outbox
    const { written, setAside } = await persistOutboxEntries(this.redis, this.pool, entries, outbox);
    for (const entry of setAside) this.log(`worker: set aside ${describeSetAside(entry)}`);
    this.totals.batches += 1;
    this.totals.events += written.events;
    this.totals.rows += written.rows;
    this.totals.setAside += setAside.length;
    return written;
  }

  // ------------------------------------------------------------------ housekeeping

  private async beat(): Promise<void> {
    await this.redis.set(keys.persistConsumer(this.consumer), String(Date.now()), 'PX', this.settings.heartbeatMs);
  }

  private async sweepIntents(intents: PartitionedBooking): Promise<void> {
    const resolved = await intents.resolveAllExpiredIntents();
    if (resolved === 0) return;
    this.totals.intentsResolved += resolved;
    this.log(`worker: resolved ${resolved} expired intent${resolved === 1 ? '' : 's'} of stopped bookings, cancels or reschedules (${this.totals.intentsResolved} since start)`);
  }

  private async snapshotQuotas(): Promise<void> {
    // one worker per interval is enough
    const won = await this.redis.set(keys.quotaSnapshotLock(), this.consumer, 'PX', Math.max(100, this.settings.quotaSnapshotMs - 100), 'NX');
    if (won !== 'OK') return;
    await snapshotDailyQuotas(this.redis, this.pool, this.partitions, { full: !this.quotaSnapshotScanned });
    this.quotaSnapshotScanned = true;
  }

  private async publishDepth(): Promise<void> {
    await publishQueueDepth(this.redis, await readQueueDepth(this.redis, this.queue, this.streams), this.settings.depthPublishMs);
  }

  /** One line per interval in which something happened: throughput, retries, backlog. */
  private logProgress(): void {
    const now = Date.now();
    const last = this.sinceLastLine;
    const batches = this.totals.batches - last.batches;
    const failed = this.totals.failedAttempts - last.failedAttempts;
    if (batches === 0 && failed === 0) {
      last.at = now;
      return;
    }
    const seconds = Math.max(0.001, (now - last.at) / 1000);
    const rows = this.totals.rows - last.rows;
    const events = this.totals.events - last.events;
    this.sinceLastLine = { at: now, ...this.totals };
    void readQueueDepth(this.redis, this.queue, this.streams)
      .then((depth) => {
        this.log(
          `worker: ${batches} batches, ${events} events, ${rows} rows in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} rows/s)` +
            (failed ? `; ${failed} attempts failed, retrying (last: ${this.lastError})` : '') +
            `; outbox ${depth.undelivered} undelivered, ${depth.pending} pending; jobs ${depth.bull.waiting} waiting,` +
            ` ${depth.bull.delayed} delayed, ${depth.bull.failed} failed` +
            (depth.deadLetters ? `; ${depth.deadLetters} set aside as dead letters` : ''),
        );
      })
      .catch(() => {});
  }

  /** A repeating task that never overlaps itself, never lets an error escape, and is awaited by stop(). */
  private every(label: string, ms: number, task: () => Promise<void>): void {
    let current: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (current || this.stopping) return;
      current = task()
        .catch((err: Error) => {
          if (!this.stopping) this.log(`worker: ${label} failed: ${err.message}`);
        })
        .finally(() => {
          this.running.delete(current!);
          current = undefined;
        });
      this.running.add(current);
    }, ms);
    this.timers.push(timer);
  }
}
