/**
 * Open WebSocket connections per client address, counted across every thread of one gateway
 * process: the kernel spreads one address's connections over the threads, so a count per thread
 * would let threads × limit in. The counts live in a SharedArrayBuffer that the main thread makes
 * and every thread maps (gateway/shared-slots.ts), the slot chosen by a hash of the address.
 * Addresses that share a slot share its count, which can only refuse early, never admit more; with
 * 65,536 slots that takes dozens of connections from addresses that happen to collide.
 */
import { allocateSharedSlots, slotOf } from './shared-slots.js';

export class ConnectionsPerAddress {
  static readonly allocate = allocateSharedSlots;

  private readonly counts: Int32Array;

  constructor(
    buffer: SharedArrayBuffer,
    /** most open connections one address may hold */
    readonly limit: number,
  ) {
    this.counts = new Int32Array(buffer);
  }

  /** Whether `address` may open another connection now (a check before the handshake; `tryAdd` decides). */
  hasRoom(address: string): boolean {
    return Atomics.load(this.counts, slotOf(address)) < this.limit;
  }

  /** Counts a connection of `address`; false, and nothing counted, when the address is at its limit. */
  tryAdd(address: string): boolean {
    const slot = slotOf(address);
    if (Atomics.add(this.counts, slot, 1) < this.limit) return true;
    Atomics.sub(this.counts, slot, 1);
    return false;
  }

  /** A connection counted by `tryAdd` closed. */
  remove(address: string): void {
    Atomics.sub(this.counts, slotOf(address), 1);
  }
}
