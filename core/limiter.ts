/**
 * The one concurrency limiter of the repository: at most `size` tasks at once, the rest waiting in order. The core's
 * questions to API Gateway, the load tester's handshakes and the benchmark's store calls all go through it.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!(size >= 1)) throw new RangeError(`a limiter needs room for at least one task (got ${size})`);
  }

  /** tasks running now */
  get inFlight(): number {
    return this.active;
  }

  /** whether a task entering now would wait */
  get full(): boolean {
    return this.active >= this.size;
  }

  /** Waits for room, then takes it; pair with `leave`. */
  async enter(): Promise<void> {
    if (this.active < this.size) {
      this.active++;
      return;
    }
    // The leaver hands its place straight to the first waiter, so `active` does not move.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /** Runs `task` when there is room. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.enter();
    try {
      return await task();
    } finally {
      this.leave();
    }
  }
}

/** Calls `fn` for every item, at most `limit` at once, in order of the items; resolves when all are done. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  if (items.length === 0) return;
  const limiter = new Limiter(Math.max(1, Math.min(limit, items.length)));
  await Promise.all(items.map((item) => limiter.run(() => fn(item))));
}

/** Calls `fn(0)` to `fn(count - 1)`, at most `limit` at once. */
export function timesLimited(count: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  return forEachLimited(
    Array.from({ length: count }, (_, i) => i),
    limit,
    async (i) => {
      await fn(i);
    },
  );
}
