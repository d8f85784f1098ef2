/**
 * Queue depth on /metrics: the main thread reads it once a second (worker/queue-depth.ts) and these
 * gauges put it beside the threads' aggregated metrics. worker/README.md says which values mean trouble.
 */
import { Gauge, Registry } from 'prom-client';
import type { QueueDepth } from '../worker/queue-depth.js';

export class QueueGauges {
  readonly registry = new Registry();
  private readonly outbox = new Gauge({ name: 'teeka_outbox_entries', help: 'Booking changes in the outbox not yet in PostgreSQL', registers: [this.registry] });
  private readonly undelivered = new Gauge({ name: 'teeka_outbox_undelivered', help: 'Outbox entries no worker has read yet (consumer group lag)', registers: [this.registry] });
  private readonly pending = new Gauge({ name: 'teeka_outbox_pending', help: 'Outbox entries read by a worker, not yet written', registers: [this.registry] });
  private readonly jobs = new Gauge({ name: 'teeka_persist_jobs', help: 'Persistence (Bull) jobs by state', labelNames: ['state'] as const, registers: [this.registry] });
  private readonly oldest = new Gauge({
    name: 'teeka_oldest_undrained_booking_seconds',
    help: 'Age of the oldest booking change not yet in PostgreSQL (0 when drained)',
    registers: [this.registry],
  });
  private readonly deadLetters = new Gauge({
    name: 'teeka_outbox_dead_letters',
    help: 'Booking changes PostgreSQL refused for good, set aside for an operator (not in PostgreSQL)',
    registers: [this.registry],
  });

  set(depth: QueueDepth): void {
    this.outbox.set(depth.outboxLength);
    this.undelivered.set(depth.undelivered);
    this.pending.set(depth.pending);
    for (const [state, count] of Object.entries(depth.bull)) this.jobs.set({ state }, count);
    this.oldest.set(depth.oldestUndrainedAgeMs / 1000);
    this.deadLetters.set(depth.deadLetters);
  }
}
