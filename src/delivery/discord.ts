/**
 * Discord webhook: POST `{ content, embeds }` (with `allowed_mentions` empty, so a job name that
 * contains "@everyone" pings nobody). Discord rate limits with 429 and a JSON `retry_after` in
 * seconds (also sent as the Retry-After header); both are honoured.
 */
import type { Channel, DeliveryResult, Notification, SendOptions } from './channel.ts';
import type { DiscordChannelConfig } from '../config/channel-config.ts';
import { resolveDeps } from './deps.ts';
import type { ChannelDeps, ResolvedDeps } from './deps.ts';
import { SEVERITY_COLOR, SEVERITY_EMOJI, SEVERITY_LABEL, facts, oneLine, truncate } from './plain-text.ts';
import { deliverHttp } from './http-channel.ts';
import { classify, requireHttpUrl } from './http.ts';
import type { HttpResponse } from './http.ts';
import type { AttemptOutcome } from './retry.ts';
import { USER_AGENT } from './webhook.ts';

// Discord's limits: content 2000, embed title 256, description 4096, 25 fields (name 256, value 1024).
const CONTENT_MAX = 2000;
const TITLE_MAX = 256;
const DESCRIPTION_MAX = 4096;
const FIELDS_MAX = 25;
const FIELD_NAME_MAX = 256;
const FIELD_VALUE_MAX = 1024;

export interface DiscordMessage {
  content: string;
  username?: string;
  embeds: Array<Record<string, unknown>>;
  allowed_mentions: { parse: string[] };
}

export function discordMessage(n: Notification, username?: string): DiscordMessage {
  const embed: Record<string, unknown> = {
    title: truncate(oneLine(n.title), TITLE_MAX),
    color: SEVERITY_COLOR[n.severity],
  };
  if (n.text.trim() !== '') embed.description = truncate(n.text.trim(), DESCRIPTION_MAX);
  const fields = facts(n)
    .slice(0, FIELDS_MAX)
    .map(([k, v]) => ({
      name: truncate(k, FIELD_NAME_MAX),
      value: truncate(v === '' ? '-' : v, FIELD_VALUE_MAX),
      inline: true,
    }));
  if (fields.length > 0) embed.fields = fields;
  if (n.url !== undefined && /^https?:\/\//.test(n.url)) embed.url = n.url;
  const msg: DiscordMessage = {
    content: truncate(
      `${SEVERITY_EMOJI[n.severity]} **${SEVERITY_LABEL[n.severity]}**: ${oneLine(n.title)}`,
      CONTENT_MAX,
    ),
    embeds: [embed],
    allowed_mentions: { parse: [] },
  };
  if (username !== undefined) msg.username = username;
  return msg;
}

/** Discord's 429 body says how long to wait in (fractional) seconds; prefer it to the header. */
export function classifyDiscord(res: HttpResponse, display: string, nowMs: number): AttemptOutcome {
  const outcome = classify(res, display, nowMs);
  if (res.status !== 429 || outcome.ok) return outcome;
  try {
    const body = JSON.parse(res.text) as { retry_after?: unknown };
    if (typeof body.retry_after === 'number' && body.retry_after >= 0)
      return { ...outcome, retryAfterMs: Math.ceil(body.retry_after * 1000) };
  } catch {
    // not JSON: the Retry-After header (if any) already counted
  }
  return outcome;
}

/** A Discord webhook posts into a thread of its channel with `?thread_id=` on the URL. */
function withThread(url: string, threadId: string | undefined): string {
  if (threadId === undefined) return url;
  const u = new URL(url);
  u.searchParams.set('thread_id', threadId);
  return u.toString();
}

export class DiscordChannel implements Channel {
  readonly kind = 'discord';
  readonly name: string;
  private readonly deps: ResolvedDeps;

  constructor(
    private readonly config: DiscordChannelConfig,
    deps: ChannelDeps,
  ) {
    this.name = config.name;
    this.deps = resolveDeps(config, deps);
  }

  send(n: Notification, opts?: SendOptions): Promise<DeliveryResult> {
    const c = this.config;
    const display = `discord webhook ${c.webhookUrl}`;
    return deliverHttp(`discord channel ${c.name}`, this.deps, opts, async (secret) => ({
      url: withThread(requireHttpUrl(await secret(c.webhookUrl), c.webhookUrl), n.threadId),
      display,
      body: JSON.stringify(discordMessage(n, c.username)),
      headers: () => ({ 'content-type': 'application/json', 'user-agent': USER_AGENT }),
      classify: (res, now) => classifyDiscord(res, display, now),
    }));
  }
}
