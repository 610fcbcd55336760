/**
 * Builds the Channel for a validated configuration. This is the one place that knows every
 * channel kind; callers hold only the Channel port.
 */
import type { Channel } from './channel.ts';
import type { ChannelConfig } from './config.ts';
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
