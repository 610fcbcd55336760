/**
 * Telegram Bot API: `POST {apiBase}/bot<token>/sendMessage` with `chat_id`, `text` and
 * `parse_mode`. The token is part of the URL, so the URL is never shown: errors name the API base
 * and the chat, and the token is scrubbed from anything that might quote it.
 */
import type { Channel, DeliveryResult, Notification, SendOptions } from './channel.ts';
import type { TelegramChannelConfig, TelegramParseMode } from '../config/channel-config.ts';
import { resolveDeps } from './deps.ts';
import type { ChannelDeps, ResolvedDeps } from './deps.ts';
import { SEVERITY_EMOJI, facts, oneLine, truncate } from './plain-text.ts';
import { deliverHttp } from './http-channel.ts';
import { classify } from './http.ts';
import type { HttpResponse } from './http.ts';
import type { AttemptOutcome } from './retry.ts';
import { USER_AGENT } from './webhook.ts';

export const TELEGRAM_API = 'https://api.telegram.org';
/** Telegram refuses messages over 4096 characters; the parts are cut well before that. */
const TEXT_MAX = 3000;
const FACT_MAX = 200;

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Escapes every character MarkdownV2 reserves. */
export function escapeMarkdownV2(text: string): string {
  return text.replace(/[_*[\]()~`>#+\-=|{}.!\\]/g, '\\$&');
}

/** The message text in the given parse mode. */
export function telegramText(n: Notification, mode: TelegramParseMode): string {
  const title = `${SEVERITY_EMOJI[n.severity]} ${truncate(oneLine(n.title), FACT_MAX)}`;
  const body = truncate(n.text.trim(), TEXT_MAX);
  const rows = facts(n).map(([k, v]) => [truncate(k, FACT_MAX), truncate(v, FACT_MAX)] as const);
  const parts: string[] = [];
  if (mode === 'HTML') {
    parts.push(`<b>${escapeHtml(title)}</b>`);
    if (body !== '') parts.push(escapeHtml(body));
    if (rows.length > 0)
      parts.push(rows.map(([k, v]) => `<b>${escapeHtml(k)}</b>: ${escapeHtml(v)}`).join('\n'));
    if (n.url !== undefined) parts.push(`<a href="${escapeHtml(n.url)}">Details</a>`);
  } else if (mode === 'MarkdownV2') {
    parts.push(`*${escapeMarkdownV2(title)}*`);
    if (body !== '') parts.push(escapeMarkdownV2(body));
    if (rows.length > 0)
      parts.push(rows.map(([k, v]) => `*${escapeMarkdownV2(k)}*: ${escapeMarkdownV2(v)}`).join('\n'));
    if (n.url !== undefined) parts.push(`[Details](${n.url.replace(/[)\\]/g, '\\$&')})`);
  } else {
    parts.push(title);
    if (body !== '') parts.push(body);
    if (rows.length > 0) parts.push(rows.map(([k, v]) => `${k}: ${v}`).join('\n'));
    if (n.url !== undefined) parts.push(n.url);
  }
  return parts.join('\n\n');
}

/** Telegram answers errors as `{ ok: false, error_code, description, parameters: { retry_after } }`. */
export function classifyTelegram(res: HttpResponse, display: string, nowMs: number): AttemptOutcome {
  let body: { ok?: unknown; description?: unknown; parameters?: { retry_after?: unknown } } | undefined;
  try {
    body = JSON.parse(res.text) as typeof body;
  } catch {
    body = undefined;
  }
  if (res.status >= 200 && res.status < 300) {
    if (body?.ok === true) return { ok: true, status: res.status };
    return {
      ok: false,
      status: res.status,
      error: `${display} did not accept the message`,
      retryable: false,
    };
  }
  const outcome = classify(res, display, nowMs);
  if (outcome.ok || body === undefined) return outcome;
  const description =
    typeof body.description === 'string' ? `: ${oneLine(body.description).slice(0, 200)}` : '';
  const retryAfter = body.parameters?.retry_after;
  return {
    ...outcome,
    error: `${display} answered HTTP ${res.status}${description}`,
    ...(typeof retryAfter === 'number' && retryAfter >= 0 && { retryAfterMs: Math.ceil(retryAfter * 1000) }),
  };
}

export class TelegramChannel implements Channel {
  readonly kind = 'telegram';
  readonly name: string;
  private readonly deps: ResolvedDeps;

  constructor(
    private readonly config: TelegramChannelConfig,
    deps: ChannelDeps,
  ) {
    this.name = config.name;
    this.deps = resolveDeps(config, deps);
  }

  send(n: Notification, opts?: SendOptions): Promise<DeliveryResult> {
    const c = this.config;
    const base = c.apiBase ?? TELEGRAM_API;
    // `--to` picks another chat of the same bot.
    const target = n.to ?? c.chatId;
    const display = `telegram ${base} (chat ${target})`;
    const mode = c.parseMode ?? 'HTML';
    return deliverHttp(`telegram channel ${c.name}`, this.deps, opts, async (secret) => {
      const token = await secret(c.botToken);
      const chatId = /^-?\d+$/.test(target) && Number.isSafeInteger(Number(target)) ? Number(target) : target;
      const payload: Record<string, unknown> = {
        chat_id: chatId,
        text: telegramText(n, mode),
        link_preview_options: { is_disabled: true },
      };
      // A forum topic of the chat (Telegram numbers them).
      if (n.threadId !== undefined) payload.message_thread_id = Number(n.threadId);
      if (mode !== 'none') payload.parse_mode = mode;
      if (c.quietBelowWarning && (n.severity === 'info' || n.severity === 'recovery'))
        payload.disable_notification = true;
      return {
        url: `${base}/bot${token}/sendMessage`,
        display,
        body: JSON.stringify(payload),
        headers: () => ({ 'content-type': 'application/json', 'user-agent': USER_AGENT }),
        classify: (res, now) => classifyTelegram(res, display, now),
      };
    });
  }
}
