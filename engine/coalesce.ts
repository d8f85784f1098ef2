/**
 * Coalescing: calls for the same partition that arrive in the same event-loop turn go to Redis as one
 * script call, which still decides each of them on its own, in arrival order (TigerBeetle's
 * batching lesson: pay the fixed cost once per batch). Redis's fixed cost per script call
 * (dispatch, the script's setup) and the client's per command (ioredis encodes, queues and parses
 * each) are then paid once per batch; what each call decides is not changed.
 *
 * A batch is sent at the end of the turn (setImmediate: after every request the turn's I/O
 * delivered), never held back waiting for more, so coalescing adds no delay beyond the turn.
 */

/** How many batches were sent and how many calls they carried, per batch size. */
export class BatchCounts {
  batches = 0;
  calls = 0;
  /** batch size → batches of that size */
  readonly bySize = new Map<number, number>();

  add(size: number): void {
    this.batches += 1;
    this.calls += size;
    this.bySize.set(size, (this.bySize.get(size) ?? 0) + 1);
  }
}

interface Waiting<T, R> {
  item: T;
  resolve: (reply: R) => void;
  reject: (error: unknown) => void;
}

export class PartitionBatcher<T, R> {
  private readonly waiting = new Map<number, Waiting<T, R>[]>();
  private scheduled = false;
  readonly counts = new BatchCounts();

  /**
   * `send` answers one reply per item, in order; with one item it may take the single-call path.
   * `coalesce` false sends every item alone at once (TEEKA_COALESCE=off, to measure the difference).
   * `maxBatch` bounds one call: a turn that brought more sends several calls, in arrival order.
   */
  constructor(
    private readonly send: (partition: number, items: T[]) => Promise<R[]>,
    private readonly coalesce = true,
    private readonly maxBatch = Infinity,
  ) {}

  submit(partition: number, item: T): Promise<R> {
    if (!this.coalesce) {
      this.counts.add(1);
      return this.send(partition, [item]).then((replies) => replies[0]!);
    }
    return new Promise<R>((resolve, reject) => {
      const list = this.waiting.get(partition);
      if (list) list.push({ item, resolve, reject });
      else this.waiting.set(partition, [{ item, resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.waiting];
    this.waiting.clear();
    for (const [partition, waiting] of batches) {
      for (let from = 0; from < waiting.length; from += this.maxBatch) this.sendBatch(partition, waiting.slice(from, from + this.maxBatch));
    }
  }

  private sendBatch(partition: number, list: Waiting<T, R>[]): void {
    this.counts.add(list.length);
    this.send(
      partition,
      list.map((w) => w.item),
    ).then(
      (replies) => {
        if (replies.length !== list.length) throw new Error(`a batch of ${list.length} got ${replies.length} replies`);
        list.forEach((w, i) => w.resolve(replies[i]!));
      },
      (error: unknown) => {
        for (const w of list) w.reject(error);
      },
    ).catch((error: unknown) => {
      for (const w of list) w.reject(error);
    });
  }
}
