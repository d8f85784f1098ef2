/**
 * Keys (accounts, client addresses) refused until an instant of the engine's clock, kept in a
 * gateway thread's memory: at most `capacity` of them, the oldest forgotten first. Forgetting a
 * block is always safe: the next request runs the script, which says the same.
 */
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
