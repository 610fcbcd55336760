/**
 * ntfy: `POST {server}/{topic}` with the message as the body and `Title`, `Priority`, `Tags`
 * (and `Click` for a link) as headers; an access token goes in `Authorization: Bearer`.
 * Header values must be ASCII on the wire, so a title with other characters is sent RFC 2047
 * encoded, which ntfy decodes.
 */
import type { Channel, DeliveryResult, Notification, SendOptions, Severity } from './channel.ts';
import type { NtfyChannelConfig } from '../config/channel-config.ts';
import { resolveDeps } from './deps.ts';
import type { ChannelDeps, ResolvedDeps } from './deps.ts';
import { SEVERITY_LABEL, oneLine, plainBody, truncate } from './plain-text.ts';
import { deliverHttp } from './http-channel.ts';
import { USER_AGENT } from './webhook.ts';

export const NTFY_SERVER = 'https://ntfy.sh';

/** ntfy priorities: 3 default, 4 high, 5 max (wakes the phone). */
export const NTFY_PRIORITY: Record<Severity, number> = { info: 3, warning: 4, error: 5, recovery: 3 };

/** Tags that ntfy shows as emoji in front of the title. */
export const NTFY_TAGS: Record<Severity, string> = {
  info: 'information_source',
  warning: 'warning',
  error: 'rotating_light',
  recovery: 'white_check_mark',
};

/** Header-safe form of a value: as is when printable ASCII, else RFC 2047 `=?UTF-8?B?...?=`. */
export function headerValue(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  return `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

export function ntfyRequest(n: Notification): { headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = {
    title: headerValue(truncate(`${SEVERITY_LABEL[n.severity]}: ${oneLine(n.title)}`, 250)),
    priority: String(NTFY_PRIORITY[n.severity]),
    tags: `${NTFY_TAGS[n.severity]},nightshift`,
    'content-type': 'text/plain; charset=utf-8',
    'user-agent': USER_AGENT,
  };
  if (n.url !== undefined && /^https?:\/\/[\x21-\x7e]+$/.test(n.url)) headers.click = n.url;
  // ntfy turns messages over 4096 bytes into attachments; alerts stay well below.
  return { headers, body: truncate(plainBody(n) || oneLine(n.title), 3500) };
}

export class NtfyChannel implements Channel {
  readonly kind = 'ntfy';
  readonly name: string;
  private readonly deps: ResolvedDeps;

  constructor(
    private readonly config: NtfyChannelConfig,
    deps: ChannelDeps,
  ) {
    this.name = config.name;
    this.deps = resolveDeps(config, deps);
  }

  send(n: Notification, opts?: SendOptions): Promise<DeliveryResult> {
    const c = this.config;
    const url = `${c.server ?? NTFY_SERVER}/${c.topic}`;
    return deliverHttp(`ntfy channel ${c.name}`, this.deps, opts, async (secret) => {
      const req = ntfyRequest(n);
      if (c.token !== undefined) req.headers.authorization = `Bearer ${await secret(c.token)}`;
      return { url, display: `ntfy ${url}`, body: req.body, headers: () => req.headers };
    });
  }
}
