/**
 * A job's execution contract in plain words (`cron show`): what runs, where, with which
 * environment keys, how long it may take, what counts as success, and what happens on failure,
 * overlap and misses. Environment values and stdin contents are never shown: they may be secrets.
 */
import { DEFAULT_KILL_GRACE_MS } from './job.ts';
import type { Job } from './job.ts';
import { formatDuration } from './duration.ts';
import { describeSchedule, zoneOffsetMs } from './schedule.ts';
import { RESERVED_ENV_KEYS } from './job-validation.ts';

export interface ContractOptions {
  /** Seconds between SIGTERM and SIGKILL on timeout (default: the command executor's default). */
  killGraceSeconds?: number;
}

/** `2027-03-14 03:00:00 +01:00` in `tz`. */
export function formatInZone(ms: number, tz: string): string {
  const offset = zoneOffsetMs(tz, ms);
  const wall = new Date(ms + offset).toISOString();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset) / 60_000;
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  const frac = ms % 1000 === 0 ? '' : wall.slice(19, 23);
  return `${wall.slice(0, 10)} ${wall.slice(11, 19)}${frac} ${sign}${hh}:${mm}`;
}

function bytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Shell-like quoting for showing an argv unambiguously. */
function quoteArg(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/**
 * The contract as lines of text. `nextFires` are the upcoming fire times (the caller computes them
 * with schedule.ts, normally 5); `tzShown` is the zone to show them in besides UTC.
 */
export function describeContract(
  job: Job,
  nextFires: number[],
  tzShown: string,
  opts: ContractOptions = {},
): string[] {
  const lines: string[] = [];
  const p = job.payload;

  // What runs.
  if (p.argv) {
    lines.push(`Runs: ${p.argv.map(quoteArg).join(' ')}  (program and arguments, no shell)`);
  } else {
    lines.push(`Runs: /bin/sh -c ${quoteArg(p.command ?? '')}`);
  }
  lines.push(
    'Process: its own process group' +
      (p.input !== undefined
        ? `; stdin gets ${bytes(Buffer.byteLength(p.input))} of input, then is closed`
        : '; stdin is empty'),
  );
  lines.push(
    p.cwd ? `Where: in ${p.cwd}` : 'Where: in the home directory of the user running the daemon (no cwd set)',
  );
  const keys = Object.keys(p.env ?? {});
  lines.push(
    "Environment: the daemon's environment" +
      (keys.length > 0 ? `, plus ${keys.join(', ')} (values not shown)` : '') +
      `, plus ${RESERVED_ENV_KEYS.join(', ')}`,
  );

  // Timeout.
  const timeout = p.timeoutSeconds ?? 600;
  const grace = `${formatDuration((opts.killGraceSeconds ?? DEFAULT_KILL_GRACE_MS / 1000) * 1000)} later`;
  lines.push(
    timeout === 0
      ? 'Timeout: none (the run may take as long as it needs)'
      : `Timeout: ${formatDuration(timeout * 1000)}; then the whole process group gets SIGTERM, and SIGKILL ${grace}; the run ends \`timeout\``,
  );

  // Success.
  const checks: string[] = ['the exit status is 0'];
  const ev = job.evidence;
  if (ev.expectFile) {
    checks.push(
      `a file matching ${ev.expectFile} exists and was modified during the run` +
        (ev.expectMinBytes !== undefined ? `, with at least ${bytes(ev.expectMinBytes)}` : ''),
    );
  }
  if (ev.expectOutput) checks.push(`the output (stdout and stderr) matches /${ev.expectOutput}/`);
  lines.push(`Success (\`ok\`) only when: ${checks.join(', and ')}`);
  if (checks.length === 1) lines.push('  (no evidence declared: exit status 0 is all that is checked)');
  else lines.push('  otherwise the run ends `error`, naming the expectation that failed');

  // Failure.
  const pol = job.policy;
  if (pol.retries === 0) {
    lines.push('On failure: no retry; the job waits for its next scheduled time');
  } else {
    const delays = Array.from({ length: pol.retries }, (_, i) =>
      formatDuration(pol.retryBackoffMs[Math.min(i + 1, pol.retryBackoffMs.length) - 1]!),
    );
    lines.push(
      `On failure: up to ${pol.retries === 1 ? '1 retry' : `${pol.retries} retries`}, after ${delays.join(', ')} (plus jitter); then back to the schedule`,
    );
  }

  // Overlap.
  const overlap = {
    skip: 'If the previous run is still going when a fire time comes: that fire is skipped (recorded `skipped`, reason overlap)',
    'queue-one':
      'If the previous run is still going when a fire time comes: one fire waits and starts when it ends; further ones are skipped',
    allow:
      'If the previous run is still going when a fire time comes: the new run starts anyway, alongside it',
  }[pol.overlap];
  lines.push(overlap);

  // Misses.
  const catchup = {
    skip: 'Fire times missed while the daemon was down: recorded `missed`, not run',
    one: 'Fire times missed while the daemon was down: one catch-up run at start-up; the rest are recorded `missed`',
    all: `Fire times missed while the daemon was down: each one from the last ${formatDuration(pol.catchupWindowMs)} is run, oldest first, at most ${pol.catchupMax}; the others are recorded \`missed\``,
  }[pol.catchup];
  lines.push(catchup);

  if (job.schedule.kind === 'at') {
    lines.push(
      job.deleteAfterRun
        ? 'After a successful run: the job is deleted'
        : 'After a successful run: the job is kept, disabled',
    );
  }

  const h = job.history;
  lines.push(
    `History: keeps the last ${plural(h.maxRuns, 'run')}, none older than ${formatDuration(h.maxAgeMs)}, with the last ${bytes(h.outputTailBytes)} of output each`,
  );

  // When.
  lines.push(`Schedule: ${describeSchedule(job.schedule)}`);
  if (!job.enabled) {
    lines.push('Next fires: none, the job is disabled (`cron run` still runs it on demand)');
  } else if (nextFires.length === 0) {
    lines.push('Next fires: none (the schedule has no future fire time)');
  } else {
    lines.push(`Next fires (${tzShown} | UTC):`);
    for (const t of nextFires) lines.push(`  ${formatInZone(t, tzShown)}  |  ${new Date(t).toISOString()}`);
  }
  return lines;
}
