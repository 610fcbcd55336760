/**
 * The one source of time. Everything that reads the time or waits for it takes a Clock, so tests
 * drive time with a ManualClock instead of sleeping.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Calls `fn` once when `now()` reaches `atMs` (immediately-ish if already past). Must work for
   * delays beyond the 2^31 ms setTimeout limit.
   */
  at(atMs: number, fn: () => void): TimerHandle;
}

/** setTimeout caps delays at 2^31-1 ms; longer waits re-arm in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  at(atMs: number, fn: () => void): TimerHandle {
    let timer: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = (): void => {
      if (cancelled) return;
      const delay = atMs - Date.now();
      if (delay <= 0) {
        fn();
        return;
      }
      timer = setTimeout(arm, Math.min(delay, MAX_TIMEOUT_MS));
    };
    arm();
    return {
      cancel: () => {
        cancelled = true;
        if (timer) clearTimeout(timer);
      },
    };
  }
}

/**
 * A clock that only moves when told to. `advance` fires due timers in time order, each seeing
 * `now()` equal to its own due time, then awaits pending microtasks so async work they start can
 * settle.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers = new Map<number, { atMs: number; fn: () => void }>();

  constructor(startMs: number) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  at(atMs: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { atMs, fn });
    // Already due: fires soon without waiting for the next advance, as a real clock would.
    if (atMs <= this.current) {
      setImmediate(() => {
        if (this.timers.delete(id)) fn();
      });
    }
    return { cancel: () => this.timers.delete(id) };
  }

  /** Number of armed timers (tests use it to check the engine does not poll). */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** Due time of the earliest armed timer, if any. */
  nextTimerAt(): number | undefined {
    let min: number | undefined;
    for (const t of this.timers.values()) if (min === undefined || t.atMs < min) min = t.atMs;
    return min;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.current + ms);
  }

  async advanceTo(targetMs: number): Promise<void> {
    for (;;) {
      let nextId: number | undefined;
      let next: { atMs: number; fn: () => void } | undefined;
      for (const [id, t] of this.timers) {
        if (t.atMs <= targetMs && (next === undefined || t.atMs < next.atMs)) {
          next = t;
          nextId = id;
        }
      }
      if (next === undefined || nextId === undefined) break;
      this.timers.delete(nextId);
      this.current = Math.max(this.current, next.atMs);
      next.fn();
      await flushAsync();
    }
    this.current = Math.max(this.current, targetMs);
    await flushAsync();
  }
}

/** Lets promise chains and I/O callbacks started by a timer run before the test continues. */
async function flushAsync(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
