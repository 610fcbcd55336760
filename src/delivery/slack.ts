/**
 * Slack incoming webhook: POST `{ text, blocks }` to the webhook URL. `text` is the plain
 * fallback shown in notifications; `blocks` lay out the title, message, facts and link. The URL
 * embeds the credential, so it is configured as a secret reference and never shown.
 */
import type { Channel, DeliveryResult, Notification, SendOptions } from './channel.ts';
import type { SlackChannelConfig } from '../config/channel-config.ts';
import { resolveDeps } from './deps.ts';
import type { ChannelDeps, ResolvedDeps } from './deps.ts';
import { SEVERITY_EMOJI, facts, oneLine, truncate } from './plain-text.ts';
import { deliverHttp } from './http-channel.ts';
import { requireHttpUrl } from './http.ts';
import { USER_AGENT } from './webhook.ts';

// Slack's block limits: header 150 chars, section text 3000, 10 fields of 2000 each.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const FIELDS_PER_SECTION = 10;

type Block = Record<string, unknown>;

/** Escapes the three characters Slack's mrkdwn treats as markup. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackMessage(n: Notification): { text: string; blocks: Block[] } {
  const title = `${SEVERITY_EMOJI[n.severity]} ${oneLine(n.title)}`;
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(title, HEADER_MAX), emoji: true } },
  ];
  if (n.text.trim() !== '')
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: truncate(escapeMrkdwn(n.text.trim()), SECTION_MAX) },
    });
  const all = facts(n);
  for (let i = 0; i < all.length; i += FIELDS_PER_SECTION)
    blocks.push({
      type: 'section',
      fields: all.slice(i, i + FIELDS_PER_SECTION).map(([k, v]) => ({
        type: 'mrkdwn',
        text: truncate(`*${escapeMrkdwn(k)}*\n${escapeMrkdwn(v)}`, FIELD_MAX),
      })),
    });
  if (n.url !== undefined)
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `<${n.url.replace(/[|>]/g, encodeURIComponent)}|Details>` }],
    });
  return { text: title, blocks };
}

export class SlackChannel implements Channel {
  readonly kind = 'slack';
  readonly name: string;
  private readonly deps: ResolvedDeps;

  constructor(
    private readonly config: SlackChannelConfig,
    deps: ChannelDeps,
  ) {
    this.name = config.name;
    this.deps = resolveDeps(config, deps);
  }

  send(n: Notification, opts?: SendOptions): Promise<DeliveryResult> {
    const c = this.config;
    return deliverHttp(`slack channel ${c.name}`, this.deps, opts, async (secret) => ({
      url: requireHttpUrl(await secret(c.webhookUrl), c.webhookUrl),
      display: `slack webhook ${c.webhookUrl}`,
      // A reply in the thread of the message with this timestamp (`thread_ts`).
      body: JSON.stringify(
        n.threadId !== undefined ? { ...slackMessage(n), thread_ts: n.threadId } : slackMessage(n),
      ),
      headers: () => ({ 'content-type': 'application/json; charset=utf-8', 'user-agent': USER_AGENT }),
    }));
  }
}
