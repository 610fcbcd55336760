/**
 * Generic webhook: POSTs a versioned JSON document (docs/alerts.md, "Webhook body") and, when a
 * signing secret is configured, signs it so the receiver can check it came from nightshift and
 * is fresh:
 *
 *   X-Nightshift-Timestamp: <unix seconds of this attempt>
 *   X-Nightshift-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *
 * The timestamp is part of the signed material, so a captured request cannot be replayed later
 * than the receiver's tolerance.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Channel, DeliveryResult, Notification, SendOptions } from './channel.ts';
import type { WebhookChannelConfig } from '../config/channel-config.ts';
import { resolveDeps } from './deps.ts';
import type { ChannelDeps, ResolvedDeps } from './deps.ts';
import { deliverHttp } from './http-channel.ts';
import { displayUrl, requireHttpUrl } from './http.ts';
import { looksLikeSecretRef } from '../secrets/secret-ref.ts';

export const WEBHOOK_SCHEMA = 'nightshift.notification';
export const WEBHOOK_VERSION = 1;
export const USER_AGENT = 'nightshift';

export interface WebhookBody {
  schema: typeof WEBHOOK_SCHEMA;
  version: typeof WEBHOOK_VERSION;
  /** Unique per notification; the same on every retry, so receivers can drop duplicates. */
  id: string;
  /** When the notification was first sent (ISO 8601, UTC). */
  createdAt: string;
  severity: Notification['severity'];
  title: string;
  text: string;
  job: { id: string | null; name: string | null } | null;
  run: { id: string; status: string | null } | null;
  fields: Record<string, string>;
  url: string | null;
}

export function webhookBody(n: Notification, id: string, nowMs: number): WebhookBody {
  return {
    schema: WEBHOOK_SCHEMA,
    version: WEBHOOK_VERSION,
    id,
    createdAt: new Date(nowMs).toISOString(),
    severity: n.severity,
    title: n.title,
    text: n.text,
    job:
      n.jobId !== undefined || n.jobName !== undefined
        ? { id: n.jobId ?? null, name: n.jobName ?? null }
        : null,
    run: n.runId !== undefined ? { id: n.runId, status: n.status ?? null } : null,
    fields: { ...n.fields },
    url: n.url ?? null,
  };
}

/** The signature header value for a body sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, timestamp: number, rawBody: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
}

export class WebhookChannel implements Channel {
  readonly kind = 'webhook';
  readonly name: string;
  private readonly deps: ResolvedDeps;

  constructor(
    private readonly config: WebhookChannelConfig,
    deps: ChannelDeps,
  ) {
    this.name = config.name;
    this.deps = resolveDeps(config, deps);
  }

  send(n: Notification, opts?: SendOptions): Promise<DeliveryResult> {
    const c = this.config;
    return deliverHttp(`webhook channel ${c.name}`, this.deps, opts, async (secret) => {
      const urlIsRef = looksLikeSecretRef(c.url);
      const url = urlIsRef ? requireHttpUrl(await secret(c.url), c.url) : c.url;
      const display = urlIsRef ? `webhook ${c.url}` : `webhook ${displayUrl(url)}`;
      const key = c.secret !== undefined ? await secret(c.secret) : undefined;
      const extra: Record<string, string> = {};
      for (const [name, value] of Object.entries(c.headers ?? {}))
        extra[name] = typeof value === 'string' ? value : (value.prefix ?? '') + (await secret(value.secret));
      const id = randomUUID();
      const body = JSON.stringify(webhookBody(n, id, this.deps.now()));
      return {
        url,
        display,
        body,
        headers: () => {
          const h: Record<string, string> = {
            ...extra,
            'content-type': 'application/json',
            'user-agent': USER_AGENT,
            'x-nightshift-delivery': id,
          };
          // A fresh timestamp per attempt: a retry after a long Retry-After is still "fresh".
          const timestamp = Math.floor(this.deps.now() / 1000);
          h['x-nightshift-timestamp'] = String(timestamp);
          if (key !== undefined) h['x-nightshift-signature'] = signWebhook(key, timestamp, body);
          return h;
        },
      };
    });
  }
}
