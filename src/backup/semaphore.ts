/**
 * Bounds how many reads or writes the archiver and restorer keep in flight (memory stays flat).
 * A permit may weigh more than one (bytes, say); waiters are served in order, so a heavy one is
 * not starved by light ones behind it.
 */
export class Semaphore {
  private free: number;
  private readonly waiters: { n: number; go: () => void }[] = [];

  constructor(private readonly capacity: number) {
    this.free = capacity;
  }

  /** Takes `n` permits (at most the capacity, so a heavy request never waits forever). */
  async acquire(n = 1): Promise<number> {
    const take = Math.min(n, this.capacity);
    if (this.waiters.length === 0 && this.free >= take) {
      this.free -= take;
      return take;
    }
    await new Promise<void>((go) => this.waiters.push({ n: take, go }));
    return take;
  }

  /** Gives back `n` permits: what acquire returned. */
  release(n = 1): void {
    this.free += n;
    while (this.waiters.length > 0 && this.free >= this.waiters[0]!.n) {
      const w = this.waiters.shift()!;
      this.free -= w.n;
      w.go();
    }
  }
}
