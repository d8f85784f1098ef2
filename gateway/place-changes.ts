/**
 * Changes to fair admission places (a join, a booking under an admission), counted across every
 * thread of one gateway process, so that a status a thread kept (gateway/queue-room.ts) is known to be
 * outdated the moment another thread changed the place: before that thread answers the booking or the
 * join. A message relayed through the main thread would arrive later than the citizen's next poll on
 * a busy machine (seen in CI: the poll after a booking answered the kept `admitted`).
 *
 * One counter per slot of gateway/shared-slots.ts, the slot chosen by the session and the account.
 * Places that share a slot share its counter: a change to one only makes the other's kept status be
 * read again, never kept past a change.
 */
import { allocateSharedSlots, slotOf } from './shared-slots.js';

export class PlaceChanges {
  static readonly allocate = allocateSharedSlots;

  private readonly counts: Int32Array;

  /** `buffer`: the process's shared counters; a gateway without threads makes its own */
  constructor(buffer: SharedArrayBuffer = allocateSharedSlots()) {
    this.counts = new Int32Array(buffer);
  }

  /** The place's change count: a status read after this is outdated once it moves. */
  version(sessionId: string, accountId: string): number {
    return Atomics.load(this.counts, slotOf(keyOf(sessionId, accountId)));
  }

  /** The place changed: every thread's kept status of it is outdated. */
  changed(sessionId: string, accountId: string): void {
    Atomics.add(this.counts, slotOf(keyOf(sessionId, accountId)), 1);
  }
}

function keyOf(sessionId: string, accountId: string): string {
  return `${sessionId} ${accountId}`;
}
