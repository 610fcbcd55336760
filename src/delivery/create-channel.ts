/**
 * Builds the Channel for a validated configuration. This is the one place that knows every
 * channel kind; callers hold only the Channel port.
 */
import type { App } from '../config/app-context.ts';
import { UserError } from '../domain/errors.ts';
import type { Channel } from './channel.ts';
import type { ChannelConfig } from '../config/channel-config.ts';
import type { ChannelDeps } from './deps.ts';
import { DiscordChannel } from './discord.ts';
import { EmailChannel } from './email.ts';
import { NtfyChannel } from './ntfy.ts';
import { SlackChannel } from './slack.ts';
import { TelegramChannel } from './telegram.ts';
import { WebhookChannel } from './webhook.ts';

export type { ChannelDeps } from './deps.ts';

export function createChannel(config: ChannelConfig, deps: ChannelDeps): Channel {
  switch (config.kind) {
    case 'webhook':
      return new WebhookChannel(config, deps);
    case 'slack':
      return new SlackChannel(config, deps);
    case 'discord':
      return new DiscordChannel(config, deps);
    case 'telegram':
      return new TelegramChannel(config, deps);
    case 'ntfy':
      return new NtfyChannel(config, deps);
    case 'email':
      return new EmailChannel(config, deps);
  }
}

/**
 * The configured channel of that name, its secrets resolved through the home's resolver; a
 * `channel_unknown` UserError listing the configured ones otherwise.
 */
export function configuredChannel(
  app: Pick<App, 'config' | 'secrets'>,
  name: string,
  deps: Partial<ChannelDeps> = {},
): Channel {
  const channels = app.config().channels;
  const found = channels.find((c) => c.name === name);
  if (!found)
    throw new UserError(`no channel named "${name}"`, {
      code: 'channel_unknown',
      hint:
        channels.length > 0
          ? `configured channels: ${channels.map((c) => c.name).join(', ')}`
          : 'add it under "channels" in the configuration (see docs/alerts.md)',
    });
  return createChannel(found, {
    resolveSecret: async (ref) => (await app.secrets().resolve(ref)).reveal(),
    ...deps,
  });
}
