/**
 * What channels need from the outside, injected so tests can point them at local servers, drive
 * retry waits without sleeping, and resolve secrets without a SecretResolver.
 */
import type { Clock } from '../domain/clock.ts';
import type { ChannelConfig } from '../config/channel-config.ts';
import { DEFAULT_RETRY_POLICY, clockSleep, realSleep } from './retry.ts';
import type { RetryPolicy } from '../config/channel-config.ts';
import type { Sleep } from './retry.ts';

export interface ChannelDeps {
  /**
   * Turns a secret reference (`env:SLACK_WEBHOOK_URL`) into its value. In the daemon this is
   * `(ref) => resolver.resolve(ref).then((s) => s.reveal())`.
   */
  resolveSecret: (ref: string) => Promise<string>;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Source of time for durations and Retry-After dates; default the system clock. */
  clock?: Clock;
  /** How retry waits happen; default a clock-driven wait when `clock` is given, else a real timer. */
  sleep?: Sleep;
  /** Default retry policy; a channel's own `retry` settings override it field by field. */
  retry?: Partial<RetryPolicy>;
  /** Default per-request timeout (10 s); a channel's `timeoutMs` overrides it. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

/** Deps with every default filled in, merged with one channel's settings. */
export interface ResolvedDeps {
  resolveSecret: (ref: string) => Promise<string>;
  fetch: typeof fetch;
  sleep: Sleep;
  now: () => number;
  policy: RetryPolicy;
  timeoutMs: number;
}

export function resolveDeps(config: ChannelConfig, deps: ChannelDeps): ResolvedDeps {
  const clock = deps.clock;
  return {
    resolveSecret: deps.resolveSecret,
    // Looked up at call time, so a fetch replaced after construction (tests, proxies) is used.
    fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
    sleep: deps.sleep ?? (clock ? clockSleep(clock) : realSleep),
    now: clock ? () => clock.now() : () => Date.now(),
    policy: { ...DEFAULT_RETRY_POLICY, ...deps.retry, ...config.retry },
    timeoutMs: config.timeoutMs ?? deps.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
}
