/**
 * Each job: will it fire when its owner thinks, can its payload start at all, and will anyone hear
 * when it fails? Schedules that never fire or fall into a DST gap, `at` jobs left in the past,
 * alerts with no channel, channels, agents and profiles that do not exist, evidence directories
 * that are missing, programs that are not on PATH, and timeouts longer than the interval.
 */
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { effectivePolicy } from '../../../alerts/policy.ts';
import { formatDuration } from '../../../domain/duration.ts';
import { dstGaps } from '../../../domain/dst-gaps.ts';
import type { DstGap } from '../../../domain/dst-gaps.ts';
import { DEFAULT_TIMEOUT_SECONDS } from '../../../domain/job.ts';
import type { Job } from '../../../domain/job.ts';
import { hostTimeZone, nextFireTime, parseAt } from '../../../domain/schedule.ts';
import type { NightshiftConfig } from '../../../config/config.ts';
import { jobsInScope, nightshiftCommand } from '../check.ts';
import type { DoctorCheck, DoctorContext, Finding } from '../check.ts';

const YEAR_MS = 366 * 86_400_000;

export const jobsCheck: DoctorCheck = {
  id: 'jobs',
  title: 'jobs',
  async run(ctx) {
    const config = ctx.app.config();
    const profiles = new Set((await ctx.app.store.profiles.list()).map((p) => p.name));
    const gapsByZone = new Map<string, DstGap[]>();
    const out: Finding[] = [];
    const jobs = await jobsInScope(ctx);
    for (const job of jobs) {
      const found = [
        ...scheduleFindings(ctx, job, gapsByZone),
        ...alertFindings(ctx, job, config),
        ...payloadFindings(ctx, job, config, profiles),
        ...evidenceFindings(ctx, job),
      ];
      out.push(...found);
      if (!found.some((f) => f.level !== 'ok'))
        out.push({ check: 'jobs', level: 'ok', job: job.name, message: `${job.name}: nothing wrong found` });
    }
    if (jobs.length === 0) out.push({ check: 'jobs', level: 'ok', message: 'no jobs' });
    return out;
  },
};

function finding(job: Job, level: Finding['level'], message: string, fix?: string): Finding {
  return {
    check: 'jobs',
    level,
    job: job.name,
    message: `${job.name}: ${message}`,
    ...(fix !== undefined && { fix }),
  };
}

function scheduleFindings(ctx: DoctorContext, job: Job, gapsByZone: Map<string, DstGap[]>): Finding[] {
  if (!job.enabled) return [];
  const now = ctx.clock.now();
  const s = job.schedule;
  if (s.kind === 'at') {
    const at = parseAt(s.at, s.tz);
    if (at <= now && job.state.lastRunAtMs === undefined)
      return [
        finding(
          job,
          'warn',
          `its one shot was due at ${new Date(at).toISOString()} and has not run`,
          `${nightshiftCommand(ctx, `cron run ${job.name}`)} to run it now, or ${nightshiftCommand(ctx, `cron rm ${job.name}`)}`,
        ),
      ];
    return [];
  }
  const out: Finding[] = [];
  if (nextFireTime(s, now, job.createdAtMs) === undefined)
    out.push(
      finding(
        job,
        'fail',
        `its schedule never fires again`,
        `${nightshiftCommand(ctx, `cron edit ${job.name} --cron EXPR`)} with a date that exists`,
      ),
    );
  if (s.kind === 'cron') {
    const gap = firstGapHit(s.expr, s.tz ?? hostTimeZone(), now, gapsByZone);
    if (gap) {
      const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);
      const day = new Date(gap.wallStartMs).toISOString().slice(0, 10);
      out.push(
        finding(
          job,
          'warn',
          `on ${day} its ${hhmm(gap.fireWallMs)} fire does not exist in ${s.tz ?? hostTimeZone()} (clocks jump from ${hhmm(gap.wallStartMs)} to ${hhmm(gap.wallStartMs + gap.lengthMs)}); it fires at ${hhmm(gap.wallStartMs + gap.lengthMs)} that day`,
          `keep it (it fires once, late), or move it out of ${hhmm(gap.wallStartMs)}-${hhmm(gap.wallStartMs + gap.lengthMs)}: ${nightshiftCommand(ctx, `cron edit ${job.name} --cron EXPR`)}`,
        ),
      );
    }
  }
  // A run may last until its timeout; with overlap `skip`, every slot during it is skipped.
  const timeoutS = 'timeoutSeconds' in job.payload ? job.payload.timeoutSeconds : undefined;
  const a = nextFireTime(s, now, job.createdAtMs);
  const b = a === undefined ? undefined : nextFireTime(s, a, job.createdAtMs);
  if (
    timeoutS !== undefined &&
    timeoutS > 0 &&
    a !== undefined &&
    b !== undefined &&
    job.policy.overlap === 'skip'
  ) {
    const interval = b - a;
    // The default timeout outlasts every short interval; only a chosen one, or runs that really
    // overran, say that slots will be (or are being) skipped.
    const overran = (job.state.lastDurationMs ?? 0) > interval || job.state.consecutiveSkipped > 0;
    if (timeoutS * 1000 > interval && (timeoutS !== DEFAULT_TIMEOUT_SECONDS || overran))
      out.push(
        finding(
          job,
          'warn',
          `a run may last ${formatDuration(timeoutS * 1000)} (its timeout) but it fires every ${formatDuration(interval)} with overlap skip: a slow run makes the next slots skip`,
          `${nightshiftCommand(ctx, `cron edit ${job.name} --timeout-seconds ${Math.max(1, Math.floor(interval / 1000) - 1)}`)} or --overlap queue-one`,
        ),
      );
  }
  return out;
}

/**
 * The first spring-forward gap in the next year that holds one of the expression's nominal fire
 * times. Only fixed hours are looked at: an hourly or minutely pattern just skips the missing
 * hour, which surprises nobody.
 */
function firstGapHit(
  expr: string,
  tz: string,
  now: number,
  gapsByZone: Map<string, DstGap[]>,
): (DstGap & { fireWallMs: number }) | undefined {
  const fields = expr.trim().split(/\s+/);
  const hour = fields.length === 6 ? fields[2] : fields[1];
  if (hour === undefined || !/^\d+(,\d+)*$/.test(hour)) return undefined;
  let gaps = gapsByZone.get(tz);
  if (!gaps) gapsByZone.set(tz, (gaps = dstGaps(tz, now, now + YEAR_MS)));
  for (const gap of gaps) {
    // Evaluated on the wall clock (as UTC): is there a nominal fire inside the skipped stretch?
    const fire = nextFireTime({ kind: 'cron', expr, tz: 'UTC' }, gap.wallStartMs - 1, 0);
    if (fire !== undefined && fire < gap.wallStartMs + gap.lengthMs) return { ...gap, fireWallMs: fire };
  }
  return undefined;
}

function alertFindings(ctx: DoctorContext, job: Job, config: NightshiftConfig): Finding[] {
  const out: Finding[] = [];
  const known = config.channels.map((c) => c.name);
  const knownText =
    known.length > 0 ? `configured channels: ${known.join(', ')}` : 'no channels are configured';
  const policy = effectivePolicy(job);
  const alerting = policy.afterFailures > 0 || policy.ifNoSuccessWithinMs !== undefined;
  const channels = policy.channels.length > 0 ? policy.channels : config.alerts.channels;
  if (alerting && job.enabled && channels.length === 0)
    out.push(
      finding(
        job,
        'warn',
        'its alerts will not be delivered: no channel is configured for them',
        'add a channel to config.json "channels" and name it in "alerts.channels" (docs/alerts.md), then `nightshift alert test NAME`',
      ),
    );
  const named: Array<[string, string]> = policy.channels.map((c) => [c, 'alerts']);
  const d = job.delivery;
  if (d?.mode === 'announce') named.push([d.channel, 'delivery']);
  if (d && d.mode !== 'none' && d.failureDestination)
    named.push([d.failureDestination.channel, 'failure destination']);
  for (const [name, use] of named)
    if (!known.includes(name))
      out.push(
        finding(
          job,
          'fail',
          `its ${use} names channel "${name}", which config.json does not define (${knownText})`,
          `add "${name}" under "channels" in config.json, or ${nightshiftCommand(ctx, `cron edit ${job.name}`)} with a known channel`,
        ),
      );
  return out;
}

function payloadFindings(
  ctx: DoctorContext,
  job: Job,
  config: NightshiftConfig,
  profiles: Set<string>,
): Finding[] {
  const p = job.payload;
  const out: Finding[] = [];
  const agents = Object.keys(config.agents);
  const agentOf =
    p.kind === 'agentTurn' || p.kind === 'systemEvent' || p.kind === 'heartbeat'
      ? (p.agent ?? 'default')
      : undefined;
  if (agentOf !== undefined && !agents.includes(agentOf))
    out.push(
      finding(
        job,
        p.kind === 'systemEvent' ? 'warn' : 'fail',
        p.kind === 'systemEvent'
          ? `its events go to agent "${agentOf}", which config.json does not define: no heartbeat will read them`
          : `it runs agent "${agentOf}", which config.json does not define (${agents.length > 0 ? `configured agents: ${agents.join(', ')}` : 'no agents are configured'})`,
        `add "${agentOf}" under "agents" in config.json (docs/agent-turns.md)`,
      ),
    );
  if ((p.kind === 'backup' || p.kind === 'drill') && p.profile !== undefined && !profiles.has(p.profile))
    out.push(
      finding(
        job,
        'fail',
        `it uses backup profile "${p.profile}", which does not exist`,
        nightshiftCommand(ctx, `backup profile add ${p.profile} ...`),
      ),
    );
  if (p.kind === 'command') {
    if (p.cwd !== undefined && !existsSync(p.cwd))
      out.push(
        finding(
          job,
          'fail',
          `its working directory ${p.cwd} does not exist`,
          `mkdir -p ${p.cwd}, or change --cwd`,
        ),
      );
    const program = p.argv ? p.argv[0] : firstProgram(p.command ?? '');
    if (program !== undefined && findProgram(program, ctx.env.PATH ?? '', p.cwd) === undefined)
      out.push(
        finding(
          job,
          'fail',
          `its program "${program}" is not ${isAbsolute(program) ? 'an executable file' : 'on the PATH'} (PATH=${ctx.env.PATH ?? ''})`,
          'install it, or give its full path (the daemon runs with the PATH of the environment it was started in)',
        ),
      );
  }
  return out;
}

const SHELL_WORDS = new Set(
  'if then else elif fi for while until do done case esac in function { } ( ) ! [ [[ . : cd echo printf test true false exit export set unset source eval exec read shift trap umask ulimit wait kill type command alias local return time'.split(
    ' ',
  ),
);

/** The program a simple shell command starts, when it is plainly a program word (no variables, no assignments). */
function firstProgram(command: string): string | undefined {
  const word = command.trim().split(/[\s;&|<>()]/)[0] ?? '';
  if (word === '' || SHELL_WORDS.has(word) || !/^[A-Za-z0-9_./+-]+$/.test(word)) return undefined;
  return word;
}

/** The executable a program name resolves to, or undefined. */
function findProgram(program: string, path: string, cwd?: string): string | undefined {
  const candidates = program.includes('/')
    ? [isAbsolute(program) ? program : join(cwd ?? process.cwd(), program)]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, program));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

function evidenceFindings(ctx: DoctorContext, job: Job): Finding[] {
  const pattern = job.evidence.expectFile;
  if (pattern === undefined) return [];
  // The part of the glob before its first wildcard is a directory that must exist.
  const literal = pattern.split(/[*?[{]/)[0]!;
  const dir =
    pattern === literal
      ? dirname(pattern)
      : literal.endsWith('/')
        ? literal.slice(0, -1) || '/'
        : dirname(literal);
  if (existsSync(dir)) return [];
  return [
    {
      ...finding(
        job,
        'warn',
        `its evidence --expect-file ${pattern} is in ${dir}, which does not exist, so no run can prove itself until something creates it`,
        `mkdir -p ${dir} (or \`${nightshiftCommand(ctx, 'doctor --fix --create-dirs')}\`)`,
      ),
      ...(ctx.createDirs && {
        repair: async () => {
          mkdirSync(dir, { recursive: true, mode: 0o700 });
          return `created ${dir}`;
        },
      }),
    },
  ];
}
