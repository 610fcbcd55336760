/**
 * Channels: does each configured destination answer? A dry request where the protocol has one
 * (delivery/probe.ts); a real test message only with `--send-test`.
 */
import { probeChannel } from '../../../delivery/probe.ts';
import { configuredChannel } from '../../../delivery/create-channel.ts';
import { sendTestMessage } from '../../../delivery/test-message.ts';
import { effectivePolicy } from '../../../alerts/policy.ts';
import { nightshiftCommand } from '../check.ts';
import type { DoctorCheck, Finding } from '../check.ts';

export const deliveryCheck: DoctorCheck = {
  id: 'delivery',
  title: 'delivery channels',
  async run(ctx) {
    const config = ctx.app.config();
    let channels = config.channels;
    if (ctx.job) {
      // Only what this job would use: its alert channels (or the default ones) and its delivery.
      const p = effectivePolicy(ctx.job);
      const used = new Set(p.channels.length > 0 ? p.channels : config.alerts.channels);
      const d = ctx.job.delivery;
      if (d?.mode === 'announce') used.add(d.channel);
      if (d && d.mode !== 'none' && d.failureDestination) used.add(d.failureDestination.channel);
      channels = channels.filter((c) => used.has(c.name));
    }
    if (channels.length === 0) return [{ check: 'delivery', level: 'ok', message: 'no channels to check' }];
    const resolveSecret = async (ref: string): Promise<string> =>
      (await ctx.app.secrets().resolve(ref)).reveal();
    const out: Finding[] = [];
    for (const c of channels) {
      if (ctx.sendTest) {
        const result = await sendTestMessage(
          configuredChannel(ctx.app, c.name, ctx.fetch ? { fetch: ctx.fetch } : {}),
        );
        out.push(
          result.ok
            ? {
                check: 'delivery',
                level: 'ok',
                message: `channel ${c.name} (${c.kind}): test message delivered`,
              }
            : {
                check: 'delivery',
                level: 'fail',
                message: `channel ${c.name} (${c.kind}): test message not delivered: ${result.error ?? 'unknown error'}`,
                fix: `fix the channel in config.json, then ${nightshiftCommand(ctx, `alert test ${c.name}`)}`,
              },
        );
        continue;
      }
      const probe = await probeChannel(c, { resolveSecret, ...(ctx.fetch && { fetch: ctx.fetch }) });
      out.push(
        probe.ok
          ? { check: 'delivery', level: 'ok', message: `channel ${c.name} (${c.kind}): ${probe.detail}` }
          : {
              check: 'delivery',
              level: 'fail',
              message: `channel ${c.name} (${c.kind}) does not answer: ${probe.detail}`,
              fix: `fix the channel in config.json, then ${nightshiftCommand(ctx, `alert test ${c.name}`)} (sends a real message)`,
            },
      );
    }
    return out;
  },
};
