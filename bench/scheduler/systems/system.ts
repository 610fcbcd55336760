/** What the benchmark needs from each scheduler it compares. */
export interface ExternalUsage {
  /** CPU seconds used outside this process so far (e.g. the Redis server). */
  cpuSeconds: number;
  /** Resident memory outside this process attributable to the system (bytes). */
  rssBytes: number;
}

export interface FireHooks {
  /** A fire ran: its nominal slot and when the payload started. */
  onFire(slotMs: number, firedAtMs: number): void;
  /** The scheduler did some work; lets the harness notice its deadlines while timers are starved. */
  onTick?(): void;
}

export interface BenchSystem {
  readonly name: string;
  /** Schedules `n` jobs that fire every second and reports what happens through `hooks`. */
  startFiring(n: number, hooks: FireHooks): Promise<void>;
  /** Schedules `n` enabled jobs that will not fire during the measurement (daily, hours away). */
  startIdle(n: number): Promise<void>;
  stop(): Promise<void>;
  /** Resource use outside this process, if the system has any (Redis). */
  external?(): Promise<ExternalUsage>;
}

/** A daily cron expression for idle job `i`, at least 6 hours away from `nowMs` (UTC). */
export function idleCron(i: number, nowMs: number): string {
  const hour = (new Date(nowMs).getUTCHours() + 6 + (i % 12)) % 24;
  return `${i % 60} ${hour} * * *`;
}
