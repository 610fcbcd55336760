/**
 * A job's execution contract in plain words (`cron show`): what runs, where, with which
 * environment keys, how long it may take, what counts as success, and what happens on failure,
 * overlap and misses. Environment values and stdin contents are never shown: they may be secrets.
 */
import { DEFAULT_KILL_GRACE_MS, DEFAULT_TIMEOUT_SECONDS } from './job.ts';
import type { CommandPayload, Job } from './job.ts';
import { formatDuration } from './duration.ts';
import { describeCronDays, describeSchedule, zoneOffsetMs } from './schedule.ts';
import { RESERVED_ENV_KEYS } from './job-validation.ts';

export interface ContractOptions {
  /** Seconds between SIGTERM and SIGKILL on timeout (default: the command executor's default). */
  killGraceSeconds?: number;
  /** The configuration's `alerts.channels`; given, alerts that would reach no channel say so. */
  defaultAlertChannels?: string[];
  /**
   * A backup job's repository as this host holds it: given when the profile writes a recipients
   * repository with no identity here, so the contract says what its verify step can and cannot do.
   */
  writerOnly?: { repository: string; verifySubset?: string };
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
  // Exact units only: these repeat limits the user gave, so no rounding.
  if (n >= 1024 ** 4 && n % 1024 ** 4 === 0) return `${n / 1024 ** 4} TiB`;
  if (n >= 1024 ** 3 && n % 1024 ** 3 === 0) return `${n / 1024 ** 3} GiB`;
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Shell-like quoting for showing an argv unambiguously. */
export function quoteArg(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** What a backup's verify does on a host that holds the writer key but not the identity. */
function writerOnlyLines(profile: string, w: ContractOptions['writerOnly']): string[] {
  if (!w) return [];
  return [
    'Without the identity (this host holds only the writer key of the recipients repository):',
    w.verifySubset !== undefined
      ? `  verify (${w.verifySubset} of the packs) checks the structure and the pack hashes over the ciphertext: it detects damaged or missing packs`
      : '  verify is off; with --verify-subset it would check the structure and the pack hashes over the ciphertext (damaged or missing packs)',
    '  it cannot decrypt, nor check that the content restores; run a drill where the identity lives:',
    `    nightshift backup drill --repo ${quoteArg(w.repository)} --identity-ref file:/path/to/identity.txt --tag ${quoteArg(`profile:${profile}`)}`,
    `    (or there as a job: nightshift cron add --name ${quoteArg(`${profile}-drill`)} --cron "0 5 * * 0" --drill-repo ${quoteArg(w.repository)} --identity-ref file:/path/to/identity.txt)`,
  ];
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
  const lines: string[] = describePayload(job, opts);
  if (job.onHost !== undefined) {
    lines.push(
      `Host: only the daemon of host ${job.onHost} runs it (with several daemons on one database, no other does; fire times while it is down follow the catch-up policy)`,
    );
  }

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

  lines.push(...describeNotify(job, opts.defaultAlertChannels));

  // When.
  const cronDays = describeCronDays(job.schedule);
  lines.push(`Schedule: ${describeSchedule(job.schedule)}${cronDays ? `, ${cronDays}` : ''}`);
  if (!job.enabled) {
    lines.push('Next fires: none, the job is disabled (`cron run` still runs it on demand)');
  } else if (job.schedule.kind === 'after') {
    lines.push("Next fires: when its predecessors' runs end as above (a chain run has trigger `chain`)");
  } else if (nextFires.length === 0) {
    lines.push('Next fires: none (the schedule has no future fire time)');
  } else {
    // A zone that is UTC at every time shown gets one column: the same instant twice says nothing.
    if (nextFires.every((t) => zoneOffsetMs(tzShown, t) === 0)) {
      lines.push(`Next fires (${tzShown === 'UTC' ? 'UTC' : `${tzShown}, which is UTC`}):`);
      for (const t of nextFires) lines.push(`  ${new Date(t).toISOString()}`);
    } else {
      lines.push(`Next fires (${tzShown} | UTC):`);
      for (const t of nextFires) lines.push(`  ${formatInZone(t, tzShown)}  |  ${new Date(t).toISOString()}`);
    }
  }
  return lines;
}

function timeoutLine(seconds: number | undefined, dflt: number, what: string): string {
  const t = seconds ?? dflt;
  return t === 0
    ? 'Timeout: none (the run may take as long as it needs)'
    : `Timeout: ${formatDuration(t * 1000)}; then ${what}; the run ends \`timeout\``;
}

/** What the payload does and what proves it worked, per payload kind. */
function describePayload(job: Job, opts: ContractOptions): string[] {
  const p = job.payload;
  switch (p.kind) {
    case 'command':
      return describeCommand(job, p, opts);
    case 'backup':
      return [
        `Runs: the backup of profile ${p.profile} (repository, sources, key reference and retention as \`nightshift backup profile show ${p.profile}\` shows them at run time)`,
        'Steps: disk-space precheck (local repositories) -> backup -> forget per the retention policy -> prune when due -> verification when configured',
        'Key: resolved at run time from the profile’s reference (passphrase) or the writer key kept in the home (recipients); never stored with the job',
        timeoutLine(p.timeoutSeconds, 0, 'the backup is stopped and its lock released'),
        'Success (`ok`) only when: every step ran, the new snapshot is listed in the repository and its index entries exist, and retention ran as configured (and verification passed, when configured)',
        '  the run record keeps the snapshot id, files and bytes read and new, repository size, duration and what retention removed',
        ...writerOnlyLines(p.profile, opts.writerOnly),
      ];
    case 'drill': {
      const sample =
        p.samplePercent !== undefined
          ? `${p.samplePercent}% of the files`
          : plural(p.sampleFiles ?? 20, 'file');
      return [
        p.profile !== undefined
          ? `Runs: a restore drill of profile ${p.profile}: restores a random sample (${sample}) of the latest snapshot into a temporary directory, removed afterwards`
          : `Runs: a restore drill of repository ${p.repository ?? '?'}: restores a random sample (${sample}) of its latest snapshot into a temporary directory, removed afterwards`,
        ...(p.identityRef !== undefined
          ? [
              `Key: the age identity from ${p.identityRef}, resolved at run time on this host and never stored with the job`,
            ]
          : []),
        timeoutLine(p.timeoutSeconds, 0, 'the drill is stopped'),
        'Success (`ok`) only when: every sampled file’s content matches the hashes in the repository, and files unchanged since the snapshot match their live copy',
        '  otherwise the run ends `error`, listing the files that failed',
      ];
    }
    case 'systemEvent':
      return [
        `Executes nothing: puts the text (${plural(p.text.length, 'character')}) into the inbox of session ${p.session} of agent ${p.agent ?? 'default'}`,
        p.wake === 'now'
          ? 'Wake: now (the agent’s heartbeat runs at once and reads the inbox)'
          : 'Wake: next-heartbeat (the item waits for the agent’s next heartbeat)',
        'Status: the run is recorded `delivered`, never `ok`: no work ran, a reminder was left',
      ];
    case 'agentTurn': {
      const lines = [
        `Runs: one agent turn of agent ${p.agent ?? 'default'}${p.model ? ` with model ${p.model}` : ''} in session ${p.session}${p.lightContext ? ' (light context: no session history sent)' : ''}`,
        p.fallbacks?.length
          ? `Fallbacks: ${p.fallbacks.join(', ')} (when the model is down, answers 5xx/429 or times out)`
          : 'Fallbacks: none',
        p.tools?.length
          ? `Tools the model may call: ${p.tools.join(', ')}`
          : job.source?.kind === 'openclaw'
            ? "Tools: none. Imported from OpenClaw, where this turn had its agent's default tools; here the model can only reply (give it tools with `cron edit --tools`)"
            : 'Tools: none (the model can only reply)',
      ];
      if (p.execAllowlist?.length)
        lines.push(
          `exec may run only: ${p.execAllowlist.map((a) => a.map(quoteArg).join(' ')).join('; ')} (argv prefixes)`,
        );
      lines.push(
        timeoutLine(
          p.timeoutSeconds,
          DEFAULT_TIMEOUT_SECONDS,
          'the turn and any command it runs are stopped',
        ),
        'Success (`ok`) only when: the model gave a final reply within the timeout',
        '  a tool call outside the allowlist ends `error` (reason `denied`); every endpoint down ends `skipped`; a reply of exactly NO_REPLY is not delivered',
      );
      return lines;
    }
    case 'heartbeat':
      return [
        `Runs: the heartbeat of agent ${p.agent}: when its main session’s inbox holds items, one agent turn on the main session with them`,
        'An empty inbox ends `skipped` (inbox empty) without any model call',
        timeoutLine(p.timeoutSeconds, DEFAULT_TIMEOUT_SECONDS, 'the turn is stopped'),
      ];
  }
}

function describeCommand(job: Job, p: CommandPayload, opts: ContractOptions): string[] {
  const lines: string[] = [];
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
  const grace = `${formatDuration((opts.killGraceSeconds ?? DEFAULT_KILL_GRACE_MS / 1000) * 1000)} later`;
  lines.push(
    timeoutLine(
      p.timeoutSeconds,
      DEFAULT_TIMEOUT_SECONDS,
      `the whole process group gets SIGTERM, and SIGKILL ${grace}`,
    ),
  );
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
  return lines;
}

/** Alerts, delivery and pings, in words. */
function describeNotify(job: Job, defaults: string[] | undefined): string[] {
  const lines: string[] = [];
  const a = job.alerts;
  const kind = job.payload.kind;
  const own = a?.channels?.length ? a.channels : undefined;
  // Known to reach nobody: said once, on its own line, instead of naming a destination.
  const nowhere = own === undefined && defaults !== undefined && defaults.length === 0;
  const to = own
    ? ` to ${own.join(', ')}`
    : nowhere
      ? ''
      : defaults
        ? ` to the default alert channels (${defaults.join(', ')})`
        : ' to the default alert channels';
  let alerting = true;
  if (!a) {
    if (kind === 'backup' || kind === 'drill')
      lines.push(
        `Alerts: after every failed run (the default for backups)${to}; a recovery notice follows the next success`,
      );
    else if (job.schedule.kind === 'after' && job.schedule.withinMs !== undefined)
      lines.push(
        `Alerts: after every failed run or broken chain (the default for chains with a window)${to}`,
      );
    else {
      lines.push('Alerts: none (add --alert-after N or --alert-if-no-success-within DURATION)');
      alerting = false;
    }
  } else {
    alerting = a.afterFailures > 0 || a.ifNoSuccessWithinMs !== undefined;
    lines.push(
      a.afterFailures === 0
        ? 'Alerts on failure: off'
        : `Alerts: after ${a.afterFailures === 1 ? `every failed${a.includeSkipped ? ' or skipped' : ''} run` : `${a.afterFailures} consecutive failed${a.includeSkipped ? ' or skipped' : ''} runs`}${to}, at most once per ${formatDuration(a.cooldownMs)}` +
            (a.recovery ? '; a recovery notice follows the next success' : ''),
    );
    if (a.ifNoSuccessWithinMs !== undefined)
      lines.push(
        `Dead-man's switch: alerts${to} when no run succeeded within ${formatDuration(a.ifNoSuccessWithinMs)}, even if the job never ran (daemon down, job disabled)`,
      );
    if (a.anomalyFactor !== undefined)
      lines.push(`Anomaly alerts: new data or duration above ${a.anomalyFactor}x the median of recent runs`);
    if (a.maxRepoBytes !== undefined) lines.push(`Repository size alert: above ${bytes(a.maxRepoBytes)}`);
    if (a.maxRepoUsagePercent !== undefined)
      lines.push(`Repository disk alert: its filesystem fuller than ${a.maxRepoUsagePercent}%`);
  }
  if (nowhere && alerting)
    lines.push(
      '  alerts: none will be delivered (no channel configured): add one under "channels" in config.json and name it in "alerts.channels"',
    );
  const d = job.delivery;
  if (d?.mode === 'announce')
    lines.push(
      `Delivery: the result is announced on channel ${d.channel}${d.to ? ` to ${d.to}` : ''}${d.threadId ? ` in thread ${d.threadId}` : ''}`,
    );
  else if (d?.mode === 'webhook') lines.push(`Delivery: the result is POSTed as JSON to ${d.url}`);
  else if (d?.mode === 'none') lines.push('Delivery: none (--no-deliver)');
  if (d && d.mode !== 'none' && d.failureDestination)
    lines.push(
      `Failure notices: to ${d.failureDestination.channel}${d.failureDestination.to ? ` (${d.failureDestination.to})` : ''}`,
    );
  if (job.healthcheck)
    lines.push(`Healthcheck pings: ${job.healthcheck.url} (/start, success, /fail, with the run id)`);
  return lines;
}
