/**
 * Between a job document (job-file-schema.ts) and the job model: a document becomes the same
 * JobInput the `cron add` flags give, and a job becomes the shortest document that gives it back
 * (`nightshift export`). Field paths of the model's errors (`payload.message: …`) are named by
 * their file key (`message: …`) so a file error points at what the user wrote.
 */
import { parseDuration } from './duration.ts';
import { UserError } from './errors.ts';
import { parseSize } from './size.ts';
import type {
  AlertPolicy,
  DeliveryPolicy,
  Evidence,
  HistoryPolicy,
  Job,
  JobPolicy,
  Payload,
  Schedule,
} from './job.ts';
import { buildJob } from './job-validation.ts';
import type { JobInput } from './job-validation.ts';
import { JOB_FILE_KEYS } from './job-file-schema.ts';
import type { JobDocument, JobFileKey } from './job-file-schema.ts';
import { definitionDiff } from './job-drift.ts';
import { parsePercent } from './size.ts';

const SCHEDULE_KEYS = ['cron', 'every', 'at', 'after'] as const;
const PAYLOAD_KEYS = ['command', 'backup', 'drill', 'drill-repo', 'system-event', 'message'] as const;

function refuse(key: string, message: string, hint: string): never {
  throw new UserError(`${key}: ${message}`, { hint });
}

function percent(key: JobFileKey, v: string): number {
  try {
    return parsePercent(v, key);
  } catch (err) {
    if (err instanceof UserError) refuse(key, err.message, err.hint ?? 'e.g. 80%');
    throw err;
  }
}

function ms(key: JobFileKey, v: string): number {
  try {
    return parseDuration(v);
  } catch (err) {
    if (err instanceof UserError) refuse(key, err.message, err.hint ?? 'e.g. 30s, 5m, 1h30m');
    throw err;
  }
}

/** A size key: bytes as given, or text read by the one size reader (domain/size.ts). */
function bytes(key: JobFileKey, v: number | string): number {
  return typeof v === 'number' ? v : parseSize(v, key);
}

function scheduleOf(d: JobDocument): Schedule {
  const given = SCHEDULE_KEYS.filter((k) => d[k] !== undefined);
  if (given.length === 0)
    refuse('cron', 'the job has no schedule', 'give one of cron:, every:, at: or after:');
  if (given.length > 1)
    refuse(given[1]!, `give only one of ${given.join(', ')}`, 'a job has exactly one schedule');
  if (d.within !== undefined && d.after === undefined)
    refuse('within', 'goes with after: only', 'e.g. after: nightly-prep and within: 30m');
  if (d.tz !== undefined && (d.every !== undefined || d.after !== undefined))
    refuse('tz', `has no effect with ${d.every !== undefined ? 'every' : 'after'}`, 'drop tz:');
  const tz = d.tz !== undefined ? { tz: d.tz } : {};
  if (d.cron !== undefined) return { kind: 'cron', expr: d.cron, ...tz };
  if (d.every !== undefined) return { kind: 'every', everyMs: ms('every', d.every) };
  if (d.at !== undefined) return { kind: 'at', at: d.at, ...tz };
  const links = Array.isArray(d.after) ? d.after : [d.after!];
  return {
    kind: 'after',
    after: links.map((l) =>
      typeof l === 'string' ? { job: l, on: 'success' } : { job: l.job, on: l.on ?? 'success' },
    ),
    ...(d.within !== undefined ? { withinMs: ms('within', d.within) } : {}),
  };
}

const FOR_KIND: Array<[JobFileKey, Payload['kind'][]]> = [
  ['command-cwd', ['command']],
  ['command-env', ['command']],
  ['command-input', ['command']],
  ['drill-sample', ['drill']],
  ['identity-ref', ['drill']],
  ['session', ['agentTurn', 'systemEvent']],
  ['wake', ['systemEvent']],
  ['agent', ['agentTurn', 'systemEvent']],
  ['model', ['agentTurn']],
  ['fallbacks', ['agentTurn']],
  ['tools', ['agentTurn']],
  ['exec-allow', ['agentTurn']],
  ['light-context', ['agentTurn']],
];

function payloadOf(d: JobDocument): Payload {
  const given = PAYLOAD_KEYS.filter((k) => d[k] !== undefined);
  if (given.length === 0)
    refuse(
      'command',
      'the job does nothing',
      'give one of command:, backup:, drill:, message: or system-event:',
    );
  if (given.length > 1) refuse(given[1]!, `give only one of ${given.join(', ')}`, 'a job does one thing');
  const kind: Payload['kind'] = {
    command: 'command',
    backup: 'backup',
    drill: 'drill',
    'drill-repo': 'drill',
    'system-event': 'systemEvent',
    message: 'agentTurn',
  }[given[0]!] as Payload['kind'];
  for (const [key, kinds] of FOR_KIND)
    if (d[key] !== undefined && !kinds.includes(kind))
      refuse(key, `does not apply to a ${given[0]!} job`, `drop ${key}:`);
  const p: Record<string, unknown> = { kind };
  if (d['timeout-seconds'] !== undefined) p.timeoutSeconds = d['timeout-seconds'];
  switch (kind) {
    case 'command':
      if (Array.isArray(d.command)) p.argv = d.command;
      else p.command = d.command;
      if (d['command-cwd'] !== undefined) p.cwd = d['command-cwd'];
      if (d['command-env'] !== undefined) p.env = d['command-env'];
      if (d['command-input'] !== undefined) p.input = d['command-input'];
      break;
    case 'backup':
      p.profile = d.backup;
      break;
    case 'drill': {
      if (d['drill-repo'] !== undefined) p.repository = d['drill-repo'];
      else p.profile = d.drill;
      if (d['identity-ref'] !== undefined) p.identityRef = d['identity-ref'];
      const s = d['drill-sample'];
      if (typeof s === 'number') p.sampleFiles = s;
      else if (typeof s === 'string') p.samplePercent = Number(s.slice(0, -1));
      break;
    }
    case 'systemEvent':
      p.text = d['system-event'];
      break;
    default:
      p.message = d.message;
  }
  if (d.session !== undefined) p.session = d.session;
  if (d.wake !== undefined) p.wake = d.wake;
  if (d.agent !== undefined) p.agent = d.agent;
  if (d.model !== undefined) p.model = d.model;
  if (d.fallbacks !== undefined) p.fallbacks = d.fallbacks;
  if (d.tools !== undefined) p.tools = d.tools;
  if (d['exec-allow'] !== undefined)
    p.execAllowlist = d['exec-allow'].map((a) =>
      Array.isArray(a) ? a : a.split(/\s+/).filter((w) => w !== ''),
    );
  if (d['light-context'] !== undefined) p.lightContext = d['light-context'];
  return p as unknown as Payload;
}

function deliveryOf(d: JobDocument): DeliveryPolicy | undefined {
  const modes = (['announce', 'webhook', 'deliver'] as const).filter((k) =>
    k === 'announce' ? d.announce === true : d[k] !== undefined,
  );
  if (modes.length > 1) refuse(modes[1]!, `give only one of ${modes.join(', ')}`, 'a job delivers one way');
  if ((d.channel !== undefined || d.to !== undefined || d['thread-id'] !== undefined) && d.announce !== true)
    refuse(
      d.channel !== undefined ? 'channel' : d.to !== undefined ? 'to' : 'thread-id',
      'needs announce: true',
      'e.g. announce: true, channel: ops',
    );
  if (d['failure-to'] !== undefined && d['failure-channel'] === undefined)
    refuse('failure-to', 'needs failure-channel', 'e.g. failure-channel: ops');
  const failure =
    d['failure-channel'] !== undefined
      ? {
          failureDestination: {
            channel: d['failure-channel'],
            ...(d['failure-to'] ? { to: d['failure-to'] } : {}),
          },
        }
      : {};
  if (d.announce === true) {
    if (d.channel === undefined) refuse('announce', 'needs channel:', 'e.g. announce: true, channel: ops');
    return {
      mode: 'announce',
      channel: d.channel,
      ...(d.to !== undefined ? { to: d.to } : {}),
      ...(d['thread-id'] !== undefined ? { threadId: String(d['thread-id']) } : {}),
      ...failure,
    };
  }
  if (d.webhook !== undefined) return { mode: 'webhook', url: d.webhook, ...failure };
  if (d['failure-channel'] !== undefined)
    refuse(
      'failure-channel',
      'needs announce: true or webhook:',
      'failure notices belong to a job that delivers',
    );
  if (d.deliver === false) return { mode: 'none' };
  return undefined;
}

function alertsOf(d: JobDocument): Partial<AlertPolicy> | undefined {
  const a: Partial<AlertPolicy> = {};
  if (d['alert-after'] !== undefined) a.afterFailures = d['alert-after'];
  if (d['alert-cooldown'] !== undefined) a.cooldownMs = ms('alert-cooldown', d['alert-cooldown']);
  if (d['alert-no-recovery'] !== undefined) a.recovery = !d['alert-no-recovery'];
  if (d['alert-if-no-success-within'] !== undefined)
    a.ifNoSuccessWithinMs = ms('alert-if-no-success-within', d['alert-if-no-success-within']);
  if (d['alert-channel'] !== undefined)
    a.channels = Array.isArray(d['alert-channel']) ? d['alert-channel'] : [d['alert-channel']];
  if (d['alert-anomaly-factor'] !== undefined) a.anomalyFactor = d['alert-anomaly-factor'];
  if (d['alert-max-repo-bytes'] !== undefined)
    a.maxRepoBytes = bytes('alert-max-repo-bytes', d['alert-max-repo-bytes']);
  if (d['alert-repo-usage'] !== undefined)
    a.maxRepoUsagePercent = percent('alert-repo-usage', String(d['alert-repo-usage']));
  if (d['failure-alert-include-skipped'] !== undefined) a.includeSkipped = d['failure-alert-include-skipped'];
  return Object.keys(a).length > 0 ? a : undefined;
}

/** The job input a (shape-checked) document declares; its meaning is checked by buildJob. */
export function documentToInput(d: JobDocument): JobInput {
  const input: JobInput = { name: d.name, schedule: scheduleOf(d), payload: payloadOf(d) };
  if (d.description !== undefined) input.description = d.description;
  if (d.enabled !== undefined) input.enabled = d.enabled;
  if (d['keep-after-run'] !== undefined) input.deleteAfterRun = !d['keep-after-run'];
  const policy: Partial<JobPolicy> = {};
  if (d.overlap !== undefined) policy.overlap = d.overlap;
  if (d.catchup !== undefined) policy.catchup = d.catchup;
  if (d['catchup-window'] !== undefined) policy.catchupWindowMs = ms('catchup-window', d['catchup-window']);
  if (d['catchup-max'] !== undefined) policy.catchupMax = d['catchup-max'];
  if (d.retries !== undefined) policy.retries = d.retries;
  if (d['retry-backoff'] !== undefined)
    policy.retryBackoffMs = d['retry-backoff'].map((b) => ms('retry-backoff', b));
  input.policy = policy;
  const evidence: Evidence = {};
  if (d['expect-file'] !== undefined) evidence.expectFile = d['expect-file'];
  if (d['expect-min-bytes'] !== undefined)
    evidence.expectMinBytes = bytes('expect-min-bytes', d['expect-min-bytes']);
  if (d['expect-output'] !== undefined) evidence.expectOutput = d['expect-output'];
  input.evidence = evidence;
  const history: Partial<HistoryPolicy> = {};
  if (d['history-max-runs'] !== undefined) history.maxRuns = d['history-max-runs'];
  if (d['history-max-age'] !== undefined) history.maxAgeMs = ms('history-max-age', d['history-max-age']);
  if (d['output-tail-bytes'] !== undefined)
    history.outputTailBytes = bytes('output-tail-bytes', d['output-tail-bytes']);
  input.history = history;
  const alerts = alertsOf(d);
  if (alerts) input.alerts = alerts;
  const delivery = deliveryOf(d);
  if (delivery) input.delivery = delivery;
  if (d['healthcheck-url'] !== undefined) input.healthcheck = { url: d['healthcheck-url'] };
  return input;
}

/** Model field paths (as validation errors start) and the file key that sets them; longest first. */
const PATH_TO_KEY: Array<[string, JobFileKey]> = [
  ['schedule.expr', 'cron'],
  ['schedule.tz', 'tz'],
  ['schedule.everyMs', 'every'],
  ['schedule.at', 'at'],
  ['schedule.after', 'after'],
  ['schedule.withinMs', 'within'],
  ['schedule', 'cron'],
  ['payload.command', 'command'],
  ['payload.argv', 'command'],
  ['payload.cwd', 'command-cwd'],
  ['payload.env', 'command-env'],
  ['payload.input', 'command-input'],
  ['payload.timeoutSeconds', 'timeout-seconds'],
  ['payload.repository', 'drill-repo'],
  ['payload.identityRef', 'identity-ref'],
  ['payload.sampleFiles', 'drill-sample'],
  ['payload.samplePercent', 'drill-sample'],
  ['payload.text', 'system-event'],
  ['payload.message', 'message'],
  ['payload.session', 'session'],
  ['payload.wake', 'wake'],
  ['payload.agent', 'agent'],
  ['payload.model', 'model'],
  ['payload.fallbacks', 'fallbacks'],
  ['payload.tools', 'tools'],
  ['payload.execAllowlist', 'exec-allow'],
  ['payload.lightContext', 'light-context'],
  ['evidence.expectFile', 'expect-file'],
  ['evidence.expectMinBytes', 'expect-min-bytes'],
  ['evidence.expectOutput', 'expect-output'],
  ['policy.overlap', 'overlap'],
  ['policy.catchupWindowMs', 'catchup-window'],
  ['policy.catchupMax', 'catchup-max'],
  ['policy.catchup', 'catchup'],
  ['policy.retryBackoffMs', 'retry-backoff'],
  ['policy.retries', 'retries'],
  ['history.maxRuns', 'history-max-runs'],
  ['history.maxAgeMs', 'history-max-age'],
  ['history.outputTailBytes', 'output-tail-bytes'],
  ['delivery.failureDestination', 'failure-channel'],
  ['delivery.channel', 'channel'],
  ['delivery.to', 'to'],
  ['delivery.threadId', 'thread-id'],
  ['delivery.url', 'webhook'],
  ['delivery', 'announce'],
  ['alerts.afterFailures', 'alert-after'],
  ['alerts.cooldownMs', 'alert-cooldown'],
  ['alerts.ifNoSuccessWithinMs', 'alert-if-no-success-within'],
  ['alerts.channels', 'alert-channel'],
  ['alerts.anomalyFactor', 'alert-anomaly-factor'],
  ['alerts.maxRepoBytes', 'alert-max-repo-bytes'],
  ['alerts.maxRepoUsagePercent', 'alert-repo-usage'],
  ['alerts.includeSkipped', 'failure-alert-include-skipped'],
  ['healthcheck.url', 'healthcheck-url'],
  ['name', 'name'],
  ['description', 'description'],
  ['enabled', 'enabled'],
];

/**
 * The file key a model error is about, and the message with that key in place of the model path
 * (`payload.message: …` → `message: …`). `payload.profile` depends on the kind (backup or drill).
 */
export function inFileTerms(err: UserError, d: Partial<JobDocument>): { key: string; message: string } {
  const colon = err.message.indexOf(':');
  const head = colon > 0 ? err.message.slice(0, colon) : '';
  const bare = head.replace(/\[\d+\].*$/, '');
  if (bare in JOB_FILE_KEYS) return { key: bare, message: err.message };
  if (bare === 'payload.profile') {
    const key = d.drill !== undefined ? 'drill' : 'backup';
    return { key, message: key + err.message.slice(bare.length) };
  }
  for (const [prefix, key] of PATH_TO_KEY) {
    if (bare === prefix || bare.startsWith(prefix + '.')) {
      return { key, message: key + err.message.slice(bare.length) };
    }
  }
  return { key: 'name', message: err.message };
}

// ---------------------------------------------------------------------------------------------
// export

function durationText(msValue: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
    ['ms', 1],
  ];
  let rest = msValue;
  let out = '';
  for (const [u, n] of units) {
    const q = Math.floor(rest / n);
    if (q > 0) {
      out += `${q}${u}`;
      rest -= q * n;
    }
  }
  return out === '' ? '0s' : out;
}

/** Every field of a job as a document (defaults included). */
function fullDocument(job: Job): Record<string, unknown> {
  const d: Record<string, unknown> = { name: job.name };
  if (job.description !== undefined) d.description = job.description;
  d.enabled = job.enabled;
  const s = job.schedule;
  if (s.kind === 'cron') d.cron = s.expr;
  if (s.kind === 'every') d.every = durationText(s.everyMs);
  if (s.kind === 'at') d.at = s.at;
  if ((s.kind === 'cron' || s.kind === 'at') && s.tz !== undefined) d.tz = s.tz;
  if (s.kind === 'after') {
    d.after =
      s.after.length === 1 && s.after[0]!.on === 'success'
        ? s.after[0]!.job
        : s.after.map((l) => (l.on === 'success' ? l.job : { job: l.job, on: l.on }));
    if (s.withinMs !== undefined) d.within = durationText(s.withinMs);
  }
  const p = job.payload;
  switch (p.kind) {
    case 'command':
      d.command = p.argv ?? p.command;
      if (p.cwd !== undefined) d['command-cwd'] = p.cwd;
      if (p.env !== undefined) d['command-env'] = p.env;
      if (p.input !== undefined) d['command-input'] = p.input;
      break;
    case 'backup':
      d.backup = p.profile;
      break;
    case 'drill':
      if (p.repository !== undefined) {
        d['drill-repo'] = p.repository;
        if (p.identityRef !== undefined) d['identity-ref'] = p.identityRef;
      } else d.drill = p.profile;
      if (p.samplePercent !== undefined) d['drill-sample'] = `${p.samplePercent}%`;
      else if (p.sampleFiles !== undefined) d['drill-sample'] = p.sampleFiles;
      break;
    case 'systemEvent':
      d['system-event'] = p.text;
      d.session = p.session;
      d.wake = p.wake;
      if (p.agent !== undefined) d.agent = p.agent;
      break;
    case 'agentTurn':
      d.message = p.message;
      d.session = p.session;
      if (p.agent !== undefined) d.agent = p.agent;
      if (p.model !== undefined) d.model = p.model;
      if (p.fallbacks !== undefined) d.fallbacks = p.fallbacks;
      if (p.tools !== undefined) d.tools = p.tools;
      if (p.execAllowlist !== undefined) d['exec-allow'] = p.execAllowlist;
      if (p.lightContext !== undefined) d['light-context'] = p.lightContext;
      break;
    case 'heartbeat':
      throw new UserError(`${job.name}: heartbeat jobs are made by the agent configuration, not by files`, {
        hint: 'leave it out of the export (--job NAME...)',
      });
  }
  if ('timeoutSeconds' in p && p.timeoutSeconds !== undefined) d['timeout-seconds'] = p.timeoutSeconds;
  const e = job.evidence;
  if (e.expectFile !== undefined) d['expect-file'] = e.expectFile;
  if (e.expectMinBytes !== undefined) d['expect-min-bytes'] = e.expectMinBytes;
  if (e.expectOutput !== undefined) d['expect-output'] = e.expectOutput;
  const pol = job.policy;
  d.overlap = pol.overlap;
  d.catchup = pol.catchup;
  d['catchup-window'] = durationText(pol.catchupWindowMs);
  d['catchup-max'] = pol.catchupMax;
  d.retries = pol.retries;
  d['retry-backoff'] = pol.retryBackoffMs.map(durationText);
  if (s.kind === 'at') d['keep-after-run'] = !job.deleteAfterRun;
  d['history-max-runs'] = job.history.maxRuns;
  d['history-max-age'] = durationText(job.history.maxAgeMs);
  d['output-tail-bytes'] = job.history.outputTailBytes;
  const del = job.delivery;
  if (del?.mode === 'announce') {
    d.announce = true;
    d.channel = del.channel;
    if (del.to !== undefined) d.to = del.to;
    if (del.threadId !== undefined) d['thread-id'] = del.threadId;
  }
  if (del?.mode === 'webhook') d.webhook = del.url;
  if (del?.mode === 'none') d.deliver = false;
  if (del && del.mode !== 'none' && del.failureDestination) {
    d['failure-channel'] = del.failureDestination.channel;
    if (del.failureDestination.to !== undefined) d['failure-to'] = del.failureDestination.to;
  }
  const a = job.alerts;
  if (a) {
    d['alert-after'] = a.afterFailures;
    d['alert-cooldown'] = durationText(a.cooldownMs);
    d['alert-no-recovery'] = !a.recovery;
    if (a.ifNoSuccessWithinMs !== undefined)
      d['alert-if-no-success-within'] = durationText(a.ifNoSuccessWithinMs);
    if (a.channels !== undefined) d['alert-channel'] = a.channels;
    if (a.anomalyFactor !== undefined) d['alert-anomaly-factor'] = a.anomalyFactor;
    if (a.maxRepoBytes !== undefined) d['alert-max-repo-bytes'] = a.maxRepoBytes;
    if (a.maxRepoUsagePercent !== undefined) d['alert-repo-usage'] = `${a.maxRepoUsagePercent}%`;
    if (a.includeSkipped) d['failure-alert-include-skipped'] = true;
  }
  if (job.healthcheck) d['healthcheck-url'] = job.healthcheck.url;
  return d;
}

/** Keys never dropped: they say what the job is. */
const ESSENTIAL = new Set(['name', ...SCHEDULE_KEYS, ...PAYLOAD_KEYS]);

/**
 * The shortest document that declares exactly this job: every field of it, less those whose
 * absence gives the same job (defaults). Applying the result reports no drift.
 */
export function jobToDocument(job: Job): Record<string, unknown> {
  const doc = fullDocument(job);
  const same = (d: Record<string, unknown>): boolean => {
    try {
      const built = buildJob(documentToInput(d as JobDocument), job.createdAtMs, () => job.id);
      return definitionDiff(built, job).length === 0;
    } catch {
      return false;
    }
  };
  for (const key of Object.keys(doc)) {
    if (ESSENTIAL.has(key)) continue;
    const { [key]: dropped, ...rest } = doc;
    if (same(rest)) delete doc[key];
    else doc[key] = dropped;
  }
  return doc;
}
