/** Small statistics helpers for the benchmark. */

/** Nearest-rank percentile of `values` (p in [0, 100]); NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** CPU time of this process in seconds (user + system). */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Samples this process's RSS every `everyMs` and keeps the maximum. */
export class RssSampler {
  max = process.memoryUsage().rss;
  private timer: NodeJS.Timeout;

  constructor(everyMs = 500) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): number {
    const rss = process.memoryUsage().rss;
    if (rss > this.max) this.max = rss;
    return rss;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Waits for an instant, checked both by a timer and by `poke()` calls from the fire callback: a
 * scheduler that is behind may keep the event loop busy long enough to starve timers, and the
 * measurement window must still close on time.
 */
export class Deadline {
  private waiters: Array<{ atMs: number; resolve: () => void }> = [];

  until(atMs: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter = { atMs, resolve };
      this.waiters.push(waiter);
      setTimeout(() => this.poke(), Math.max(0, atMs - Date.now()));
    });
  }

  poke(): void {
    if (this.waiters.length === 0) return;
    const now = Date.now();
    this.waiters = this.waiters.filter((w) => {
      if (now < w.atMs) return true;
      w.resolve();
      return false;
    });
  }
}
