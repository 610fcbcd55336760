/**
 * `nightshift daemon [--sample-job]`: the scheduler in the foreground. One log line per event:
 * JSON lines when stdout is not a terminal (or with --json), readable lines on a terminal.
 * SIGTERM/SIGINT stop it cleanly (running jobs are ended and recorded `interrupted`), exit 0.
 */
import type { Command } from '@commander-js/extra-typings';
import type { App } from '../../app/app.ts';
import type { DaemonLogEvent } from '../../app/daemon.ts';
import type { McpEndpointLogEvent } from '../mcp/daemon-endpoint.ts';
import type { HttpEndpointLogEvent } from '../http/daemon-endpoint.ts';
import { formatDuration } from '../../domain/duration.ts';
import { describeSchedule } from '../../domain/schedule.ts';
import { globalOptions } from './context.ts';
import { resolveHomeDir } from '../../config/home.ts';
import { configPath } from '../../config/config.ts';
import { EXIT, UserError } from '../../domain/errors.ts';
import { hostname } from 'node:os';
import { printJson, printLine } from './output.ts';

type DaemonEvent =
  | DaemonLogEvent
  | McpEndpointLogEvent
  | HttpEndpointLogEvent
  | { event: 'daemon.started'; pid: number; home: string; version: string }
  | { event: 'daemon.stopping'; signal: string }
  | { event: 'daemon.stopped' }
  | {
      event: 'sample.job';
      jobId: string;
      name: string;
      created: boolean;
      schedule: string;
      runs: string;
      file: string;
    };

type Logger = (e: DaemonEvent) => void;

/** A readable rendering of one event for a terminal. */
function readable(e: DaemonEvent): string {
  switch (e.event) {
    case 'run.started':
      return `${e.jobName}: run ${e.runId} started (${e.trigger}${e.attempt > 1 ? `, attempt ${e.attempt}` : ''})`;
    case 'run.finished':
      return (
        `${e.jobName}: run ${e.runId} ${e.status} in ${formatDuration(e.durationMs)}` +
        (e.exitCode !== undefined && e.exitCode !== null ? ` (exit ${e.exitCode})` : '') +
        (e.error ? ` — ${e.error}` : '')
      );
    case 'sample.job':
      return (
        `${e.created ? 'added' : 'using'} sample job ${e.name} (${e.schedule}): appends a timestamp to ${e.file}\n` +
        `  its runs: ${e.runs}`
      );
    case 'engine.started':
      return `scheduler started: ${e.jobs} job${e.jobs === 1 ? '' : 's'}, ${e.recovered} interrupted run${e.recovered === 1 ? '' : 's'} recovered, ${e.queued} queued`;
    case 'run.queued':
      return `job ${e.jobId}: run ${e.runId} queued (${e.trigger}${e.attempt > 1 ? `, attempt ${e.attempt}` : ''}), not before ${new Date(e.notBeforeMs).toISOString()}`;
    case 'run.skipped':
      return `job ${e.jobId}: slot ${new Date(e.slotMs).toISOString()} skipped (${e.reason})`;
    case 'run.missed':
      return `job ${e.jobId}: ${e.slots} slot${e.slots === 1 ? '' : 's'} missed while not running (${new Date(e.fromMs).toISOString()} .. ${new Date(e.toMs).toISOString()}), ${e.catchupRuns} catch-up run${e.catchupRuns === 1 ? '' : 's'}`;
    case 'run.interrupted':
      return `job ${e.jobId}: run ${e.runId} recorded interrupted${e.pid ? ` (pid ${e.pid}${e.killed ? ', leftover processes ended' : ''})` : ''}`;
    case 'daemon.stopping':
      return `${e.signal}: stopping; running jobs are ended and recorded interrupted`;
    case 'daemon.stopped':
      return 'stopped';
    case 'config.reloaded':
      return `configuration reloaded from ${e.file}`;
    case 'config.refused':
      return `configuration NOT reloaded (the previous one stays in use): ${e.error}`;
    case 'http.started':
      return `dashboard and API on ${e.dashboard} (${e.clients.length} API client${e.clients.length === 1 ? '' : 's'})`;
    case 'daemon.started':
      return `nightshift ${e.version} daemon started (pid ${e.pid}) on ${e.home}; Ctrl-C stops it`;
    default: {
      const { event, ...rest } = e;
      const fields = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      return `${event}${fields ? ' ' + fields : ''}`;
    }
  }
}

function makeLogger(json: boolean): Logger {
  return (e) => {
    const now = new Date();
    const line = json
      ? JSON.stringify({ ts: now.toISOString(), ...e })
      : `${now.toISOString().slice(0, 19).replace('T', ' ')}Z  ${readable(e)}`;
    process.stdout.write(line + '\n');
  };
}

/** Adds the sample job if absent and says where to look; returns its id when it was created now. */
async function addSampleJob(app: App, log: Logger): Promise<string | undefined> {
  const { ensureSampleJob } = await import('../../app/daemon.ts');
  const { job, created } = await ensureSampleJob(app);
  log({
    event: 'sample.job',
    jobId: job.id,
    name: job.name,
    created,
    schedule: describeSchedule(job.schedule),
    // --home only when a plain command would look elsewhere.
    runs: `nightshift cron runs --id ${job.name}${app.home.dir === resolveHomeDir() ? '' : ` --home ${app.home.dir}`}`,
    file: `${app.home.dir}/sample/heartbeat.log`,
  });
  return created ? job.id : undefined;
}

/**
 * `nightshift daemon reload`: asks the daemon of this home to read config.json again (SIGHUP) and
 * waits until it says, in daemon.json, that it did or why it did not.
 */
async function reloadDaemon(homeFlag: string | undefined, json: boolean): Promise<void> {
  const { openHome } = await import('../../config/home.ts');
  const { probeDaemonLock, readLockHolder, reloadOutcome } = await import('../../app/daemon-lock.ts');
  const { configDigest } = await import('../../config/config-digest.ts');
  const home = openHome(homeFlag);
  const probe = probeDaemonLock(home.daemonLockPath);
  const holder = probe.held ? probe.holder : undefined;
  if (!holder || holder.role !== 'daemon')
    throw new UserError(`no daemon runs on ${home.dir}`, {
      hint: 'start it with `nightshift daemon`; it reads config.json when it starts',
      exitCode: EXIT.notFound,
      code: 'not_found',
    });
  if (holder.host !== hostname())
    throw new UserError(`the daemon of ${home.dir} runs on ${holder.host}, not on this host`, {
      hint: `run \`nightshift daemon reload\` on ${holder.host}`,
      code: 'daemon_elsewhere',
    });
  const want = configDigest(home.dir);
  const before = holder.configLoadedAtMs ?? 0;
  process.kill(holder.pid, 'SIGHUP');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const now = readLockHolder(home.daemonLockPath);
    const outcome = reloadOutcome(now, want, before);
    if (outcome === 'refused')
      throw new UserError(`the daemon (pid ${holder.pid}) refused config.json: ${now?.configError}`, {
        hint: 'fix the file (`nightshift doctor` names the field), then run `nightshift daemon reload` again; the previous configuration stays in use',
        code: 'config_invalid',
      });
    if (outcome === 'reloaded') break;
    if (Date.now() > deadline)
      throw new UserError(`the daemon (pid ${holder.pid}) did not confirm the reload within 10 s`, {
        hint: 'see its log; `nightshift doctor` shows what it runs with',
        code: 'timeout',
      });
    await new Promise((r) => setTimeout(r, 50));
  }
  if (json) printJson({ reloaded: true, pid: holder.pid, file: configPath(home.dir) });
  else printLine(`daemon (pid ${holder.pid}) reloaded ${configPath(home.dir)}`);
}

export function registerDaemonCommand(program: Command, version: string): void {
  const daemonCmd = program.command('daemon');
  daemonCmd
    .command('reload')
    .description(
      'make the running daemon read config.json again (channels, agents, secrets); it also notices changes by itself',
    )
    .action(async (_opts, cmd) => {
      const g = globalOptions(cmd);
      await reloadDaemon(g.home, g.json);
    });
  daemonCmd
    .description('run the scheduler in the foreground (one per home); logs one line per event')
    .option(
      '--sample-job',
      `add a sample job (every minute, appends a timestamp to a file) if absent, then run`,
    )
    .option(
      '--http <addr>',
      'serve the HTTP API, dashboard and /metrics on this address (e.g. 127.0.0.1:7420; loopback only unless config.json allows remote)',
    )
    .action(async (opts, cmd) => {
      const g = globalOptions(cmd);
      const log = makeLogger(g.json || !process.stdout.isTTY);
      // Listen before starting: a signal during start-up (recovery, first fires) must still stop cleanly.
      // SIGHUP means "read config.json again" (as for most daemons), also during start-up.
      let reloadNow: () => void = () => undefined;
      process.on('SIGHUP', () => reloadNow());
      const signalled = new Promise<string>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      // Loaded here: the engine and executors are only needed by this command.
      const { startDaemon } = await import('../../app/daemon.ts');
      const { startMcpEndpoint } = await import('../mcp/daemon-endpoint.ts');
      const { startHttpEndpoint } = await import('../http/daemon-endpoint.ts');
      let sampleCreated: string | undefined;
      const daemon = await startDaemon({
        homeFlag: g.home,
        ...(g.store !== undefined ? { storeFlag: g.store } : {}),
        log,
        version,
        beforeStart: async (app) => {
          log({ event: 'daemon.started', pid: process.pid, home: app.home.dir, version });
          if (opts.sampleJob) sampleCreated = await addSampleJob(app, log);
        },
        // The MCP HTTP endpoint, when the configuration has `mcp.http`.
        services: [
          ({ app, engine }) => startMcpEndpoint(app, engine, log),
          // The HTTP API and dashboard, when the configuration has `http` or --http is given.
          (ctx) =>
            startHttpEndpoint(ctx, { ...(opts.http !== undefined ? { flag: opts.http } : {}), version, log }),
        ],
      });
      // A first run right away, so a new user sees one without waiting for the first minute.
      if (sampleCreated) await daemon.engine.requestRun(sampleCreated);
      reloadNow = () => void daemon.reload();
      const signal = await signalled;
      log({ event: 'daemon.stopping', signal });
      // A second signal while stopping is ignored: the running jobs are being ended and recorded.
      const ignore = (): void => undefined;
      process.on('SIGTERM', ignore);
      process.on('SIGINT', ignore);
      await daemon.stop();
      log({ event: 'daemon.stopped' });
      // Nothing may keep the process alive past a clean stop (a stray handle would hang a service manager).
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      process.exit(0);
    });
}
