/**
 * Slots of 32-bit counters in a SharedArrayBuffer that the gateway's main thread makes and every
 * request thread maps, the slot of a key chosen by a hash of its text. Keys that share a slot share its
 * counter: each user of these slots says why that is safe for it.
 */
export const SHARED_SLOTS = 65_536;

/** The shared counters, made once by the main thread and handed to each thread. */
export function allocateSharedSlots(): SharedArrayBuffer {
  return new SharedArrayBuffer(SHARED_SLOTS * Int32Array.BYTES_PER_ELEMENT);
}

/** FNV-1a over the key's text, folded to a slot. */
export function slotOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) & (SHARED_SLOTS - 1);
}
