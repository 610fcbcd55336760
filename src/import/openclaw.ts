/**
 * OpenClaw's cron store (`~/.openclaw/cron/jobs.json`, with or without the `jobs-state.json`
 * sidecar that newer versions keep the runtime state in) mapped onto nightshift jobs. Pure: no
 * I/O, the time and the configured channel names are given. Every OpenClaw field is either mapped
 * or reported as not mapped with the reason, so a user can see what the import leaves behind.
 *
 * Imported jobs carry their OpenClaw id in `source`: re-running the import finds them by it and
 * updates them instead of adding duplicates.
 *
 * One file past the usual size: it is the field-by-field map of one foreign format (docs/openclaw.md
 * is its table), and each field's fate reads best next to the others'.
 */
import { UserError } from '../domain/errors.ts';
import { isObject, show } from '../domain/fields.ts';
import type { DeliveryPolicy, Job, JobState, Payload, Schedule, SessionTarget } from '../domain/job.ts';
import { buildJob } from '../domain/job-validation.ts';
import type { JobInput } from '../domain/job-validation.ts';
import { definitionDiff } from '../domain/job-drift.ts';
import { parseAt } from '../domain/schedule.ts';

/** A field the import could not carry over, and why. */
export interface UnmappedField {
  field: string;
  reason: string;
}

/** One OpenClaw job turned into nightshift job input (not yet validated against the store). */
export interface MappedJob {
  ok: true;
  openclawId: string;
  name: string;
  input: JobInput;
  /** Informative state carried over on creation (last run, last error, consecutive failures). */
  state: Partial<JobState>;
  /** OpenClaw's creation time, kept on creation. */
  createdAtMs?: number;
  unmapped: UnmappedField[];
}

/** One OpenClaw job that cannot be imported at all. */
export interface SkippedJob {
  ok: false;
  openclawId: string;
  name: string;
  reason: string;
}

export type MapResult = MappedJob | SkippedJob;

export interface MapOptions {
  nowMs: number;
  /** Names of the channels configured in nightshift (announce targets must be one of them). */
  channels: readonly string[];
  /** Of those, the ones whose kind has threads (a delivery.threadId on another one is reported). */
  threadChannels?: readonly string[];
}

export type ImportAction = 'created' | 'updated' | 'unchanged' | 'skipped';

export interface ImportEntry {
  action: ImportAction;
  openclawId: string;
  name: string;
  /** The nightshift job (absent for skipped entries). */
  jobId?: string;
  /** Why it was skipped. */
  reason?: string;
  unmapped: UnmappedField[];
}

export interface ImportPlan {
  entries: ImportEntry[];
  /** The writes, in order; applied only when every job validated. */
  inserts: Job[];
  updates: Job[];
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/;
/** nightshift's names for agents and sessions (payload-validation.ts). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
/** The OpenClaw job id a nightshift job was imported from, if any. */
export function importedFrom(job: Pick<Job, 'source'>): string | undefined {
  return job.source?.kind === 'openclaw' ? job.source.id : undefined;
}

function invalid(file: string, message: string, hint?: string): UserError {
  return new UserError(`${file}: ${message}`, {
    hint: hint ?? 'give the jobs.json of an OpenClaw install (usually ~/.openclaw/cron/jobs.json)',
  });
}

/**
 * The raw jobs of a jobs.json text (`{version: 1, jobs: [...]}` or a bare array), with the
 * sidecar's state merged in by job id. Refuses a file that is not OpenClaw's shape at all.
 */
export function parseOpenClawStore(
  text: string,
  file: string,
  stateText?: string,
  stateFile = 'jobs-state.json',
): Array<Record<string, unknown>> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(file, `not valid JSON (${(err as Error).message})`);
  }
  let jobs: unknown;
  if (Array.isArray(raw)) jobs = raw;
  else if (isObject(raw) && Array.isArray(raw.jobs)) {
    if (raw.version !== undefined && raw.version !== 1)
      throw invalid(file, `version ${show(raw.version)} is not supported (only version 1)`);
    jobs = raw.jobs;
  } else throw invalid(file, 'expected {"version": 1, "jobs": [...]} or a list of jobs');
  const list = jobs as unknown[];
  const seen = new Set<string>();
  const out: Array<Record<string, unknown>> = [];
  list.forEach((j, i) => {
    if (!isObject(j)) throw invalid(file, `jobs[${i}]: must be an object, got ${show(j)}`);
    const id = j.id ?? j.jobId;
    if (typeof id !== 'string' || !ID.test(id))
      throw invalid(file, `jobs[${i}].id: missing or not an id, got ${show(id)}`, 'every job needs its id');
    if (seen.has(id)) throw invalid(file, `jobs[${i}].id: "${id}" appears twice`);
    seen.add(id);
    out.push({ ...j, id });
  });
  if (stateText !== undefined) {
    const states = parseStateSidecar(stateText, stateFile);
    for (const job of out) {
      const s = states.get(job.id as string);
      if (s) job.state = { ...(isObject(job.state) ? job.state : {}), ...s };
    }
  }
  return out;
}

/** jobs-state.json: `{version, jobs: {<id>: {state: {...}, ...}}}`; also a list of `{id, state}`. */
function parseStateSidecar(text: string, file: string): Map<string, Record<string, unknown>> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(file, `not valid JSON (${(err as Error).message})`, 'fix or move the sidecar aside');
  }
  const map = new Map<string, Record<string, unknown>>();
  const jobs = isObject(raw) ? raw.jobs : undefined;
  const stateOf = (e: unknown): Record<string, unknown> | undefined =>
    isObject(e) ? (isObject(e.state) ? e.state : e) : undefined;
  if (Array.isArray(jobs)) {
    for (const e of jobs) {
      const id = isObject(e) ? (e.id ?? e.jobId) : undefined;
      const s = stateOf(e);
      if (typeof id === 'string' && s) map.set(id, s);
    }
  } else if (isObject(jobs)) {
    for (const [id, e] of Object.entries(jobs)) {
      const s = stateOf(e);
      if (s) map.set(id, s);
    }
  } else {
    throw invalid(file, 'expected {"jobs": {<job id>: {"state": {...}}}}', 'fix or move the sidecar aside');
  }
  return map;
}

// ---------------------------------------------------------------------------------------------

/** Fields of an OpenClaw job that mean nothing in nightshift: `jobId` is the id's old name, the
 * other OpenClaw's own bookkeeping of the schedule. */
const IGNORED_TOP = new Set(['jobId', 'scheduleIdentity']);
const KNOWN_TOP = new Set([
  'id',
  'name',
  'description',
  'enabled',
  'deleteAfterRun',
  'schedule',
  'sessionTarget',
  'wakeMode',
  'payload',
  'delivery',
  'state',
  'agentId',
  'failureAlert',
  'sessionKey',
  'notify',
  'createdAtMs',
  'updatedAtMs',
  ...IGNORED_TOP,
]);

/** A non-negative whole number of milliseconds, also when written as a numeric string. */
function wholeMs(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\s*\d+\s*$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  return undefined;
}

/** Maps one OpenClaw job (as parseOpenClawStore returns it). */
export function mapOpenClawJob(job: Record<string, unknown>, opts: MapOptions): MapResult {
  const id = job.id as string;
  const name = typeof job.name === 'string' && job.name.trim() !== '' ? job.name.trim() : id;
  const unmapped: UnmappedField[] = [];
  const skip = (reason: string): SkippedJob => ({ ok: false, openclawId: id, name, reason });
  const drop = (field: string, reason: string): void => void unmapped.push({ field, reason });

  for (const k of Object.keys(job))
    if (!KNOWN_TOP.has(k)) drop(k, 'not a field nightshift knows from OpenClaw jobs');
  if (job.sessionKey !== undefined)
    drop('sessionKey', 'the chat session that created the job exists only in OpenClaw');
  if (job.notify !== undefined)
    drop('notify', 'legacy webhook fallback (cron.webhook); give the job a webhook delivery instead');
  const createdAtMs = wholeMs(job.createdAtMs);
  if (job.createdAtMs !== undefined && (createdAtMs === undefined || createdAtMs > opts.nowMs))
    drop(
      'createdAtMs',
      `not a past time in epoch milliseconds (${show(job.createdAtMs)}); the import time is used`,
    );
  if (job.updatedAtMs !== undefined)
    drop(
      'updatedAtMs',
      'the import is the last change nightshift knows of: updatedAtMs is the import time, and no fire time from before it is caught up',
    );

  // Schedule.
  const schedule = mapSchedule(job.schedule, job.createdAtMs, drop);
  if (typeof schedule === 'string') return skip(schedule);
  if (schedule.kind === 'at') {
    let t: number;
    try {
      t = parseAt(schedule.at, schedule.tz, opts.nowMs);
    } catch (err) {
      return skip(`schedule.at: ${(err as Error).message}`);
    }
    if (t <= opts.nowMs)
      return skip(`one-shot time ${new Date(t).toISOString()} has passed; nothing left to schedule`);
  }

  // Payload and session.
  const agent = job.agentId;
  if (agent !== undefined && agent !== null && (typeof agent !== 'string' || !NAME.test(agent)))
    return skip(`agentId: ${show(agent)} is not a valid nightshift agent name (letters, digits, _ . -)`);
  const payload = mapPayload(job, agent as string | undefined, drop);
  if (typeof payload === 'string') return skip(payload);

  // Delivery.
  let delivery: DeliveryPolicy | undefined;
  if (payload.kind === 'agentTurn') delivery = mapDelivery(job, opts.channels, drop);
  else if (job.delivery !== undefined) {
    const d = mapDelivery(job, opts.channels, drop);
    // A system event goes into its session; only a webhook copy could apply, and nightshift has none.
    if (d && d.mode !== 'none')
      drop('delivery', 'a system event is delivered into its session; nightshift announces nothing for it');
  }
  if (
    delivery?.mode === 'announce' &&
    delivery.threadId !== undefined &&
    opts.threadChannels &&
    !opts.threadChannels.includes(delivery.channel)
  ) {
    drop(
      'delivery.threadId',
      `channel ${delivery.channel} has no threads (only telegram, discord and slack ones do)`,
    );
    delete delivery.threadId;
  }

  const input: JobInput = { name, schedule, payload, source: { kind: 'openclaw', id } };
  const desc = typeof job.description === 'string' ? job.description.trim() : '';
  if (desc !== '') input.description = desc;
  if (typeof job.enabled === 'boolean') input.enabled = job.enabled;
  else if (job.enabled !== undefined) drop('enabled', `must be true or false, got ${show(job.enabled)}`);
  if (typeof job.deleteAfterRun === 'boolean') input.deleteAfterRun = job.deleteAfterRun;
  if (delivery) input.delivery = delivery;
  const includeSkipped = mapFailureAlert(job.failureAlert, drop);
  if (includeSkipped) input.alerts = { includeSkipped: true };

  const state = mapState(job.state, drop);
  const out: MappedJob = { ok: true, openclawId: id, name, input, state, unmapped };
  if (createdAtMs !== undefined && createdAtMs <= opts.nowMs) out.createdAtMs = createdAtMs;
  return out;
}

function mapSchedule(
  v: unknown,
  createdAtMs: unknown,
  drop: (field: string, reason: string) => void,
): Schedule | string {
  if (!isObject(v)) return `schedule: missing or not an object (${show(v)})`;
  if (v.staggerMs !== undefined && v.staggerMs !== 0 && v.staggerMs !== '0')
    drop(
      'schedule.staggerMs',
      'nightshift fires at the exact time, with no random delay; to spread jobs that share a time, give them different minutes (e.g. "3 * * * *" and "7 * * * *")',
    );
  // Older stores wrote `{cron: "0 */2 * * *"}` without a kind, and `{kind: "interval", intervalMs}`.
  const kind = v.kind ?? (typeof v.cron === 'string' || typeof v.expr === 'string' ? 'cron' : undefined);
  switch (kind) {
    case 'cron': {
      const expr = v.expr ?? v.cron;
      if (typeof expr !== 'string') return `schedule.expr: missing (${show(expr)})`;
      return typeof v.tz === 'string' && v.tz !== ''
        ? { kind: 'cron', expr, tz: v.tz }
        : { kind: 'cron', expr };
    }
    case 'every':
    case 'interval': {
      const field = kind === 'every' ? 'everyMs' : 'intervalMs';
      const raw = v[field];
      const everyMs = wholeMs(raw);
      if (everyMs === undefined)
        return raw === undefined
          ? `schedule.${field}: missing`
          : `schedule.${field}: ${show(raw)} is not a whole number of milliseconds`;
      // OpenClaw anchors at anchorMs, else at the job's creation; nightshift does the same when told.
      const anchor = wholeMs(v.anchorMs) ?? wholeMs(createdAtMs);
      if (v.anchorMs !== undefined && wholeMs(v.anchorMs) === undefined)
        return `schedule.anchorMs: ${show(v.anchorMs)} is not epoch milliseconds`;
      return anchor === undefined ? { kind: 'every', everyMs } : { kind: 'every', everyMs, anchorMs: anchor };
    }
    case 'at': {
      if (typeof v.at === 'string') {
        if (typeof v.tz === 'string' && v.tz !== '') return { kind: 'at', at: v.at, tz: v.tz };
        return { kind: 'at', at: v.at };
      }
      // Older stores kept one-shots as epoch milliseconds.
      const atMs = wholeMs(v.atMs);
      if (atMs !== undefined) return { kind: 'at', at: new Date(atMs).toISOString() };
      return `schedule.at: missing (${show(v.at ?? v.atMs)})`;
    }
    default:
      return `schedule.kind: ${show(v.kind)} is not an OpenClaw schedule kind (cron, every, at; or the older interval)`;
  }
}

function sessionOf(v: unknown, dflt: SessionTarget): SessionTarget | { error: string } {
  if (v === undefined || v === null) return dflt;
  if (v === 'main' || v === 'isolated' || v === 'current') return v;
  if (typeof v === 'string' && v.startsWith('session:') && NAME.test(v.slice(8))) return v as SessionTarget;
  return {
    error: `sessionTarget: ${show(v)} is not a session nightshift can target (main, isolated, current, session:<id>)`,
  };
}

function mapPayload(
  job: Record<string, unknown>,
  agent: string | undefined,
  drop: (field: string, reason: string) => void,
): Payload | string {
  const p = job.payload;
  if (!isObject(p)) return `payload: missing or not an object (${show(p)})`;
  const known = (keys: string[]): void => {
    for (const k of Object.keys(p))
      if (!keys.includes(k)) drop(`payload.${k}`, 'not a payload field nightshift knows from OpenClaw');
  };
  switch (p.kind) {
    case 'systemEvent': {
      known(['kind', 'text']);
      if (typeof p.text !== 'string' || p.text.trim() === '') return 'payload.text: missing';
      const session = sessionOf(job.sessionTarget, 'main');
      if (typeof session !== 'string') return session.error;
      if (session === 'isolated')
        return 'sessionTarget: a system event cannot go to an isolated session (OpenClaw refuses it too)';
      const wake = job.wakeMode ?? 'now'; // OpenClaw's default; nightshift's own default is next-heartbeat
      if (wake !== 'now' && wake !== 'next-heartbeat')
        return `wakeMode: ${show(wake)} is not now or next-heartbeat`;
      const out: Payload = { kind: 'systemEvent', text: p.text, session, wake };
      if (agent !== undefined) out.agent = agent;
      return out;
    }
    case 'agentTurn': {
      known([
        'kind',
        'message',
        'model',
        'thinking',
        'timeoutSeconds',
        'lightContext',
        'fallbacks',
        'allowUnsafeExternalContent',
        'deliver',
        'channel',
        'to',
        'bestEffortDeliver',
        'provider',
      ]);
      if (typeof p.message !== 'string' || p.message.trim() === '') return 'payload.message: missing';
      const session = sessionOf(job.sessionTarget, 'isolated');
      if (typeof session !== 'string') return session.error;
      const out: Payload = { kind: 'agentTurn', message: p.message, session };
      if (agent !== undefined) out.agent = agent;
      if (typeof p.model === 'string' && p.model.trim() !== '') out.model = p.model.trim();
      if (Array.isArray(p.fallbacks)) {
        const list = p.fallbacks.filter((f): f is string => typeof f === 'string' && f.trim() !== '');
        if (list.length > 0) out.fallbacks = list.map((f) => f.trim());
      }
      if (typeof p.timeoutSeconds === 'number' && Number.isInteger(p.timeoutSeconds) && p.timeoutSeconds >= 0)
        out.timeoutSeconds = p.timeoutSeconds;
      else if (p.timeoutSeconds !== undefined)
        drop(
          'payload.timeoutSeconds',
          `not a whole number of seconds (${show(p.timeoutSeconds)}); default 600`,
        );
      if (typeof p.lightContext === 'boolean') out.lightContext = p.lightContext;
      if (p.thinking !== undefined)
        drop(
          'payload.thinking',
          `thinking level ${show(p.thinking)}: an OpenAI-compatible chat endpoint has no thinking-level setting`,
        );
      if (p.allowUnsafeExternalContent !== undefined)
        drop(
          'payload.allowUnsafeExternalContent',
          'nightshift agent turns have no external-content wrapping',
        );
      if (p.provider !== undefined)
        drop('payload.provider', 'legacy delivery alias; the delivery is taken from channel/to');
      if (job.wakeMode !== undefined && job.wakeMode !== 'now')
        drop('wakeMode', 'only times the main-session summary, which nightshift does not post');
      // OpenClaw gives a turn its agent's default tools; nightshift's default is none at all.
      drop(
        'payload.tools',
        "OpenClaw runs this turn with its agent's default tools, which do not exist here: it runs with no tools and can only reply; give it some with `cron edit <job> --tools exec,message`",
      );
      return out;
    }
    case 'command':
      return mapCommand(p, known, drop);
    default:
      return `payload.kind: ${show(p.kind)} cannot be imported (nightshift imports systemEvent, agentTurn and command)`;
  }
}

/**
 * OpenClaw's command payload: `command` (the program) and `args`, run without a shell, as OpenClaw
 * runs it; `argv` is the same as one list; `shell` (or `shell: true` with `command`) is a shell
 * line, run by `/bin/sh -c`.
 */
function mapCommand(
  p: Record<string, unknown>,
  known: (keys: string[]) => void,
  drop: (field: string, reason: string) => void,
): Payload | string {
  known([
    'kind',
    'command',
    'args',
    'argv',
    'shell',
    'cwd',
    'env',
    'timeoutSeconds',
    'outputLimitBytes',
    'successExitCodes',
    'input',
  ]);
  const strings = (v: unknown): string[] | undefined =>
    Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  const out: Payload = { kind: 'command' };
  if (typeof p.shell === 'string') {
    if (p.shell.trim() === '') return 'payload.shell: empty';
    out.command = p.shell;
  } else if (p.shell === true) {
    if (typeof p.command !== 'string' || p.command.trim() === '') return 'payload.command: missing';
    if (p.args !== undefined)
      return 'payload.args: a shell command line takes no separate args; put them in the line';
    out.command = p.command;
  } else if (p.argv !== undefined) {
    const argv = strings(p.argv);
    if (!argv || argv.length === 0 || argv[0]!.trim() === '')
      return `payload.argv: must be a non-empty list of strings, got ${show(p.argv)}`;
    out.argv = argv;
  } else {
    if (typeof p.command !== 'string' || p.command.trim() === '') return 'payload.command: missing';
    const args = p.args === undefined ? [] : strings(p.args);
    if (!args) return `payload.args: must be a list of strings, got ${show(p.args)}`;
    out.argv = [p.command, ...args];
  }
  if (typeof p.cwd === 'string' && p.cwd !== '') out.cwd = p.cwd;
  else if (p.cwd !== undefined) return `payload.cwd: must be a directory path, got ${show(p.cwd)}`;
  if (p.env !== undefined) {
    if (!isObject(p.env) || !Object.values(p.env).every((x) => typeof x === 'string'))
      return 'payload.env: must map names to string values';
    out.env = p.env as Record<string, string>;
  }
  if (typeof p.input === 'string') out.input = p.input;
  const timeout = wholeMs(p.timeoutSeconds);
  if (timeout !== undefined) out.timeoutSeconds = timeout;
  else if (p.timeoutSeconds !== undefined)
    drop('payload.timeoutSeconds', `not a whole number of seconds (${show(p.timeoutSeconds)}); default 600`);
  if (p.outputLimitBytes !== undefined)
    drop(
      'payload.outputLimitBytes',
      "the output kept per run is the job's history setting (default 16 KiB of its tail)",
    );
  const codes = p.successExitCodes;
  if (
    codes !== undefined &&
    !(Array.isArray(codes) && codes.length === 1 && codes[0] === 0) &&
    !(Array.isArray(codes) && codes.length === 0)
  )
    drop(
      'payload.successExitCodes',
      `only exit 0 counts as success in nightshift (OpenClaw also accepted ${show(codes)}); wrap the command to map its exit codes`,
    );
  return out;
}

/** OpenClaw's failureAlert: `includeSkipped` maps (skipped runs count toward the alert); the rest is reported. */
function mapFailureAlert(v: unknown, drop: (field: string, reason: string) => void): boolean {
  if (v === undefined || v === null) return false;
  if (!isObject(v)) {
    drop('failureAlert', `not an object (${show(v)}); set alerts with cron edit --alert-after N`);
    return false;
  }
  for (const k of Object.keys(v))
    if (k !== 'includeSkipped')
      drop(
        `failureAlert.${k}`,
        'nightshift alerts are set with --alert-after, --alert-cooldown and --alert-channel (cron edit)',
      );
  if (v.includeSkipped === undefined || v.includeSkipped === false) return false;
  if (v.includeSkipped === true) return true;
  drop('failureAlert.includeSkipped', `must be true or false, got ${show(v.includeSkipped)}`);
  return false;
}

function mapDelivery(
  job: Record<string, unknown>,
  channels: readonly string[],
  drop: (field: string, reason: string) => void,
): DeliveryPolicy | undefined {
  const p = isObject(job.payload) ? job.payload : {};
  let d = job.delivery;
  // Older stores kept delivery inside the agentTurn payload (deliver/channel/to).
  if (d === undefined && (p.deliver !== undefined || p.channel !== undefined || p.to !== undefined))
    d = { mode: p.deliver === false ? 'none' : 'announce', channel: p.channel, to: p.to };
  if (d === undefined) {
    drop(
      'delivery',
      'none given: OpenClaw announces isolated jobs to the last chat route, which nightshift does not have; the reply stays in the run record',
    );
    return undefined;
  }
  if (!isObject(d)) {
    drop('delivery', `not an object (${show(d)})`);
    return undefined;
  }
  if (d.bestEffort !== undefined || p.bestEffortDeliver !== undefined)
    drop(
      'delivery.bestEffort',
      'a failed delivery never fails a nightshift run; it is recorded with the run',
    );
  if (d.accountId !== undefined) drop('delivery.accountId', 'a nightshift channel has one account');
  const delivery = d;
  // A delivery that cannot be mapped takes its other fields with it; each is named.
  const dropRest = (why: string, except: string[]): undefined => {
    for (const k of ['channel', 'to', 'threadId', 'failureDestination'])
      if (!except.includes(k) && delivery[k] !== undefined)
        drop(`delivery.${k}`, `${show(delivery[k])} dropped with the delivery (${why})`);
    return undefined;
  };
  const failure = (): { failureDestination?: { channel: string; to?: string } } => {
    const f = d.failureDestination;
    if (f === undefined) return {};
    if (isObject(f) && typeof f.channel === 'string' && channels.includes(f.channel))
      return {
        failureDestination:
          typeof f.to === 'string' ? { channel: f.channel, to: f.to } : { channel: f.channel },
      };
    drop('delivery.failureDestination', `no nightshift channel named ${show(isObject(f) ? f.channel : f)}`);
    return {};
  };
  switch (d.mode) {
    case 'none':
      return { mode: 'none' };
    case 'webhook': {
      const url = d.to ?? d.url;
      if (typeof url === 'string' && URL.canParse(url) && /^https?:$/.test(new URL(url).protocol))
        return { mode: 'webhook', url, ...failure() };
      drop('delivery.to', `webhook delivery needs an http(s) URL, got ${show(url)}`);
      return dropRest('no webhook URL', ['to']);
    }
    case 'announce':
    case undefined: {
      const ch = d.channel;
      if (ch === undefined || ch === 'last') {
        drop(
          'delivery.channel',
          `${ch === undefined ? 'none given' : '"last"'}: nightshift has no last chat route; add a channel and re-run, or set one with cron edit`,
        );
        return dropRest('no channel', ['channel']);
      }
      if (typeof ch !== 'string' || !channels.includes(ch)) {
        drop(
          'delivery.channel',
          `no nightshift channel named ${show(ch)}${channels.length ? ` (configured: ${channels.join(', ')})` : ' (none configured)'}; add it under "channels" in the configuration and re-run`,
        );
        return dropRest(`no channel ${show(ch)}`, ['channel']);
      }
      const out: DeliveryPolicy = { mode: 'announce', channel: ch, ...failure() };
      if (typeof d.to === 'string' && d.to !== '') out.to = d.to;
      const thread = d.threadId;
      if (
        (typeof thread === 'string' && /^\d+(\.\d+)?$/.test(thread)) ||
        (typeof thread === 'number' && Number.isSafeInteger(thread) && thread > 0)
      )
        out.threadId = String(thread);
      else if (thread !== undefined && thread !== null && thread !== '')
        drop('delivery.threadId', `${show(thread)} is not a thread or topic id (digits)`);
      return out;
    }
    default:
      drop('delivery.mode', `${show(d.mode)} is not announce, webhook or none`);
      return dropRest('unknown mode', []);
  }
}

/**
 * Last-run facts worth keeping, and the consecutive failures (they drive failure alerts); every
 * other state field is reported.
 */
function mapState(v: unknown, drop: (field: string, reason: string) => void): Partial<JobState> {
  if (!isObject(v)) return {};
  const out: Partial<JobState> = {};
  const status = v.lastRunStatus ?? v.lastStatus;
  if (status === 'ok' || status === 'error' || status === 'skipped') out.lastRunStatus = status;
  else if (status !== undefined) drop('state.lastRunStatus', `${show(status)} is not ok, error or skipped`);
  const lastRunAtMs = wholeMs(v.lastRunAtMs);
  if (lastRunAtMs !== undefined) out.lastRunAtMs = lastRunAtMs;
  const lastDurationMs = wholeMs(v.lastDurationMs);
  if (lastDurationMs !== undefined) out.lastDurationMs = lastDurationMs;
  if (typeof v.lastError === 'string' && v.lastError !== '') out.lastError = v.lastError;
  const errors = wholeMs(v.consecutiveErrors);
  if (errors !== undefined) out.consecutiveErrors = errors;
  const known = new Set([
    'lastRunStatus',
    'lastStatus',
    'lastRunAtMs',
    'lastDurationMs',
    'lastError',
    'consecutiveErrors',
  ]);
  const reasons: Record<string, string> = {
    nextRunAtMs: 'nightshift computes the next fire from the schedule (`cron show` lists it)',
    runningAtMs: 'a run in progress in OpenClaw is not a run nightshift started',
    lastDelivered:
      "nightshift records each run's delivery with the run; OpenClaw's last one is not carried over",
    lastDeliveryStatus:
      "nightshift records each run's delivery with the run; OpenClaw's last one is not carried over",
    lastDeliveryError:
      "nightshift records each run's delivery with the run; OpenClaw's last one is not carried over",
  };
  for (const [k, val] of Object.entries(v)) {
    if (known.has(k) || val === undefined || val === null) continue;
    drop(`state.${k}`, reasons[k] ?? 'not a state field nightshift keeps');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

/**
 * What an import would do against the jobs already stored: creates, updates (found by their
 * source) and unchanged jobs, and skips with reasons. Every job is validated first; if any fails,
 * one UserError names them all and nothing is to be written.
 */
export function planImport(
  results: MapResult[],
  existing: readonly Job[],
  nowMs: number,
  newId: () => string,
): ImportPlan {
  const plan: ImportPlan = { entries: [], inserts: [], updates: [] };
  const problems: string[] = [];
  const byMarker = new Map<string, Job>();
  for (const j of existing) {
    const id = importedFrom(j);
    if (id !== undefined) byMarker.set(id, j);
  }
  // Names an imported job may not take: those of jobs the import does not own.
  const taken = new Map(existing.map((j) => [j.name, j]));
  const planned = new Set<string>();

  for (const r of results) {
    if (!r.ok) {
      plan.entries.push({
        action: 'skipped',
        openclawId: r.openclawId,
        name: r.name,
        reason: r.reason,
        unmapped: [],
      });
      continue;
    }
    const current = byMarker.get(r.openclawId);
    let name = r.name;
    // OpenClaw allows two jobs of one name; nightshift does not.
    if (planned.has(name)) name = `${name} (${r.openclawId})`;
    const holder = taken.get(name);
    if (holder && holder.id !== current?.id) {
      plan.entries.push({
        action: 'skipped',
        openclawId: r.openclawId,
        name,
        reason: `a job named "${name}" already exists and was not imported from this OpenClaw job; rename it (cron edit --name) and re-run`,
        unmapped: r.unmapped,
      });
      continue;
    }
    planned.add(name);
    const input: JobInput = { ...r.input, name };
    if (current) {
      // Settings OpenClaw has no word for stay as the user tuned them in nightshift.
      input.policy = current.policy;
      input.evidence = current.evidence;
      input.history = current.history;
      if (current.alerts) input.alerts = current.alerts;
      if (current.healthcheck) input.healthcheck = current.healthcheck;
    }
    let built: Job;
    try {
      built = buildJob(input, nowMs, current ? () => current.id : newId);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      problems.push(`job "${r.openclawId}" (${name}): ${err.message}`);
      continue;
    }
    if (!current) {
      built.state = { ...built.state, ...r.state };
      if (r.createdAtMs !== undefined) built.createdAtMs = r.createdAtMs;
      plan.inserts.push(built);
      plan.entries.push({
        action: 'created',
        openclawId: r.openclawId,
        name,
        jobId: built.id,
        unmapped: r.unmapped,
      });
    } else if (definitionDiff(built, current).length === 0) {
      plan.entries.push({
        action: 'unchanged',
        openclawId: r.openclawId,
        name,
        jobId: current.id,
        unmapped: r.unmapped,
      });
    } else {
      const state: JobState = { ...current.state };
      if (built.state.nextRunAtMs === undefined) delete state.nextRunAtMs;
      else state.nextRunAtMs = built.state.nextRunAtMs;
      plan.updates.push({
        ...built,
        id: current.id,
        createdAtMs: current.createdAtMs,
        updatedAtMs: nowMs,
        state,
      });
      plan.entries.push({
        action: 'updated',
        openclawId: r.openclawId,
        name,
        jobId: current.id,
        unmapped: r.unmapped,
      });
    }
  }
  if (problems.length > 0) {
    throw new UserError(
      `cannot import: ${problems.length === 1 ? 'a job is' : `${problems.length} jobs are`} invalid; nothing was written\n  ${problems.join('\n  ')}`,
      {
        hint: 'fix those jobs in OpenClaw (or the file) and re-run; nothing is imported until every job is valid',
      },
    );
  }
  return plan;
}
