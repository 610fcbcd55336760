/**
 * `nightshift status`: the one-screen answer to "is it running, and where do I look": the daemon
 * (pid, since when), the address of its API and dashboard, jobs and what fires next, failing jobs.
 * The job figures are `cron status`'s; --json adds `http` ({url, dashboard} or null).
 */
import type { Command } from '@commander-js/extra-typings';
import { readDaemonAddress } from '../../app/daemon-address.ts';
import { globalOptions, withApp } from './context.ts';
import { isoUtc, relative } from './render.ts';
import { printJson, printLine } from './output.ts';
import { statusReport } from '../../app/status.ts';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('is the daemon running, where its dashboard is, what fires next, which jobs fail')
    .action(async (_opts, cmd) => {
      const { json } = globalOptions(cmd);
      await withApp(cmd, async (app) => {
        const now = Date.now();
        const report = await statusReport(app, now);
        const address = report.daemon.running ? readDaemonAddress(app.home.dir) : undefined;
        const http = address ? { url: address.url, dashboard: `${address.url}/` } : null;
        if (json) {
          printJson({ ...report, http });
          return;
        }
        const { daemon, jobs, nextFire, failing } = report;
        if (daemon.running)
          printLine(
            `daemon:    running (pid ${daemon.pid ?? '?'}${daemon.startedAtMs ? `, up since ${isoUtc(daemon.startedAtMs)}` : ''})`,
          );
        else
          printLine(
            'daemon:    not running (start it with `nightshift daemon`, or `nightshift service install`)',
          );
        printLine(`home:      ${report.home}`);
        if (http) {
          printLine(`api:       ${http.url}/api/v1`);
          printLine(`dashboard: ${http.dashboard}`);
        } else if (daemon.running)
          printLine(
            'dashboard: off (start the daemon with --http 127.0.0.1:7420, or add "http" to config.json)',
          );
        printLine(`jobs:      ${jobs.total} (${jobs.enabled} enabled)`);
        printLine(
          `next:      ${nextFire ? `${nextFire.name} at ${isoUtc(nextFire.atMs)} (${relative(nextFire.atMs, now)})` : 'none'}`,
        );
        printLine(
          `failing:   ${failing.length === 0 ? 'none' : failing.map((f) => `${f.name} (${f.lastRunStatus ?? 'error'})`).join(', ')}`,
        );
      });
    });
}
