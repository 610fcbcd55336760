/**
 * `nightshift cron …`: OpenClaw's verbs over nightshift's jobs. Each verb is a thin layer: read
 * flags, call the use case (app/jobs.ts, app/runs.ts, app/status.ts), print text or JSON.
 */
import type { Command } from '@commander-js/extra-typings';
import { UserError } from '../../domain/errors.ts';
import { RUN_STATUSES } from '../../domain/job.ts';
import type { Job } from '../../domain/job.ts';
import {
  describeCronDays,
  describeSchedule,
  nextFireTimes,
  scheduleTimeZone,
} from '../../domain/schedule.ts';
import { formatDuration } from '../../domain/duration.ts';
import type { App } from '../../app/app.ts';
import { listJobs, requireJob, showJob } from '../../app/jobs.ts';
import { listRuns } from '../../app/runs.ts';
import { statusReport } from '../../app/status.ts';
import { jobNextFires, jobStatus, jobView, runPageView } from '../../app/views.ts';
import { globalOptions, withApp } from './context.ts';
import { isoUtc, localTime, relative, renderTable } from './render.ts';
import { displayPath } from '../../app/display-path.ts';
import { selectedJob, withJobSelector } from './job-selector.ts';
import { printJson, printLine } from './output.ts';
import { quoteArg } from '../../domain/contract.ts';
import { choiceFlag, intFlag } from './flag-parsers.ts';
import { scheduleFromFlags } from './job-flags.ts';
import { registerJobEditCommands } from './cron-edit.ts';
import { registerRunCommand } from './cron-run.ts';

export function registerCronCommands(program: Command): void {
  const cron = program
    .command('cron')
    .description('manage scheduled jobs: add, list, show, run, inspect runs');

  registerJobEditCommands(cron);

  cron
    .command('list')
    .description('list jobs: name, id, schedule, next run, last status (disabled jobs only with --all)')
    .option('--all', 'include disabled jobs')
    .option('--agent <name>', 'only the jobs of this agent (its turns, events and heartbeat)')
    .action(async (opts, cmd) => {
      const { json } = globalOptions(cmd);
      await withApp(cmd, async (app) => {
        const now = Date.now();
        const jobs = await listJobs(app, {
          all: opts.all === true,
          ...(opts.agent !== undefined ? { agent: opts.agent } : {}),
        });
        if (json) {
          printJson({ jobs: jobs.map((j) => jobView(j, now)) });
          return;
        }
        if (jobs.length === 0) {
          printLine(
            opts.all ? 'no jobs yet; add one with `nightshift cron add`' : 'no enabled jobs (see --all)',
          );
          return;
        }
        const rows = jobs.map((j) => {
          const next = jobNextFires(j, now, 1)[0];
          return [
            j.name,
            j.id,
            describeSchedule(j.schedule),
            next === undefined ? '-' : `${isoUtc(next)} (${relative(next, now)})`,
            jobStatus(j),
          ];
        });
        printLine(renderTable(['NAME', 'ID', 'SCHEDULE', 'NEXT RUN', 'STATUS'], rows));
      });
    });

  withJobSelector(cron.command('get').description('print a job as raw JSON')).action(
    async (positional, opts, cmd) => {
      const idOrName = selectedJob(cmd.name(), positional, opts.name);
      await withApp(cmd, async (app) => printJson(await requireJob(app, idOrName)));
    },
  );

  withJobSelector(
    cron
      .command('show')
      .description('show a job in words: its execution contract, time zone and next 5 fire times'),
  ).action(async (positional, opts, cmd) => {
    const idOrName = selectedJob(cmd.name(), positional, opts.name);
    const { json } = globalOptions(cmd);
    await withApp(cmd, async (app) => {
      const now = Date.now();
      const { job, contract, nextFires } = await showJob(app, idOrName, { nowMs: now });
      if (json) {
        printJson({ ...jobView(job, now), contract, nextRuns: nextFires.map(isoUtc) });
        return;
      }
      printShow(job, contract, now);
    });
  });

  withJobSelector(cron.command('runs').description("a job's run history, newest first"))
    .option('--id <job>', 'job id or exact name (or the id of a deleted one-shot job)')
    .option('--status <status>', `only runs with this status (${RUN_STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most n runs (default 20)')
    .option('--offset <n>', 'skip the newest n runs (default 0)')
    .option('--cursor <cursor>', 'the page after the one whose nextCursor this is (--json prints it)')
    .action(async (positional, opts, cmd) => {
      const { json } = globalOptions(cmd);
      const ref = selectedJob('runs', positional, opts.id, opts.name);
      const status =
        opts.status === undefined ? undefined : choiceFlag('--status', opts.status, RUN_STATUSES);
      const limit = opts.limit === undefined ? 20 : intFlag('--limit', opts.limit, { min: 1 });
      const offset = opts.offset === undefined ? 0 : intFlag('--offset', opts.offset);
      await withApp(cmd, async (app) => {
        const page = await listRuns(app, {
          job: ref,
          ...(status ? { status } : {}),
          limit,
          offset,
          ...(opts.cursor !== undefined ? { cursor: opts.cursor } : {}),
        });
        const job = page.owner;
        if (json) {
          printJson(runPageView(page));
          return;
        }
        if (page.entries.length === 0) {
          printLine(`no runs${status ? ` with status ${status}` : ''} for ${job.name} yet`);
          return;
        }
        const rows = page.entries.map((r) => [
          r.runId,
          r.status,
          r.trigger + (r.attempt > 1 ? ` #${r.attempt}` : ''),
          isoUtc(r.slotMs),
          r.durationMs === undefined ? '-' : formatDuration(r.durationMs),
          r.exitCode === undefined || r.exitCode === null ? '-' : String(r.exitCode),
          (r.error ?? '').replace(/\s+/g, ' ').slice(0, 80),
        ]);
        printLine(renderTable(['RUN', 'STATUS', 'TRIGGER', 'SLOT (UTC)', 'TOOK', 'EXIT', 'REASON'], rows));
        if (opts.cursor !== undefined) {
          printLine(
            `${page.entries.length} of ${page.total}${page.nextCursor ? ` (more with --cursor ${page.nextCursor})` : ''}`,
          );
          return;
        }
        const shown = offset + page.entries.length;
        printLine(`${shown} of ${page.total}${page.hasMore ? ` (more with --offset ${shown})` : ''}`);
      });
    });

  registerRunCommand(cron);

  cron
    .command('status')
    .description(
      'is the daemon running (with a PostgreSQL store: every daemon, its host, pid, version, last heartbeat, runs in flight), how many jobs, what fires next, which jobs are failing',
    )
    .action(async (_opts, cmd) => {
      const { json } = globalOptions(cmd);
      await withApp(cmd, async (app) => printStatus(app, json));
    });

  cron
    .command('next')
    .description('preview fire times of a schedule without creating a job')
    .option('--cron <expr>', 'cron expression')
    .option('--tz <iana>', 'time zone for --cron / an offset-less --at (default: host zone for cron)')
    .option('--every <duration>', 'interval, anchored at --from')
    .option('--at <when>', 'one-shot time')
    .option('--from <iso>', 'preview fires after this instant, as for a job created then (default: now)')
    .option('--count <n>', 'how many fire times (default 5)')
    .action((opts, cmd) => {
      const { json } = globalOptions(cmd);
      let fromMs = Date.now();
      if (opts.from !== undefined) {
        const parsed = Date.parse(opts.from);
        if (!Number.isFinite(parsed)) {
          throw new UserError(`--from: cannot read "${opts.from}" as a time`, {
            hint: 'use ISO 8601, e.g. 2027-03-14T00:00:00Z',
          });
        }
        fromMs = parsed;
      }
      const count = opts.count === undefined ? 5 : intFlag('--count', opts.count, { min: 1 });
      if (count > 1000) throw new UserError('--count is at most 1000', { hint: 'for example --count 10' });
      const schedule = scheduleFromFlags(opts, fromMs);
      if (!schedule) {
        throw new UserError('give a schedule to preview: --cron EXPR, --every DURATION or --at TIME', {
          hint: 'for example nightshift cron next --cron "0 7 * * *" --tz Europe/Berlin',
        });
      }
      // As the daemon does for a job created at --from: the first fire strictly after it.
      const fires = nextFireTimes(schedule, fromMs, count, fromMs);
      if (json) {
        printJson(fires.map(isoUtc));
        return;
      }
      const tz = scheduleTimeZone(schedule);
      const cronDays = describeCronDays(schedule);
      printLine(`${describeSchedule(schedule)}${cronDays ? `, ${cronDays}` : ''}, after ${isoUtc(fromMs)}:`);
      if (fires.length === 0) printLine('  never fires after that');
      for (const f of fires) printLine(`  ${isoUtc(f)}  ${localTime(f, tz)} ${tz}`);
    });
}

function printShow(job: Job, contract: string[], now: number): void {
  printLine(`${job.name}  (id ${job.id}, ${job.enabled ? 'enabled' : 'disabled'}, status ${jobStatus(job)})`);
  if (job.description) printLine(`  ${job.description}`);
  if (job.source?.kind === 'file') printLine(`source: file ${displayPath(job.source.path)}`);
  else if (job.source?.kind === 'openclaw') printLine(`source: OpenClaw job ${job.source.id}`);
  printLine('');
  printLine('execution contract:');
  for (const line of contract) printLine(`  ${line}`);
  const s = job.state;
  printLine('');
  if (s.lastRunAtMs === undefined) printLine('last run: never');
  else {
    printLine(
      `last run: ${s.lastRunStatus ?? '?'} at ${isoUtc(s.lastRunAtMs)} (${relative(s.lastRunAtMs, now)})` +
        (s.lastDurationMs !== undefined ? `, took ${formatDuration(s.lastDurationMs)}` : ''),
    );
    if (s.lastError) printLine(`  reason: ${s.lastError}`);
    if (s.consecutiveErrors > 0) printLine(`  consecutive failures: ${s.consecutiveErrors}`);
  }
  printLine(`runs: nightshift cron runs --id ${job.id}`);
  printLine(`if it does not run or fails: nightshift doctor --job ${quoteArg(job.name)}`);
}

async function printStatus(app: App, json: boolean): Promise<void> {
  const now = Date.now();
  const report = await statusReport(app, now);
  if (json) {
    printJson(report);
    return;
  }
  const { daemon, jobs, nextFire, failing } = report;
  printLine(`home: ${report.home}`);
  if (daemon.running) {
    const since = daemon.startedAtMs ? `, up since ${isoUtc(daemon.startedAtMs)}` : '';
    printLine(`daemon: running (pid ${daemon.pid ?? '?'}${since})`);
  } else printLine('daemon: not running (start it with `nightshift daemon`)');
  if (report.cluster) {
    const alive = report.cluster.filter((d) => d.state === 'alive');
    printLine(`cluster: ${alive.length} daemon${alive.length === 1 ? '' : 's'} alive`);
    for (const d of report.cluster.slice(0, 20)) {
      printLine(
        `  ${d.host} pid ${d.pid} v${d.version}: ${d.state}, last heartbeat ${relative(d.lastHeartbeatMs, now)}, ` +
          `${d.runsInFlight} run${d.runsInFlight === 1 ? '' : 's'} in flight`,
      );
    }
  }
  printLine(`jobs: ${jobs.total} (${jobs.enabled} enabled)`);
  printLine(
    nextFire
      ? `next fire: ${nextFire.name} at ${isoUtc(nextFire.atMs)} (${relative(nextFire.atMs, now)})`
      : 'next fire: none',
  );
  if (failing.length === 0) printLine('failing: none');
  else {
    printLine(`failing: ${failing.length}`);
    for (const j of failing) {
      printLine(
        `  ${j.name} (${j.id}): ${j.lastRunStatus ?? 'error'}` +
          (j.consecutiveErrors > 1 ? `, ${j.consecutiveErrors} times in a row` : '') +
          (j.lastError ? ` — ${j.lastError}` : ''),
      );
    }
  }
}
