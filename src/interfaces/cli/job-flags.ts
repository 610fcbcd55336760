/**
 * The job flags shared by `cron add` and `cron edit` (OpenClaw's names where they exist), and
 * their translation into a job input or patch. Values stay strings until here so every bad value
 * is reported the same way: naming the flag, exit code 2.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { UserError } from '../../domain/errors.ts';
import { parseSize } from '../../domain/size.ts';
import { addOpenClawFlags, refuseOpenClawOnlyFlags } from './openclaw-flags.ts';
import type { OpenClawFlags } from './openclaw-flags.ts';
import { resolve } from 'node:path';
import type {
  CommandPayload,
  Evidence,
  HistoryPolicy,
  Job,
  JobPolicy,
  Payload,
  Schedule,
} from '../../domain/job.ts';
import type { JobInput } from '../../domain/job-validation.ts';
import { validateSchedule } from '../../domain/schedule.ts';
import {
  PAYLOAD_FIELD_TO_FLAG,
  addPayloadFlags,
  applyNotifyFlags,
  kindFromFlags,
  payloadFieldsFromFlags,
} from './job-payload-flags.ts';
import type { PayloadFlags } from './job-payload-flags.ts';
import { choiceFlag, collect, durationFlag, intFlag } from './flag-parsers.ts';

/** Raw flag values as commander collects them. */
export interface JobFlags extends PayloadFlags, OpenClawFlags {
  name?: string;
  description?: string;
  cron?: string;
  tz?: string;
  every?: string;
  at?: string;
  after?: string[];
  within?: string;
  command?: string;
  commandArgv?: string;
  commandCwd?: string;
  commandEnv?: string[];
  commandInput?: string;
  timeoutSeconds?: string;
  expectFile?: string;
  expectMinBytes?: string;
  expectOutput?: string;
  overlap?: string;
  catchup?: string;
  catchupWindow?: string;
  catchupMax?: string;
  retries?: string;
  retryBackoff?: string;
  keepAfterRun?: boolean;
  disabled?: boolean;
  historyMaxRuns?: string;
  historyMaxAge?: string;
  outputTailBytes?: string;
  onHost?: string;
}

/** Adds the job flags to `add`/`edit`. */
export function addJobFlags(cmd: CommandUnknownOpts): void {
  addOpenClawFlags(cmd);
  cmd
    .option('--name <name>', 'unique job name')
    .option('--description <text>', 'free text shown by list/show')
    .option(
      '--on-host <name>',
      'run only on the daemon of this host (several daemons on one PostgreSQL store); "" on edit unpins',
    )
    .option('--cron <expr>', 'cron expression: 5 fields, or 6 with seconds first; @daily, L, # allowed')
    .option('--tz <iana>', 'time zone for --cron (default: host zone) or for an offset-less --at')
    .option('--every <duration>', 'fixed interval: 1s, 90m, 2h, 1d')
    .option('--at <when>', 'one shot: ISO-8601 date-time (UTC unless --tz) or +DURATION from now')
    .option(
      '--after <job[:on]>',
      "chain: run when that job's run ends; on = success (default), failure or always (repeatable: all of them)",
      collect,
    )
    .option(
      '--within <duration>',
      'with --after: the predecessors must all end within this span, else the chain is recorded broken',
    )
    .option('--command <shell>', 'command run by /bin/sh -c')
    .option('--command-argv <json>', 'argv as a JSON array, run without a shell: \'["prog","arg"]\'')
    .option('--command-cwd <dir>', 'working directory of the command')
    .option('--command-env <KEY=VALUE>', 'environment variable for the command (repeatable)', collect)
    .option('--command-input <text>', "text written to the command's stdin")
    .option('--timeout-seconds <n>', 'kill the whole process group after n seconds (default 600; 0 = none)')
    .option('--expect-file <glob>', 'evidence: a matching file exists and was modified during the run')
    .option(
      '--expect-min-bytes <size>',
      'evidence: with --expect-file, the file has at least this size (e.g. 1M)',
    )
    .option('--expect-output <regex>', 'evidence: the output (stdout+stderr) matches this regular expression')
    .option('--overlap <policy>', 'when the previous run is still going: skip (default), queue-one, allow')
    .option('--catchup <policy>', 'slots missed while the daemon was down: skip (default), one, all')
    .option('--catchup-window <duration>', 'with --catchup all: only slots this recent (default 24h)')
    .option('--catchup-max <n>', 'with --catchup all: at most n slots (default 10)')
    .option('--retries <n>', 'extra attempts after a failed run (default 0)')
    .option('--retry-backoff <list>', 'delays before retries, e.g. 30s,1m,5m,15m,60m (the default)')
    .option('--keep-after-run', 'one-shot jobs: keep (disabled) after success instead of deleting')
    .option('--disabled', 'create (or set) the job disabled')
    .option('--history-max-runs <n>', 'keep at most n finished runs (default 200)')
    .option('--history-max-age <duration>', 'drop finished runs older than this (default 30d)')
    .option('--output-tail-bytes <size>', 'output kept with each run (default 16K)');
  addPayloadFlags(cmd);
}

/** `KEY=VALUE` pairs from repeated --command-env. */
export function envFlag(values: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of values) {
    const eq = kv.indexOf('=');
    const key = eq > 0 ? kv.slice(0, eq) : '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      // Only the key is echoed: the value may be a secret.
      throw new UserError(
        `--command-env expects KEY=VALUE, got a value without a valid KEY ("${key || kv.split('=')[0]}")`,
        {
          hint: 'for example --command-env LOG_LEVEL=debug (repeat the flag for more variables)',
        },
      );
    }
    env[key] = kv.slice(eq + 1);
  }
  return env;
}

/** `["prog","arg"]` from --command-argv. */
export function argvFlag(value: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new UserError('--command-argv is not valid JSON', {
      hint: `pass a JSON array of strings, e.g. --command-argv '["/usr/bin/env","echo","hi"]'`,
    });
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((a) => typeof a === 'string')) {
    throw new UserError('--command-argv must be a non-empty JSON array of strings', {
      hint: `for example --command-argv '["/usr/bin/env","echo","hi"]'`,
    });
  }
  return parsed as string[];
}

/** `30s,1m,5m` from --retry-backoff. */
export function backoffFlag(value: string): number[] {
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) {
    throw new UserError('--retry-backoff needs at least one duration', {
      hint: 'for example --retry-backoff 30s,1m,5m',
    });
  }
  return parts.map((p) => durationFlag('--retry-backoff', p));
}

/**
 * Domain errors name the JSON field (`policy.catchupMax: …`); on the command line the user typed a
 * flag, so the message names that instead.
 */
const FIELD_TO_FLAG: Array<[string, string]> = [
  ['schedule.expr', '--cron'],
  ['schedule.tz', '--tz'],
  ['schedule.everyMs', '--every'],
  ['schedule.at', '--at'],
  ['schedule.after', '--after'],
  ['schedule.withinMs', '--within'],
  ['schedule.kind', 'schedule'],
  ['name', '--name'],
  ['description', '--description'],
  ['onHost', '--on-host'],
  ['payload.command', '--command'],
  ['payload.argv', '--command-argv'],
  ['payload.cwd', '--command-cwd'],
  ['payload.env', '--command-env'],
  ['payload.input', '--command-input'],
  ['payload.timeoutSeconds', '--timeout-seconds'],
  ['evidence.expectFile', '--expect-file'],
  ['evidence.expectMinBytes', '--expect-min-bytes'],
  ['evidence.expectOutput', '--expect-output'],
  ['policy.overlap', '--overlap'],
  ['policy.catchupWindowMs', '--catchup-window'],
  ['policy.catchupMax', '--catchup-max'],
  ['policy.catchup', '--catchup'],
  ['policy.retryBackoffMs', '--retry-backoff'],
  ['policy.retries', '--retries'],
  ['history.maxRuns', '--history-max-runs'],
  ['history.maxAgeMs', '--history-max-age'],
  ['history.outputTailBytes', '--output-tail-bytes'],
  ...PAYLOAD_FIELD_TO_FLAG,
];

/** Rethrows a domain UserError with its message phrased in flag names. */
export function inFlagTerms(err: unknown): never {
  if (err instanceof UserError) {
    for (const [field, flag] of FIELD_TO_FLAG) {
      const m = new RegExp(`^${field.replace('.', '\\.')}(\\[\\d+\\]|\\.[A-Za-z_][A-Za-z0-9_]*)?:`).exec(
        err.message,
      );
      if (!m) continue;
      const suffix = m[1] ? (m[1].startsWith('.') ? ` ${m[1].slice(1)}` : m[1]) : '';
      const message = `${flag}${suffix}:${err.message.slice(m[0].length)}`;
      throw new UserError(message, { hint: err.hint, exitCode: err.exitCode, code: err.code });
    }
  }
  throw err;
}

/** The schedule named by --cron/--every/--at (+ --tz), or undefined when none is given. */
export function scheduleFromFlags(
  flags: Pick<JobFlags, 'cron' | 'every' | 'at' | 'tz' | 'after' | 'within'>,
  nowMs: number,
): Schedule | undefined {
  const given = (['cron', 'every', 'at', 'after'] as const).filter((k) => flags[k] !== undefined);
  if (given.length > 1) {
    throw new UserError(
      `give only one of --cron, --every, --at and --after (got ${given.map((g) => '--' + g).join(' and ')})`,
      {
        hint: 'a job has exactly one schedule',
      },
    );
  }
  if (flags.within !== undefined && flags.after === undefined)
    throw new UserError('--within needs --after', { hint: 'e.g. --after nightly-prep --within 30m' });
  let s: Schedule;
  if (flags.after !== undefined) {
    if (flags.tz !== undefined)
      throw new UserError('--tz has no effect with --after (a chained job has no time of its own)', {
        hint: 'drop --tz',
      });
    s = {
      kind: 'after',
      after: flags.after.map((a) => {
        const i = a.lastIndexOf(':');
        const on = i > 0 ? a.slice(i + 1) : '';
        return ['success', 'failure', 'always'].includes(on)
          ? { job: a.slice(0, i), on: on as 'success' }
          : { job: a, on: 'success' as const };
      }),
      ...(flags.within !== undefined ? { withinMs: durationFlag('--within', flags.within) } : {}),
    };
  } else if (flags.cron !== undefined)
    s =
      flags.tz !== undefined
        ? { kind: 'cron', expr: flags.cron, tz: flags.tz }
        : { kind: 'cron', expr: flags.cron };
  else if (flags.every !== undefined) {
    if (flags.tz !== undefined) {
      throw new UserError('--tz has no effect with --every (intervals are real time)', {
        hint: 'drop --tz, or use --cron for wall-clock times in a zone',
      });
    }
    s = { kind: 'every', everyMs: durationFlag('--every', flags.every) };
  } else if (flags.at !== undefined)
    s = flags.tz !== undefined ? { kind: 'at', at: flags.at, tz: flags.tz } : { kind: 'at', at: flags.at };
  else return undefined;
  try {
    return validateSchedule(s, nowMs);
  } catch (err) {
    inFlagTerms(err);
  }
}

/** The command payload fields the flags give (merged into the old payload by edit). */
function commandFieldsFromFlags(flags: JobFlags, oldEnv?: Record<string, string>): Partial<CommandPayload> {
  if (flags.command !== undefined && flags.commandArgv !== undefined) {
    throw new UserError('give either --command or --command-argv, not both', {
      hint: 'use --command for a shell string (run by /bin/sh -c), --command-argv for a program and its arguments',
    });
  }
  const p: Partial<CommandPayload> = {};
  if (flags.command !== undefined) p.command = flags.command;
  if (flags.commandArgv !== undefined) p.argv = argvFlag(flags.commandArgv);
  // Relative to where the user typed the command: the daemon runs elsewhere.
  if (flags.commandCwd !== undefined) p.cwd = resolve(flags.commandCwd);
  if (flags.commandEnv !== undefined) p.env = { ...oldEnv, ...envFlag(flags.commandEnv) };
  if (flags.commandInput !== undefined) p.input = flags.commandInput;
  return p;
}

const COMMAND_ONLY: Array<[keyof JobFlags, string]> = [
  ['commandCwd', '--command-cwd'],
  ['commandEnv', '--command-env'],
  ['commandInput', '--command-input'],
];

/** The payload fields for `kind` from every payload flag; flags of another kind are refused by name. */
function payloadFromFlags(flags: JobFlags, kind: Payload['kind'], old?: Payload): Record<string, unknown> {
  let p: Record<string, unknown>;
  if (kind === 'command') {
    p = { ...commandFieldsFromFlags(flags, old?.kind === 'command' ? old.env : undefined) };
  } else {
    for (const [key, flag] of COMMAND_ONLY)
      if (flags[key] !== undefined)
        throw new UserError(`${flag} applies to command jobs only`, {
          hint: `drop ${flag}; this job runs a ${kind} payload`,
        });
    p = {};
  }
  Object.assign(p, payloadFieldsFromFlags(flags as PayloadFlags, kind));
  if (flags.timeoutSeconds !== undefined)
    p.timeoutSeconds = intFlag('--timeout-seconds', flags.timeoutSeconds);
  return p;
}

function evidenceFromFlags(flags: JobFlags): Evidence {
  const e: Evidence = {};
  if (flags.expectFile !== undefined) e.expectFile = flags.expectFile;
  if (flags.expectMinBytes !== undefined)
    e.expectMinBytes = parseSize(flags.expectMinBytes, '--expect-min-bytes');
  if (flags.expectOutput !== undefined) e.expectOutput = flags.expectOutput;
  return e;
}

function policyFromFlags(flags: JobFlags): Partial<JobPolicy> {
  const p: Partial<JobPolicy> = {};
  if (flags.overlap !== undefined) p.overlap = choiceFlag('--overlap', flags.overlap, OVERLAP_CHOICES);
  if (flags.catchup !== undefined) p.catchup = choiceFlag('--catchup', flags.catchup, CATCHUP_CHOICES);
  if (flags.catchupWindow !== undefined)
    p.catchupWindowMs = durationFlag('--catchup-window', flags.catchupWindow);
  if (flags.catchupMax !== undefined) p.catchupMax = intFlag('--catchup-max', flags.catchupMax, { min: 1 });
  if (flags.retries !== undefined) p.retries = intFlag('--retries', flags.retries);
  if (flags.retryBackoff !== undefined) p.retryBackoffMs = backoffFlag(flags.retryBackoff);
  return p;
}

function historyFromFlags(flags: JobFlags): Partial<HistoryPolicy> {
  const h: Partial<HistoryPolicy> = {};
  if (flags.historyMaxRuns !== undefined)
    h.maxRuns = intFlag('--history-max-runs', flags.historyMaxRuns, { min: 1 });
  if (flags.historyMaxAge !== undefined) h.maxAgeMs = durationFlag('--history-max-age', flags.historyMaxAge);
  if (flags.outputTailBytes !== undefined)
    h.outputTailBytes = parseSize(flags.outputTailBytes, '--output-tail-bytes');
  return h;
}

const OVERLAP_CHOICES = ['skip', 'queue-one', 'allow'] as const;
const CATCHUP_CHOICES = ['skip', 'one', 'all'] as const;

/** `cron add`: the flags as a new job's input (validated further by buildJob). */
export function jobInputFromFlags(flags: JobFlags, nowMs: number): JobInput {
  refuseOpenClawOnlyFlags(flags);
  if (flags.name === undefined) {
    throw new UserError('--name is required', {
      hint: 'name the job, e.g. --name nightly-backup (names are unique)',
    });
  }
  const schedule = scheduleFromFlags(flags, nowMs);
  if (!schedule) {
    throw new UserError(
      'a schedule is required: give --cron EXPR, --every DURATION, --at TIME or --after JOB',
      {
        hint: 'for example --cron "0 3 * * *" --tz Europe/Berlin, --every 15m, or --at +20m',
      },
    );
  }
  const kind = kindFromFlags(flags);
  if (kind === undefined) {
    throw new UserError('say what the job does: --command, --backup, --drill, --message or --system-event', {
      hint: `for example --command 'date >> /tmp/heartbeat.log', --backup nightly or --message "summarise the logs"`,
    });
  }
  const input: JobInput = {
    name: flags.name,
    schedule,
    payload: { kind, ...payloadFromFlags(flags, kind) } as Payload,
    policy: policyFromFlags(flags),
    evidence: evidenceFromFlags(flags),
    history: historyFromFlags(flags),
  };
  applyNotifyFlags(input, flags, undefined);
  if (flags.description !== undefined) input.description = flags.description;
  if (flags.onHost !== undefined) input.onHost = flags.onHost;
  if (flags.disabled) input.enabled = false;
  if (flags.keepAfterRun) input.deleteAfterRun = false;
  return input;
}

/** `cron edit`: only what the flags give, as a patch for applyJobPatch. */
export function jobPatchFromFlags(flags: JobFlags, job: Job, nowMs: number): Partial<JobInput> {
  refuseOpenClawOnlyFlags(flags);
  const patch: Partial<JobInput> = {};
  if (flags.name !== undefined) patch.name = flags.name;
  if (flags.description !== undefined) patch.description = flags.description;
  if (flags.onHost !== undefined) patch.onHost = flags.onHost === '' ? null : flags.onHost;
  if (flags.disabled) patch.enabled = false;
  if (flags.keepAfterRun) patch.deleteAfterRun = false;

  const old = job.schedule;
  const oldTz = old.kind === 'cron' || old.kind === 'at' ? old.tz : undefined;
  if (
    flags.cron !== undefined ||
    flags.at !== undefined ||
    flags.every !== undefined ||
    flags.after !== undefined
  ) {
    // A new expression keeps the job's zone unless --tz says otherwise.
    const tz = flags.tz ?? (flags.every === undefined && flags.after === undefined ? oldTz : undefined);
    patch.schedule = scheduleFromFlags({ ...flags, tz }, nowMs);
  } else if (flags.within !== undefined && old.kind === 'after') {
    patch.schedule = { ...old, withinMs: durationFlag('--within', flags.within) };
  } else if (flags.tz !== undefined) {
    if (old.kind === 'every' || old.kind === 'after') {
      throw new UserError(
        old.kind === 'every'
          ? '--tz has no effect on an --every job (intervals are real time)'
          : '--tz has no effect on an --after job (it has no time of its own)',
        { hint: 'drop --tz, or switch to wall-clock times with --cron EXPR --tz ZONE' },
      );
    }
    patch.schedule =
      old.kind === 'cron'
        ? scheduleFromFlags({ cron: old.expr, tz: flags.tz }, nowMs)
        : scheduleFromFlags({ at: old.at, tz: flags.tz }, nowMs);
  }

  const kind = kindFromFlags(flags) ?? job.payload.kind;
  const payload = payloadFromFlags(flags, kind, job.payload);
  // A new kind replaces the payload; the same kind merges into it.
  if (kind !== job.payload.kind) patch.payload = { kind, ...payload } as Payload;
  else if (Object.keys(payload).length > 0) patch.payload = payload as unknown as Payload;
  applyNotifyFlags(patch, flags, job);
  const evidence = evidenceFromFlags(flags);
  if (Object.keys(evidence).length > 0) patch.evidence = evidence;
  const policy = policyFromFlags(flags);
  if (Object.keys(policy).length > 0) patch.policy = policy;
  const history = historyFromFlags(flags);
  if (Object.keys(history).length > 0) patch.history = history;
  return patch;
}
