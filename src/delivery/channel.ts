/**
 * The delivery port: a Channel sends one Notification somewhere outside nightshift (a webhook,
 * Slack, Discord, Telegram, ntfy, email) and says whether it arrived. Alerts and job delivery
 * depend on this file only; the adapters live next to it, one module per protocol.
 */

export type Severity = 'info' | 'warning' | 'error' | 'recovery';

export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'error', 'recovery'];

export interface Notification {
  /** One line: what happened ("nightly backup failed"). */
  title: string;
  /** The body in plain text; channels format it for their medium. */
  text: string;
  severity: Severity;
  jobId?: string;
  jobName?: string;
  runId?: string;
  /** The run's status (`ok`, `error`, `timeout`, ...), when the notification is about a run. */
  status?: string;
  /** Extra facts shown as a small table ("snapshot": "3f2a9c", "duration": "42s"). */
  fields?: Record<string, string>;
  /** A link for more detail (the dashboard page of the run). */
  url?: string;
  /** Where on the channel (a chat id, an address, a topic), overriding the channel's own default (`--to`). */
  to?: string;
  /**
   * The thread or topic inside that destination (`--thread-id`): Telegram's message_thread_id,
   * Discord's thread_id, Slack's thread_ts. Other channels have none (checked when the job is saved).
   */
  threadId?: string;
}

export interface SendOptions {
  /** Aborts the send, including any wait between retries; the result is then `ok: false`. */
  signal?: AbortSignal;
}

/**
 * What happened to one send. A channel never throws for a delivery failure: it returns
 * `ok: false` with an `error` that is safe to show (secret values and tokens in URLs are
 * redacted), so run records can keep it as is.
 */
export interface DeliveryResult {
  ok: boolean;
  /** Requests made (0 when the send failed before reaching the network, e.g. an unresolved secret). */
  attempts: number;
  /** HTTP status (or SMTP reply code) of the last attempt, when there was one. */
  status?: number;
  error?: string;
  durationMs: number;
}

export interface Channel {
  /** The protocol: `webhook`, `slack`, `discord`, `telegram`, `ntfy`, `email`. */
  readonly kind: string;
  /** The user's name for this channel, as used by `--channel NAME` and `alert test NAME`. */
  readonly name: string;
  send(n: Notification, opts?: SendOptions): Promise<DeliveryResult>;
}
