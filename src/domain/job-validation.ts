/**
 * Turns loose job input (CLI flags, JSON files, imports) into a valid Job, and checks jobs read
 * back from storage. Every refusal is a UserError whose message starts with the field's path
 * (`payload.command: …`) and whose hint says how to fix it.
 */
import type {
  AlertPolicy,
  CommandPayload,
  DeliveryPolicy,
  JobSource,
  Evidence,
  HistoryPolicy,
  Job,
  JobPolicy,
  JobState,
  Payload,
  Schedule,
  TerminalRunStatus,
} from './job.ts';
import { DEFAULT_HISTORY, DEFAULT_POLICY, DEFAULT_TIMEOUT_SECONDS, TERMINAL_RUN_STATUSES } from './job.ts';
import { boolField, bytesField, fail, intField, isObject, msField, show, textField } from './fields.ts';
import { validateAlertPolicy, validateDelivery, validateHealthcheck } from './notify-validation.ts';
import { validateOtherPayload } from './payload-validation.ts';
import { nextFireTime, parseAt, validateSchedule } from './schedule.ts';

/** The loose shape a job is created or edited from. Durations in ms fields may also be strings like "30s". */
export interface JobInput {
  name: string;
  description?: string;
  enabled?: boolean;
  schedule: Schedule;
  payload: Payload;
  /** Default true for `at` schedules, false otherwise. */
  deleteAfterRun?: boolean;
  policy?: Partial<JobPolicy>;
  evidence?: Evidence;
  history?: Partial<HistoryPolicy>;
  /** Merged into the job's alert policy on edit; null removes it. */
  alerts?: Partial<AlertPolicy> | null;
  /** Replaces the job's delivery on edit; null removes it. */
  delivery?: DeliveryPolicy | null;
  /** Replaces the healthcheck on edit; null removes it. */
  healthcheck?: { url: string } | null;
  /** Set by imports and job files; kept through edits that do not give one. */
  source?: JobSource;
  /** Pins the job to one host's daemon; on edit, null (or "") unpins it. */
  onHost?: string | null;
}

export const MAX_NAME_LENGTH = 200;
export const MAX_DESCRIPTION_LENGTH = 10_000;
/** Variables the executor sets for every run; a job may not override them. */
export const RESERVED_ENV_KEYS = [
  'NIGHTSHIFT_JOB_ID',
  'NIGHTSHIFT_RUN_ID',
  'NIGHTSHIFT_SLOT',
  'NIGHTSHIFT_ATTEMPT',
];

const OVERLAP = ['skip', 'queue-one', 'allow'] as const;
const CATCHUP = ['skip', 'one', 'all'] as const;
const TERMINAL: readonly TerminalRunStatus[] = TERMINAL_RUN_STATUSES;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

// ---------------------------------------------------------------------------------------------

export function validateName(v: unknown): string {
  if (typeof v !== 'string')
    fail(`name: must be a string, got ${show(v)}`, 'give the job a name, e.g. --name nightly-backup');
  const name = v.trim();
  if (name === '') fail('name: must not be empty', 'give the job a name, e.g. --name nightly-backup');
  if (name.length > MAX_NAME_LENGTH)
    fail(
      `name: ${name.length} characters; at most ${MAX_NAME_LENGTH}`,
      'use a shorter name and put details in --description',
    );
  if (CONTROL_CHARS.test(name))
    fail(`name: contains a control character (newline, tab, escape, …)`, 'use printable characters only');
  return name;
}

function validateDescription(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  const d = textField(v, 'description');
  if (d.length > MAX_DESCRIPTION_LENGTH)
    fail(`description: ${d.length} characters; at most ${MAX_DESCRIPTION_LENGTH}`);
  return d === '' ? undefined : d;
}

/** A host name as `hostname` prints it (or $NIGHTSHIFT_HOST sets it). */
function validateOnHost(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const h = textField(v, 'onHost');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(h))
    fail(`onHost: "${h}" is not a host name`, 'give the name `hostname` prints on that machine');
  return h;
}

function validateEnv(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v))
    fail(
      `payload.env: must be an object of NAME: value strings, got ${show(v)}`,
      'on the command line: --command-env KEY=VALUE (repeatable)',
    );
  const env: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (!ENV_KEY.test(k))
      fail(
        `payload.env: "${k}" is not a valid variable name`,
        'names are letters, digits and _, not starting with a digit',
      );
    if (RESERVED_ENV_KEYS.includes(k))
      fail(
        `payload.env.${k}: is set by nightshift for every run and cannot be overridden`,
        'choose another name',
      );
    // The value is never echoed: env values often hold secrets.
    if (typeof val !== 'string') fail(`payload.env.${k}: value must be a string`);
    if (val.includes('\u0000')) fail(`payload.env.${k}: value contains a NUL byte`);
    env[k] = val;
  }
  return Object.keys(env).length > 0 ? env : undefined;
}

export function validatePayload(v: unknown): Payload {
  if (!isObject(v))
    fail(
      'payload: missing',
      'give what the job runs, e.g. --command "backup.sh" or --command-argv \'["backup.sh","--all"]\'',
    );
  const kind = v.kind ?? (v.command !== undefined || v.argv !== undefined ? 'command' : undefined);
  if (kind !== 'command') return validateOtherPayload(v);
  const hasCommand = v.command !== undefined && v.command !== null;
  const hasArgv = v.argv !== undefined && v.argv !== null;
  if (hasCommand && hasArgv)
    fail(
      'payload.command: give either command or argv, not both',
      'use command for a shell string (run by /bin/sh -c), argv for a program and its arguments',
    );
  if (!hasCommand && !hasArgv)
    fail(
      'payload.command: missing; give command (a shell string) or argv (a list)',
      'e.g. --command "tar czf /backup/x.tgz ~/work" or --command-argv \'["tar","czf","/backup/x.tgz"]\'',
    );
  const out: CommandPayload = { kind: 'command' };
  if (hasCommand) {
    const command = textField(v.command, 'payload.command');
    if (command.trim() === '') fail('payload.command: must not be empty', 'give the shell command to run');
    out.command = command;
  } else {
    if (!Array.isArray(v.argv))
      fail(
        `payload.argv: must be a list of strings, got ${show(v.argv)}`,
        'e.g. ["tar","czf","/backup/x.tgz"]',
      );
    if (v.argv.length === 0)
      fail('payload.argv: must not be empty', 'the first element is the program to run');
    out.argv = v.argv.map((a, i) => textField(a, `payload.argv[${i}]`));
    if (out.argv[0] === '') fail('payload.argv[0]: the program name must not be empty');
  }
  if (v.cwd !== undefined && v.cwd !== null) {
    const cwd = textField(v.cwd, 'payload.cwd');
    if (!cwd.startsWith('/'))
      fail(
        `payload.cwd: must be an absolute path, got ${show(cwd)}`,
        "the daemon does not run in your shell's directory; give a full path",
      );
    out.cwd = cwd;
  }
  const env = validateEnv(v.env);
  if (env) out.env = env;
  if (v.input !== undefined && v.input !== null) out.input = textField(v.input, 'payload.input');
  out.timeoutSeconds =
    v.timeoutSeconds === undefined || v.timeoutSeconds === null
      ? DEFAULT_TIMEOUT_SECONDS
      : intField(
          v.timeoutSeconds,
          'payload.timeoutSeconds',
          0,
          30 * 86_400,
          '0 means no timeout; the default is 600',
        );
  return out;
}

export function validatePolicy(v: unknown): JobPolicy {
  if (v !== undefined && v !== null && !isObject(v)) fail(`policy: must be an object, got ${show(v)}`);
  const p = (v ?? {}) as Record<string, unknown>;
  const overlap = p.overlap ?? DEFAULT_POLICY.overlap;
  if (!OVERLAP.includes(overlap as (typeof OVERLAP)[number]))
    fail(`policy.overlap: must be one of ${OVERLAP.join(', ')}, got ${show(overlap)}`);
  const catchup = p.catchup ?? DEFAULT_POLICY.catchup;
  if (!CATCHUP.includes(catchup as (typeof CATCHUP)[number]))
    fail(`policy.catchup: must be one of ${CATCHUP.join(', ')}, got ${show(catchup)}`);
  const catchupWindowMs =
    p.catchupWindowMs === undefined
      ? DEFAULT_POLICY.catchupWindowMs
      : msField(p.catchupWindowMs, 'policy.catchupWindowMs', 1_000, 366 * 86_400_000);
  const catchupMax =
    p.catchupMax === undefined
      ? DEFAULT_POLICY.catchupMax
      : intField(p.catchupMax, 'policy.catchupMax', 1, 10_000);
  const retries =
    p.retries === undefined ? DEFAULT_POLICY.retries : intField(p.retries, 'policy.retries', 0, 100);
  let retryBackoffMs = DEFAULT_POLICY.retryBackoffMs;
  if (p.retryBackoffMs !== undefined) {
    if (!Array.isArray(p.retryBackoffMs) || p.retryBackoffMs.length === 0) {
      fail(
        `policy.retryBackoffMs: must be a non-empty list of delays, got ${show(p.retryBackoffMs)}`,
        'e.g. ["30s","1m","5m"]',
      );
    }
    retryBackoffMs = p.retryBackoffMs.map((d, i) =>
      msField(d, `policy.retryBackoffMs[${i}]`, 0, 7 * 86_400_000),
    );
  }
  return {
    overlap: overlap as JobPolicy['overlap'],
    catchup: catchup as JobPolicy['catchup'],
    catchupWindowMs,
    catchupMax,
    retries,
    retryBackoffMs: [...retryBackoffMs],
  };
}

export function validateEvidence(v: unknown): Evidence {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) fail(`evidence: must be an object, got ${show(v)}`);
  const out: Evidence = {};
  if (v.expectFile !== undefined && v.expectFile !== null) {
    const f = textField(v.expectFile, 'evidence.expectFile');
    if (f.trim() === '')
      fail('evidence.expectFile: must not be empty', 'give a path or glob, e.g. /backup/*.tgz');
    out.expectFile = f;
  }
  if (v.expectMinBytes !== undefined && v.expectMinBytes !== null) {
    out.expectMinBytes = bytesField(v.expectMinBytes, 'evidence.expectMinBytes', 0, Number.MAX_SAFE_INTEGER);
    if (out.expectFile === undefined)
      fail(
        'evidence.expectMinBytes: needs evidence.expectFile (which file should have that size?)',
        'add --expect-file GLOB',
      );
  }
  if (v.expectOutput !== undefined && v.expectOutput !== null) {
    const re = textField(v.expectOutput, 'evidence.expectOutput');
    if (re === '')
      fail('evidence.expectOutput: must not be empty', 'give a regular expression the output must match');
    if (re.length > 1000) fail('evidence.expectOutput: longer than 1000 characters');
    try {
      new RegExp(re);
    } catch (err) {
      fail(
        `evidence.expectOutput: not a valid regular expression (${(err as Error).message})`,
        'use JavaScript RegExp syntax, e.g. "backup (done|complete)"',
      );
    }
    out.expectOutput = re;
  }
  return out;
}

export function validateHistory(v: unknown): HistoryPolicy {
  if (v !== undefined && v !== null && !isObject(v)) fail(`history: must be an object, got ${show(v)}`);
  const h = (v ?? {}) as Record<string, unknown>;
  return {
    maxRuns:
      h.maxRuns === undefined
        ? DEFAULT_HISTORY.maxRuns
        : intField(h.maxRuns, 'history.maxRuns', 1, 1_000_000),
    maxAgeMs:
      h.maxAgeMs === undefined
        ? DEFAULT_HISTORY.maxAgeMs
        : msField(h.maxAgeMs, 'history.maxAgeMs', 60_000, 100 * 366 * 86_400_000),
    outputTailBytes:
      h.outputTailBytes === undefined
        ? DEFAULT_HISTORY.outputTailBytes
        : bytesField(h.outputTailBytes, 'history.outputTailBytes', 0, 16 * 1024 * 1024),
  };
}

function validateState(v: unknown): JobState {
  if (v === undefined || v === null) return { consecutiveErrors: 0, consecutiveSkipped: 0 };
  if (!isObject(v)) fail(`state: must be an object, got ${show(v)}`);
  const state: JobState = {
    consecutiveErrors:
      v.consecutiveErrors === undefined
        ? 0
        : intField(v.consecutiveErrors, 'state.consecutiveErrors', 0, Number.MAX_SAFE_INTEGER),
    consecutiveSkipped:
      v.consecutiveSkipped === undefined
        ? 0
        : intField(v.consecutiveSkipped, 'state.consecutiveSkipped', 0, Number.MAX_SAFE_INTEGER),
  };
  for (const k of ['nextRunAtMs', 'runningAtMs', 'lastRunAtMs', 'lastDurationMs'] as const) {
    if (v[k] !== undefined && v[k] !== null)
      state[k] = intField(v[k], `state.${k}`, 0, Number.MAX_SAFE_INTEGER);
  }
  if (v.lastRunStatus !== undefined && v.lastRunStatus !== null) {
    if (!TERMINAL.includes(v.lastRunStatus as TerminalRunStatus))
      fail(`state.lastRunStatus: must be one of ${TERMINAL.join(', ')}, got ${show(v.lastRunStatus)}`);
    state.lastRunStatus = v.lastRunStatus as TerminalRunStatus;
  }
  if (v.lastError !== undefined && v.lastError !== null)
    state.lastError = textField(v.lastError, 'state.lastError');
  return state;
}

function checkAtNotPast(s: Schedule, nowMs: number): void {
  if (s.kind !== 'at') return;
  const t = parseAt(s.at, s.tz, undefined, { inGap: 'after' });
  if (t <= nowMs) {
    fail(
      `schedule.at: ${new Date(t).toISOString()} is in the past, so the job would never run`,
      "give a future time, e.g. +20m or tomorrow's date; use `cron run` to run a job now",
    );
  }
}

/** The next fire time to show in `state`, or undefined (disabled, or a one-shot already past). */
function initialNextRun(
  job: Pick<Job, 'enabled' | 'schedule' | 'createdAtMs'>,
  nowMs: number,
): number | undefined {
  return job.enabled ? nextFireTime(job.schedule, nowMs, job.createdAtMs) : undefined;
}

// ---------------------------------------------------------------------------------------------

/**
 * A new job from loose input: fills defaults from job.ts, resolves a relative `at` (+20m) against
 * `nowMs`, refuses an `at` in the past, and validates everything.
 */
export function buildJob(input: JobInput, nowMs: number, newId: () => string): Job {
  if (!isObject(input)) fail('job: must be an object with name, schedule and payload');
  const schedule = validateSchedule(input.schedule, nowMs);
  checkAtNotPast(schedule, nowMs);
  const job: Job = {
    id: newId(),
    ...definitionFields(input, schedule),
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    state: { consecutiveErrors: 0, consecutiveSkipped: 0 },
  };
  const next = initialNextRun(job, nowMs);
  if (next !== undefined) job.state.nextRunAtMs = next;
  return job;
}

/**
 * An edited job. `patch` replaces name, description (`''` clears it), enabled, schedule and
 * deleteAfterRun; it merges into payload (setting argv drops command and vice versa), policy,
 * evidence (a key set to undefined/null is removed) and history. The result is validated whole.
 */
export function applyJobPatch(job: Job, patch: Partial<JobInput>, nowMs: number): Job {
  if (!isObject(patch)) fail('patch: must be an object');
  const scheduleChanged = patch.schedule !== undefined;
  const schedule = scheduleChanged ? validateSchedule(patch.schedule as Schedule, nowMs) : job.schedule;
  if (scheduleChanged) checkAtNotPast(schedule, nowMs);

  let payload: Payload = job.payload;
  if (patch.payload !== undefined) {
    const p = patch.payload as unknown as Record<string, unknown>;
    // A patch of another kind replaces the payload: fields of the old kind mean nothing to it.
    const base = p.kind !== undefined && p.kind !== job.payload.kind ? {} : job.payload;
    const merged: Record<string, unknown> = { ...base, ...patch.payload };
    for (const [k, val] of Object.entries(merged)) if (val === null) delete merged[k];
    if (p.argv !== undefined && p.command === undefined) delete merged.command;
    if (p.command !== undefined && p.argv === undefined) delete merged.argv;
    payload = validatePayload(merged);
  }

  let evidence = job.evidence;
  if (patch.evidence !== undefined) {
    const merged: Record<string, unknown> = { ...job.evidence };
    for (const [k, val] of Object.entries(patch.evidence as object)) {
      if (val === undefined || val === null) delete merged[k];
      else merged[k] = val;
    }
    evidence = validateEvidence(merged);
  }

  const kindChanged = scheduleChanged && schedule.kind !== job.schedule.kind;
  const edited: Job = {
    ...job,
    name: patch.name === undefined ? job.name : validateName(patch.name),
    enabled: patch.enabled === undefined ? job.enabled : boolField(patch.enabled, 'enabled'),
    schedule,
    payload,
    deleteAfterRun:
      patch.deleteAfterRun !== undefined
        ? boolField(patch.deleteAfterRun, 'deleteAfterRun')
        : kindChanged
          ? schedule.kind === 'at'
          : job.deleteAfterRun,
    policy: patch.policy === undefined ? job.policy : validatePolicy({ ...job.policy, ...patch.policy }),
    evidence,
    history:
      patch.history === undefined ? job.history : validateHistory({ ...job.history, ...patch.history }),
    updatedAtMs: nowMs,
    state: { ...job.state },
  };
  if (patch.alerts !== undefined || patch.delivery !== undefined || patch.healthcheck !== undefined) {
    const alerts =
      patch.alerts === undefined
        ? job.alerts
        : patch.alerts === null
          ? undefined
          : { ...job.alerts, ...patch.alerts };
    const delivery = patch.delivery === undefined ? job.delivery : patch.delivery;
    const healthcheck = patch.healthcheck === undefined ? job.healthcheck : patch.healthcheck;
    setNotify(edited, alerts, delivery, healthcheck);
  } else if (patch.payload !== undefined || patch.evidence !== undefined) {
    setNotify(edited, job.alerts, job.delivery, job.healthcheck);
  }
  if (patch.onHost !== undefined) {
    const h = validateOnHost(patch.onHost);
    if (h === undefined) delete edited.onHost;
    else edited.onHost = h;
  }
  if (patch.description !== undefined) {
    const d = validateDescription(patch.description);
    if (d === undefined) delete edited.description;
    else edited.description = d;
  }
  if (patch.source !== undefined) {
    const source = validateSource(patch.source);
    if (source) edited.source = source;
  }
  if (scheduleChanged || patch.enabled !== undefined) {
    const next = initialNextRun(edited, nowMs);
    if (next === undefined) delete edited.state.nextRunAtMs;
    else edited.state.nextRunAtMs = next;
  }
  return edited;
}

/**
 * Checks a job read back from storage or imported, filling defaults that older files may lack.
 * Unlike buildJob it accepts an `at` in the past (a one-shot that already ran and was kept).
 */
export function validateJob(job: Job): Job {
  const raw: unknown = job;
  if (!isObject(raw)) fail('job: must be an object');
  if (typeof raw.id !== 'string' || raw.id.trim() === '' || CONTROL_CHARS.test(raw.id))
    fail(`id: must be a non-empty string, got ${show(raw.id)}`);
  const createdAtMs = intField(raw.createdAtMs, 'createdAtMs', 0, Number.MAX_SAFE_INTEGER);
  const schedule = validateSchedule(raw.schedule as Schedule);
  const out: Job = {
    id: raw.id,
    ...definitionFields(raw, schedule),
    createdAtMs,
    updatedAtMs:
      raw.updatedAtMs === undefined
        ? createdAtMs
        : intField(raw.updatedAtMs, 'updatedAtMs', 0, Number.MAX_SAFE_INTEGER),
    state: validateState(raw.state),
  };
  return out;
}

type JobDefinition = Pick<
  Job,
  | 'alerts'
  | 'delivery'
  | 'healthcheck'
  | 'source'
  | 'onHost'
  | 'name'
  | 'description'
  | 'enabled'
  | 'schedule'
  | 'payload'
  | 'deleteAfterRun'
  | 'policy'
  | 'evidence'
  | 'history'
>;

/** The user-defined fields of a job (everything but identity, times and state), validated with defaults. */
function definitionFields(raw: Record<string, unknown>, schedule: Schedule): JobDefinition {
  const def: JobDefinition = {
    name: validateName(raw.name),
    enabled: raw.enabled === undefined ? true : boolField(raw.enabled, 'enabled'),
    schedule,
    payload: validatePayload(raw.payload),
    deleteAfterRun:
      raw.deleteAfterRun === undefined
        ? schedule.kind === 'at'
        : boolField(raw.deleteAfterRun, 'deleteAfterRun'),
    policy: validatePolicy(raw.policy),
    evidence: validateEvidence(raw.evidence),
    history: validateHistory(raw.history),
  };
  const description = validateDescription(raw.description);
  if (description !== undefined) def.description = description;
  setNotify(def, raw.alerts, raw.delivery, raw.healthcheck);
  const source = validateSource(raw.source);
  if (source) def.source = source;
  const onHost = validateOnHost(raw.onHost);
  if (onHost !== undefined) def.onHost = onHost;
  return def;
}

function validateSource(v: unknown): JobSource | undefined {
  if (v === undefined || v === null) return undefined;
  if (isObject(v) && v.kind === 'file') {
    const path = textField(v.path, 'source.path');
    if (path.trim() === '') fail('source.path: must name the job file');
    return { kind: 'file', path };
  }
  if (!isObject(v) || v.kind !== 'openclaw')
    fail(
      `source: must be { kind: "openclaw", id } or { kind: "file", path }, got ${show(v)}`,
      'source is set by `nightshift import` and `nightshift apply`',
    );
  const id = textField(v.id, 'source.id');
  if (id.trim() === '' || id.length > 200)
    fail('source.id: must be a non-empty id of at most 200 characters');
  return { kind: 'openclaw', id };
}

/** Sets (or removes, when absent) alerts, delivery and healthcheck, and checks how they fit the payload. */
function setNotify(def: JobDefinition, alerts: unknown, delivery: unknown, healthcheck: unknown): void {
  const a = validateAlertPolicy(alerts);
  const d = validateDelivery(delivery);
  const h = validateHealthcheck(healthcheck);
  if (a) def.alerts = a;
  else delete def.alerts;
  if (d) def.delivery = d;
  else delete def.delivery;
  if (h) def.healthcheck = h;
  else delete def.healthcheck;
  const kind = def.payload.kind;
  if (
    a &&
    (a.anomalyFactor !== undefined || a.maxRepoBytes !== undefined || a.maxRepoUsagePercent !== undefined) &&
    kind !== 'backup'
  )
    fail(
      `alerts.${a.anomalyFactor !== undefined ? 'anomalyFactor' : a.maxRepoBytes !== undefined ? 'maxRepoBytes' : 'maxRepoUsagePercent'}: anomaly and storage alerts apply to backup jobs only`,
      'drop --alert-anomaly-factor / --alert-max-repo-bytes / --alert-repo-usage, or make it a --backup job',
    );
  if (kind !== 'command' && Object.keys(def.evidence).length > 0)
    fail(
      `evidence.${Object.keys(def.evidence)[0]}: declared evidence applies to command jobs`,
      kind === 'backup' || kind === 'drill'
        ? 'a backup or drill proves itself against the repository; drop the --expect-* flags'
        : 'drop the --expect-* flags',
    );
  if (d && d.mode !== 'none' && kind === 'systemEvent')
    fail(
      'delivery: a system event is delivered into its session, not announced',
      'drop --announce/--webhook; use --message for an agent turn whose reply is announced',
    );
}
