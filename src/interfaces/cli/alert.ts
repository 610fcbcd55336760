/**
 * `nightshift alert test CHANNEL` sends a harmless test notice through a configured channel and
 * exits 1 with the reason when it was not accepted; `nightshift alert list` shows the configured
 * channels and which of them get alerts by default; `nightshift alert status [JOB]` shows what the
 * alerting remembers per job. See docs/alerts.md.
 */
import type { Command } from '@commander-js/extra-typings';
import { configuredChannel } from '../../delivery/create-channel.ts';
import { assertDelivered, sendTestMessage } from '../../delivery/test-message.ts';
import { formatDuration } from '../../domain/duration.ts';
import { alertChannels, alertStatus } from '../../app/alerts.ts';
import { globalOptions, withApp } from './context.ts';
import { renderTable, isoUtc } from './render.ts';
import { printJson, printLine } from './output.ts';

export function registerAlertCommands(program: Command): void {
  const alert = program
    .command('alert')
    .description('alert channels: test a channel, list channels, show per-job alert state');

  alert
    .command('test')
    .description('send a test notice through CHANNEL; exit 1 with the reason when it is not accepted')
    .argument('<channel>', 'a channel name from the configuration')
    .action(async (name, _opts, cmd) => {
      const { json } = globalOptions(cmd);
      await withApp(cmd, async (app) => {
        const channel = configuredChannel(app, name);
        const result = await sendTestMessage(channel);
        if (json) {
          printJson({
            channel: channel.name,
            kind: channel.kind,
            delivered: result.ok,
            attempts: result.attempts,
            ...(result.status !== undefined ? { status: result.status } : {}),
            durationMs: result.durationMs,
            ...(result.error !== undefined ? { error: result.error } : {}),
          });
        } else if (result.ok) {
          printLine(
            `delivered a test message through ${channel.kind} channel "${channel.name}" ` +
              `(${result.attempts} attempt${result.attempts === 1 ? '' : 's'}, ${result.durationMs} ms)`,
          );
        }
        assertDelivered(channel, result);
      });
    });

  alert
    .command('list')
    .description('the configured channels, their kind, and which ones get alerts by default')
    .action(async (_opts, cmd) => {
      const { json } = globalOptions(cmd);
      await withApp(cmd, async (app) => {
        const config = app.config();
        const listed = alertChannels(app);
        const { channels } = listed;
        if (json) {
          printJson({ ...listed, healthchecks: config.healthchecks });
          return;
        }
        if (channels.length === 0) {
          printLine(
            'no channels configured: add them under "channels" in the configuration (docs/alerts.md)',
          );
          return;
        }
        printLine(
          renderTable(
            ['NAME', 'KIND', 'DEFAULT'],
            channels.map((c) => [c.name, c.kind, c.default ? 'yes' : '']),
          ),
        );
        if (listed.defaults.length === 0)
          printLine('\nno default alert channels: set "alerts.channels", or give jobs --alert-channel');
        if (config.healthchecks.baseUrl)
          printLine(`\nhealthcheck pings: ${config.healthchecks.baseUrl}/<job id>`);
      });
    });

  alert
    .command('status')
    .description('per job: its alert policy, consecutive failures, and whether a recovery notice is owed')
    .argument('[job]', 'a job id or name (default: every job with alerting)')
    .action(async (idOrName, _opts, cmd) => {
      const { json } = globalOptions(cmd);
      await withApp(cmd, async (app) => {
        const rows = (await alertStatus(app, idOrName)).map(({ lastOkAtMs, ...r }) => ({
          ...r,
          ...(lastOkAtMs !== undefined ? { lastOkAt: isoUtc(lastOkAtMs) } : {}),
        }));
        if (json) {
          printJson({ jobs: rows });
          return;
        }
        if (rows.length === 0) {
          printLine(
            'no job has alerting (backup and drill jobs alert by default; others need --alert-after)',
          );
          return;
        }
        printLine(
          renderTable(
            ['JOB', 'ALERT AFTER', 'NO OK WITHIN', 'FAILURES', 'ALERTING', 'LAST OK'],
            rows.map((r) => [
              r.name,
              r.policy.afterFailures > 0 ? `${r.policy.afterFailures} failure(s)` : 'off',
              r.policy.ifNoSuccessWithinMs !== undefined ? formatDuration(r.policy.ifNoSuccessWithinMs) : '-',
              String(r.state.failures ?? 0),
              r.state.alerting ? 'yes' : 'no',
              r.lastOkAt ?? '-',
            ]),
          ),
        );
      });
    });
}
