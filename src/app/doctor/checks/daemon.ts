/**
 * The daemon: is one running on this home, is it this version, has it loaded the current
 * config.json, is its loop alive, and are runs recorded `running` that nothing runs any more.
 */
import { hostname } from 'node:os';
import { configDigest } from '../../../config/config-digest.ts';
import { formatDuration } from '../../../domain/duration.ts';
import { pidAlive } from '../../../backup/lock.ts';
import { DAEMON_HEARTBEAT_MS, probeDaemonLock, refusedFile } from '../../daemon-lock.ts';
import type { LockHolder } from '../../daemon-lock.ts';
import { nightshiftCommand } from '../check.ts';
import type { DoctorCheck, DoctorContext, Finding } from '../check.ts';

// The daemon writes its heartbeat every DAEMON_HEARTBEAT_MS; three missed ones mean its loop is stuck.
const STALE_HEARTBEAT_MS = 3 * DAEMON_HEARTBEAT_MS;
/** A run this far past its own timeout is stuck (the kill grace and bookkeeping take seconds). */
const STUCK_GRACE_MS = 5 * 60_000;

export const daemonCheck: DoctorCheck = {
  id: 'daemon',
  title: 'daemon',
  async run(ctx) {
    const out: Finding[] = [];
    const lock = probeDaemonLock(ctx.app.home.daemonLockPath);
    const enabled = (await ctx.app.store.listJobs()).filter((j) => j.enabled).length;
    const holder = lock.held ? lock.holder : undefined;
    if (!lock.held || holder?.role === 'run') {
      const who = holder ? ` (pid ${holder.pid} runs one job from the CLI)` : '';
      out.push({
        check: 'daemon',
        level: enabled > 0 ? 'fail' : 'ok',
        message:
          enabled > 0
            ? `no daemon runs on ${ctx.app.home.dir}${who}: ${enabled} enabled job${enabled === 1 ? '' : 's'} will not fire`
            : `no daemon runs on ${ctx.app.home.dir} (no enabled jobs)`,
        ...(enabled > 0 && {
          fix: `${nightshiftCommand(ctx, 'daemon')} (or \`nightshift service install\` to start it at boot)`,
        }),
      });
    } else {
      out.push(...describeDaemon(ctx, holder));
    }
    out.push(...(await stuckRuns(ctx, lock.held && holder?.role !== 'run')));
    return out;
  },
};

function describeDaemon(ctx: DoctorContext, holder: LockHolder | undefined): Finding[] {
  if (!holder)
    return [
      {
        check: 'daemon',
        level: 'ok',
        message: `a daemon runs on ${ctx.app.home.dir} (it has not said which)`,
      },
    ];
  const now = ctx.clock.now();
  const out: Finding[] = [
    {
      check: 'daemon',
      level: 'ok',
      message: `daemon pid ${holder.pid} on ${holder.host} runs since ${new Date(holder.startedAtMs).toISOString()}`,
    },
  ];
  if (holder.version !== undefined && holder.version !== ctx.version)
    out.push({
      check: 'daemon',
      level: 'warn',
      message: `the daemon is nightshift ${holder.version}, this command is ${ctx.version}`,
      fix: 'restart the daemon so that it runs the installed version (`nightshift service status` shows how it was started)',
    });
  if (refusedFile(holder, configDigest(ctx.app.home.dir, ctx.env)))
    out.push({
      check: 'daemon',
      level: 'fail',
      message: `the daemon refused the current config.json and runs with the previous one: ${holder.configError}`,
      fix: `fix config.json, then ${nightshiftCommand(ctx, 'daemon reload')}`,
    });
  else if (holder.configDigest !== undefined) {
    const current = configDigest(ctx.app.home.dir, ctx.env);
    if (current !== holder.configDigest) {
      const since = holder.configLoadedAtMs
        ? ` (it loaded it ${formatDuration(now - holder.configLoadedAtMs)} ago)`
        : '';
      const local = holder.host === hostname();
      out.push({
        check: 'daemon',
        level: 'warn',
        message: `config.json changed since the daemon loaded it${since}: channels, agents and secrets of the new file are not in use`,
        fix: nightshiftCommand(ctx, 'daemon reload'),
        ...(local && {
          repair: async () => {
            process.kill(holder.pid, 'SIGHUP');
            return `asked the daemon (pid ${holder.pid}) to reload config.json`;
          },
        }),
      });
    } else
      out.push({ check: 'daemon', level: 'ok', message: 'the daemon runs with the current config.json' });
  }
  if (holder.heartbeatAtMs !== undefined) {
    const age = now - holder.heartbeatAtMs;
    out.push(
      age > STALE_HEARTBEAT_MS
        ? {
            check: 'daemon',
            level: 'fail',
            message: `the daemon's last heartbeat was ${formatDuration(age)} ago: its loop is stuck or the process is paused`,
            fix: `kill -CONT ${holder.pid}; if it stays silent, restart it (its runs are recovered as interrupted)`,
          }
        : {
            check: 'daemon',
            level: 'ok',
            message: `last daemon heartbeat ${formatDuration(Math.max(0, age))} ago`,
          },
    );
  }
  return out;
}

async function stuckRuns(ctx: DoctorContext, daemonRunning: boolean): Promise<Finding[]> {
  const now = ctx.clock.now();
  const jobs = new Map((await ctx.app.store.listJobs()).map((j) => [j.id, j]));
  const out: Finding[] = [];
  for (const run of await ctx.app.store.unfinishedRuns()) {
    if (run.status !== 'running') continue;
    const job = jobs.get(run.jobId);
    if (ctx.job && ctx.job.id !== run.jobId) continue;
    const name = job?.name ?? run.jobId;
    const started = run.startedAtMs ?? run.slotMs;
    const gone = run.pid !== undefined && run.pid !== null && !pidAlive(run.pid);
    if (!daemonRunning) {
      out.push({
        check: 'daemon',
        level: 'warn',
        job: name,
        message: `run ${run.runId} of ${name} is recorded running since ${new Date(started).toISOString()}, but no daemon runs: the next daemon start records it interrupted`,
        fix: nightshiftCommand(ctx, 'daemon'),
      });
      continue;
    }
    const timeoutS = job && 'timeoutSeconds' in job.payload ? job.payload.timeoutSeconds : undefined;
    const overdue =
      timeoutS !== undefined && timeoutS > 0 && now - started > timeoutS * 1000 + STUCK_GRACE_MS;
    if (gone || overdue)
      out.push({
        check: 'daemon',
        level: 'fail',
        job: name,
        message: gone
          ? `run ${run.runId} of ${name} is recorded running, but its process ${run.pid} is gone`
          : `run ${run.runId} of ${name} has run ${formatDuration(now - started)}, past its ${timeoutS} s timeout`,
        fix: 'restart the daemon: it records leftover runs interrupted and ends their processes',
      });
  }
  if (out.length === 0) out.push({ check: 'daemon', level: 'ok', message: 'no run is stuck in `running`' });
  return out;
}
