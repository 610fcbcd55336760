import type { DeliveryRecord } from './job.ts';

/**
 * What the alerting remembers per job between runs and restarts: whether it is in an alerting
 * state (so the next success sends a recovery notice), when it last alerted (cooldown), and when
 * the dead-man's switch fired (so it fires once per silence, not every minute).
 */
export interface AlertState {
  /** A failure (or dead-man) alert was delivered and no success has followed yet. */
  alerting: boolean;
  lastAlertAtMs?: number;
  /** The dead-man's switch fired for the silence that began at lastOkAtMs. */
  deadManFiredAtMs?: number;
  lastOkAtMs?: number;
  /** Failed runs since the last ok one (a failed attempt that will be retried does not count). */
  failures?: number;
  /** When a storage warning (repository size or filesystem usage) was last sent (at most once per cooldown). */
  repoSizeAlertAtMs?: number;
  /** The deliveries of the latest dead-man alert (it has no run whose details could hold them). */
  deadManDeliveries?: DeliveryRecord[];
}
