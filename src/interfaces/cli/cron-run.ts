/**
 * `cron run <job> [--due] [--wait | --follow] [--timeout DUR]`: OpenClaw's manual run. Prints
 * `{ok, enqueued, runId}`; with --wait also the finished run, and exits 0 only if it ended `ok`.
 */
import type { Command } from '@commander-js/extra-typings';
import { EXIT, UserError } from '../../domain/errors.ts';
import type { ExitCode } from '../../domain/errors.ts';
import type { Run } from '../../domain/job.ts';
import { formatDuration } from '../../domain/duration.ts';
import type { RunExecutor } from '../../app/run-now.ts';
import { requireJob } from '../../app/jobs.ts';
import { runView } from '../../app/views.ts';
import { globalOptions, withApp } from './context.ts';
import { durationFlag } from './flag-parsers.ts';
import { selectedJob, withJobSelector } from './job-selector.ts';
import { printJson, printLine } from './output.ts';
import { quoteArg } from '../../domain/contract.ts';
import { LiveOutput } from '../../payloads/live-output.ts';
import { defaultRedactor } from '../../secrets/redact.ts';

function describeExecutor(executor: RunExecutor): string {
  switch (executor.by) {
    case 'daemon':
      return `queued for the daemon${executor.holder ? ` (pid ${executor.holder.pid})` : ''}`;
    case 'nobody-yet':
      return `queued; another nightshift process${executor.holder ? ` (pid ${executor.holder.pid})` : ''} holds the home, so it runs once a daemon is started`;
    case 'this-process':
      return 'running here (no daemon is running on this home)';
  }
}

function describeRun(run: Run): string {
  const took = run.durationMs !== undefined ? ` in ${formatDuration(run.durationMs)}` : '';
  const exit = run.exitCode !== undefined && run.exitCode !== null ? `, exit ${run.exitCode}` : '';
  return `run ${run.runId}: ${run.status}${took}${exit}${run.error ? ` — ${run.error}` : ''}`;
}

const FAILED = new Set<Run['status']>(['error', 'timeout', 'interrupted', 'missed']);
/** How much of a failed run's output is shown; `cron runs` has the whole kept tail. */
const TAIL_LINES = 20;

/** The end of a failed run's output, and where to look next. */
function printFailure(run: Run, jobName: string): void {
  const lines = (run.outputTail ?? '').replace(/\s+$/, '').split('\n');
  if (lines.length > 1 || lines[0] !== '') {
    const shown = lines.slice(-TAIL_LINES);
    printLine(`last ${shown.length} line${shown.length === 1 ? '' : 's'} of its output:`);
    for (const line of shown) printLine(`  | ${line}`);
  } else printLine('it printed nothing');
  printLine(
    `more: nightshift cron runs --id ${quoteArg(jobName)}; nightshift doctor --job ${quoteArg(jobName)}`,
  );
}

export function registerRunCommand(cron: Command): void {
  withJobSelector(
    cron
      .command('run')
      .description('run a job now (queued for the daemon if one is running, else run in this process)'),
  )
    .option('--due', 'only run if the job has a slot due now')
    .option('--wait', 'wait for the run to finish; exit 0 only if it ended ok')
    .option('--timeout <duration>', 'with --wait: give up waiting after this long (default: no limit)')
    .option(
      '--follow',
      "--wait, printing the run's output line by line as it comes when this process runs it (a daemon's run: its output once it ends)",
    )
    .action(async (positional, opts, cmd) => {
      const idOrName = selectedJob('run', positional, opts.name);
      const { json } = globalOptions(cmd);
      const timeoutMs = opts.timeout === undefined ? undefined : durationFlag('--timeout', opts.timeout);
      const follow = opts.follow === true;
      const wait = opts.wait === true || follow;
      if (follow && json) {
        throw new UserError('--follow prints the output as text; it cannot go with --json', {
          hint: 'use --wait --json (the run, with its output tail, at the end), or --follow without --json',
        });
      }
      if (timeoutMs !== undefined && !wait) {
        throw new UserError('--timeout only applies with --wait', { hint: 'add --wait, or drop --timeout' });
      }
      // Loaded here: the engine and executors are only needed by this command.
      const { requestManualRun, waitForRun } = await import('../../app/run-now.ts');
      const code = await withApp(cmd, async (app): Promise<ExitCode> => {
        const job = await requireJob(app, idOrName);
        const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
        const abort = new AbortController();
        let executor: RunExecutor | undefined;
        // In-process runs are stopped (whole process group) and recorded; waiting on a daemon just ends.
        const onSignal = (): void => {
          if (executor?.by === 'this-process') abort.abort();
          else process.exit(130);
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const timer =
          deadline === undefined
            ? undefined
            : setTimeout(() => {
                if (executor?.by === 'this-process') abort.abort();
              }, timeoutMs);
        try {
          // Whole lines, redacted like every other output of this process.
          const live = follow ? new LiveOutput() : undefined;
          const outcome = await requestManualRun(app, idOrName, {
            due: opts.due === true,
            signal: abort.signal,
            ...(live ? { output: live } : {}),
            onRequested: (result, by) => {
              executor = by;
              if (result.runId !== undefined)
                live?.follow(result.runId, (e) => {
                  if (e.kind === 'line') printLine(defaultRedactor.redact(e.text));
                });
              if (json) return;
              if (!result.enqueued) printLine(`not run: ${result.reason ?? 'nothing to do'}`);
              else printLine(`run ${result.runId}: ${describeExecutor(by)}`);
            },
          });
          const result = outcome.result;
          let run = outcome.run;
          if (!run && wait && result.enqueued && result.runId) {
            run = await waitForRun(app, result.runId, deadline);
            // A daemon's run: its live output is in the daemon (GET /api/v1/runs/ID/output?follow=1).
            if (follow && run?.outputTail) process.stdout.write(defaultRedactor.redact(run.outputTail));
          }
          if (json) {
            printJson({
              ok: result.ok,
              enqueued: result.enqueued,
              runId: result.runId ?? null,
              ...(result.reason !== undefined ? { reason: result.reason } : {}),
              ...(wait && run ? { run: runView(run) } : {}),
            });
          } else if (run && (wait || outcome.executor.by === 'this-process')) {
            printLine(describeRun(run));
            if (FAILED.has(run.status)) printFailure(run, job.name);
            if (run.status === 'queued' || run.status === 'running') {
              printLine(
                `still ${run.status} after ${formatDuration(timeoutMs ?? 0)}; follow it with \`nightshift cron runs --id ${run.jobId}\``,
              );
            }
          }
          if (!result.ok) return EXIT.conflict;
          if (wait) return result.enqueued && run?.status === 'ok' ? EXIT.ok : EXIT.failed;
          return EXIT.ok;
        } finally {
          if (timer) clearTimeout(timer);
          process.removeListener('SIGINT', onSignal);
          process.removeListener('SIGTERM', onSignal);
        }
      });
      process.exitCode = code;
    });
}
