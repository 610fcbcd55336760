/**
 * The flags that choose what a job does beside a command (OpenClaw's names: --message,
 * --system-event, --session, --wake, --model, --announce, --channel, --to, --webhook, --no-deliver;
 * nightshift's: --backup, --drill, alerts and pings), and their translation into payload, delivery
 * and alert fields. job-flags.ts composes them with the schedule and command flags.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { UserError } from '../../domain/errors.ts';
import { parsePercent, parseSize } from '../../domain/size.ts';
import type { AlertPolicy, DeliveryPolicy, Job, Payload } from '../../domain/job.ts';
import type { JobInput } from '../../domain/job-validation.ts';
import { collect, durationFlag, intFlag } from './flag-parsers.ts';

export interface PayloadFlags {
  backup?: string;
  drill?: string;
  drillRepo?: string;
  identityRef?: string;
  drillSample?: string;
  systemEvent?: string;
  message?: string;
  session?: string;
  wake?: string;
  agent?: string;
  /** OpenClaw's --clear-agent: back to the default agent. */
  clearAgent?: boolean;
  model?: string;
  fallbacks?: string;
  tools?: string;
  execAllow?: string[];
  lightContext?: boolean;
  announce?: boolean;
  channel?: string;
  to?: string;
  threadId?: string;
  webhook?: string;
  /** commander sets this to true unless --no-deliver is given. */
  deliver?: boolean;
  failureChannel?: string;
  failureTo?: string;
  alertAfter?: string;
  alertCooldown?: string;
  alertNoRecovery?: boolean;
  alertIfNoSuccessWithin?: string;
  alertChannel?: string[];
  alertAnomalyFactor?: string;
  alertMaxRepoBytes?: string;
  alertRepoUsage?: string;
  /** true/false from --failure-alert-include-skipped / --no-failure-alert-include-skipped. */
  failureAlertIncludeSkipped?: boolean;
  /** false when --no-alerts is given (commander's negated flag). */
  alerts?: boolean;
  healthcheckUrl?: string;
  /** false when --no-healthcheck is given. */
  healthcheck?: boolean;
}

export function addPayloadFlags(cmd: CommandUnknownOpts): void {
  cmd
    .option('--backup <profile>', 'run the backup of this backup profile (see `nightshift backup profile`)')
    .option('--drill <profile>', 'run a restore drill of this backup profile')
    .option(
      '--drill-repo <repo>',
      'run a restore drill of this repository, with --identity-ref (on the host holding the identity; no profile)',
    )
    .option(
      '--identity-ref <ref>',
      'with --drill-repo: secret reference to the age identity (file:/path, vault:...)',
    )
    .option(
      '--drill-sample <n|p%>',
      'with --drill: files to restore and verify, a count or a percentage (default 20)',
    )
    .option(
      '--system-event <text>',
      "put TEXT into a session's inbox; executes nothing (runs end `delivered`)",
    )
    .option('--message <text>', 'run an agent turn with this instruction')
    .option(
      '--session <target>',
      'main, isolated, current or session:<id> (default: main for events, isolated for turns)',
    )
    .option(
      '--wake <when>',
      'with --system-event: now (run the heartbeat at once) or next-heartbeat (default)',
    )
    .option('--agent <name>', 'the agent (from the configuration’s "agents"; default: default)')
    .option('--clear-agent', 'run with the default agent again (the same as --agent default)')
    .option('--model <model>', 'with --message: the model, instead of the agent’s')
    .option(
      '--fallbacks <list>',
      'with --message: models tried in order when the model fails, comma-separated',
    )
    .option(
      '--tools <list>',
      'with --message: tools the model may call, comma-separated (exec, message, ...)',
    )
    .option(
      '--exec-allow <argv>',
      "with --tools exec: a command prefix exec may run, e.g. 'git status' (repeatable)",
      collect,
    )
    .option('--light-context', 'with --message: send no session history, only this message')
    .option('--announce', 'announce the result on --channel (to --to)')
    .option('--channel <name>', 'with --announce: the channel (from the configuration’s "channels")')
    .option('--to <target>', 'with --announce: the destination on the channel (chat, user, address)')
    .option(
      '--thread-id <id>',
      'with --announce: the thread to post into (Telegram topic id, Discord thread id, Slack parent ts; "" on edit clears)',
    )
    .option('--webhook <url>', 'POST the result as JSON to this URL')
    .option('--deliver', 'OpenClaw\u2019s deprecated spelling of --announce')
    .option('--no-deliver', 'deliver nothing (the result stays in the run record)')
    .option('--failure-channel <name>', 'where failure notices of a delivering job go first')
    .option('--failure-to <target>', 'with --failure-channel: the destination on it')
    .option('--alert-after <n>', 'alert after n consecutive failed runs (0 = never; default 1 for backups)')
    .option('--alert-cooldown <duration>', 'no repeated failure alert within this span (default 1h)')
    .option('--alert-no-recovery', 'send no recovery notice when the job succeeds again')
    .option(
      '--alert-if-no-success-within <duration>',
      "dead-man's switch: alert when no run succeeded within this span",
    )
    .option(
      '--alert-channel <name>',
      'channel for this job’s alerts (repeatable; default: alerts.channels)',
      collect,
    )
    .option(
      '--alert-anomaly-factor <x>',
      'backups: alert when new data or duration exceeds x times the median',
    )
    .option(
      '--alert-max-repo-bytes <size>',
      'backups: alert when the repository grows above this size (e.g. 500G; any backend)',
    )
    .option(
      '--alert-repo-usage <percent>',
      "backups: alert when the local repository's filesystem is fuller than this (e.g. 80%)",
    )
    .option(
      '--failure-alert-include-skipped',
      'skipped runs (overlap) count toward --alert-after like failures',
    )
    .option('--no-failure-alert-include-skipped', 'skipped runs do not count toward --alert-after (default)')
    .option('--no-alerts', 'edit: remove the job’s alert settings (back to the defaults)')
    .option(
      '--healthcheck-url <url>',
      'ping URL/start, URL and URL/fail (healthchecks.io style) with the run id',
    )
    .option('--no-healthcheck', 'edit: stop the healthcheck pings');
}

/** Field paths of these flags, for errors phrased in flag names. */
export const PAYLOAD_FIELD_TO_FLAG: Array<[string, string]> = [
  ['payload.profile', '--backup/--drill'],
  ['payload.repository', '--drill-repo'],
  ['payload.identityRef', '--identity-ref'],
  ['payload.sampleFiles', '--drill-sample'],
  ['payload.samplePercent', '--drill-sample'],
  ['payload.text', '--system-event'],
  ['payload.message', '--message'],
  ['payload.session', '--session'],
  ['payload.wake', '--wake'],
  ['payload.agent', '--agent'],
  ['payload.model', '--model'],
  ['payload.fallbacks', '--fallbacks'],
  ['payload.tools', '--tools'],
  ['payload.execAllowlist', '--exec-allow'],
  ['payload.kind', 'payload'],
  ['delivery.failureDestination', '--failure-channel'],
  ['delivery.channel', '--channel'],
  ['delivery.url', '--webhook'],
  ['delivery.to', '--to'],
  ['delivery.threadId', '--thread-id'],
  ['delivery', '--announce/--webhook'],
  ['alerts.afterFailures', '--alert-after'],
  ['alerts.cooldownMs', '--alert-cooldown'],
  ['alerts.ifNoSuccessWithinMs', '--alert-if-no-success-within'],
  ['alerts.channels', '--alert-channel'],
  ['alerts.anomalyFactor', '--alert-anomaly-factor'],
  ['alerts.maxRepoBytes', '--alert-max-repo-bytes'],
  ['alerts.maxRepoUsagePercent', '--alert-repo-usage'],
  ['alerts.includeSkipped', '--failure-alert-include-skipped'],
  ['healthcheck.url', '--healthcheck-url'],
];

type Kind = Payload['kind'];

/** Which payload kind the flags choose, if any; refuses two at once. */
export function kindFromFlags(
  flags: PayloadFlags & { command?: string; commandArgv?: string },
): Kind | undefined {
  const chosen: Array<[string, Kind]> = [];
  if (flags.command !== undefined || flags.commandArgv !== undefined) chosen.push(['--command', 'command']);
  if (flags.backup !== undefined) chosen.push(['--backup', 'backup']);
  if (flags.drill !== undefined) chosen.push(['--drill', 'drill']);
  if (flags.drillRepo !== undefined) chosen.push(['--drill-repo', 'drill']);
  if (flags.systemEvent !== undefined) chosen.push(['--system-event', 'systemEvent']);
  if (flags.message !== undefined) chosen.push(['--message', 'agentTurn']);
  if (chosen.length > 1)
    throw new UserError(`give only one of ${chosen.map((c) => c[0]).join(' and ')}`, {
      hint: 'a job does one thing: a command, a backup, a drill, an agent turn (--message) or a system event',
    });
  return chosen[0]?.[1];
}

const FOR_KIND: Array<[keyof PayloadFlags, string, Kind[]]> = [
  ['drillSample', '--drill-sample', ['drill']],
  ['identityRef', '--identity-ref', ['drill']],
  ['session', '--session', ['agentTurn', 'systemEvent']],
  ['wake', '--wake', ['systemEvent']],
  ['agent', '--agent', ['agentTurn', 'systemEvent', 'heartbeat']],
  ['clearAgent', '--clear-agent', ['agentTurn', 'systemEvent', 'heartbeat']],
  ['model', '--model', ['agentTurn']],
  ['fallbacks', '--fallbacks', ['agentTurn']],
  ['tools', '--tools', ['agentTurn']],
  ['execAllow', '--exec-allow', ['agentTurn']],
  ['lightContext', '--light-context', ['agentTurn']],
];

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** `'git status'` or `'["git","log","-1"]'` as an argv prefix. */
function argvPrefix(value: string): string[] {
  const t = value.trim();
  if (t.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(t);
    } catch {
      throw new UserError(`--exec-allow: ${value} is not a JSON array`, {
        hint: `e.g. --exec-allow '["git","status"]'`,
      });
    }
    if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string'))
      throw new UserError('--exec-allow: the JSON form must be an array of strings', {
        hint: `e.g. --exec-allow '["git","status"]'`,
      });
    return parsed as string[];
  }
  return t.split(/\s+/).filter((a) => a !== '');
}

/** A drill's sample: `20` files or `5%` of them. */
export function drillSampleFlag(
  value: string,
  flag = '--drill-sample',
): { sampleFiles?: number; samplePercent?: number } {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
  if (m) return { samplePercent: Number(m[1]) };
  if (/^\d+$/.test(value.trim())) return { sampleFiles: Number(value.trim()) };
  throw new UserError(`${flag}: must be a count or a percentage, got "${value}"`, {
    hint: `e.g. ${flag} 20 or ${flag} 5%`,
  });
}

/**
 * The payload fields these flags give for `kind` (merged into the old payload on edit). Flags of
 * another kind are refused by name, so `--model` on a backup job is not silently ignored.
 */
export function payloadFieldsFromFlags(flags: PayloadFlags, kind: Kind): Record<string, unknown> {
  for (const [key, flag, kinds] of FOR_KIND)
    if (flags[key] !== undefined && !kinds.includes(kind))
      throw new UserError(`${flag} does not apply to a ${kind} job`, {
        hint: `${flag} goes with ${kinds.map((k) => KIND_FLAG[k]).join(' or ')}`,
      });
  const p: Record<string, unknown> = {};
  if (flags.backup !== undefined) p.profile = flags.backup;
  // A drill reads a profile or a repository with an identity: one replaces the other on edit.
  if (flags.drill !== undefined)
    Object.assign(p, { profile: flags.drill, repository: null, identityRef: null });
  if (flags.drillRepo !== undefined) Object.assign(p, { profile: null, repository: flags.drillRepo });
  if (flags.identityRef !== undefined) p.identityRef = flags.identityRef;
  if (flags.drillSample !== undefined) {
    const s = drillSampleFlag(flags.drillSample);
    // One replaces the other on edit.
    p.sampleFiles = s.sampleFiles ?? null;
    p.samplePercent = s.samplePercent ?? null;
  }
  if (flags.systemEvent !== undefined) p.text = flags.systemEvent;
  if (flags.message !== undefined) p.message = flags.message;
  if (flags.session !== undefined) p.session = flags.session;
  if (flags.wake !== undefined) p.wake = flags.wake;
  if (flags.clearAgent && flags.agent !== undefined)
    throw new UserError('--clear-agent and --agent contradict each other', {
      hint: 'give --agent NAME to pick an agent, or --clear-agent for the default one',
    });
  if (flags.agent !== undefined) p.agent = flags.agent;
  // Without a name the job runs with the default agent (null removes the name on edit).
  if (flags.clearAgent) p.agent = null;
  if (flags.model !== undefined) p.model = flags.model;
  if (flags.fallbacks !== undefined) p.fallbacks = list(flags.fallbacks);
  if (flags.tools !== undefined) p.tools = list(flags.tools);
  if (flags.execAllow !== undefined) p.execAllowlist = flags.execAllow.map(argvPrefix);
  if (flags.lightContext) p.lightContext = true;
  return p;
}

const KIND_FLAG: Record<Kind, string> = {
  command: '--command',
  backup: '--backup',
  drill: '--drill',
  systemEvent: '--system-event',
  agentTurn: '--message',
  heartbeat: 'the heartbeat job',
};

/** Delivery from --announce/--channel/--to, --webhook, --no-deliver (+ failure destination); undefined when none is given. */
export function deliveryFromFlags(given: PayloadFlags, old?: DeliveryPolicy): DeliveryPolicy | undefined {
  // OpenClaw's deprecated --deliver means --announce.
  const flags: PayloadFlags = { ...given };
  if (flags.deliver === true) {
    flags.announce = true;
    delete flags.deliver;
  }
  const noDeliver = flags.deliver === false;
  const modes = [
    flags.announce ? '--announce' : '',
    flags.webhook !== undefined ? '--webhook' : '',
    noDeliver ? '--no-deliver' : '',
  ].filter((m) => m !== '');
  if (modes.length > 1)
    throw new UserError(`give only one of ${modes.join(' and ')}`, {
      hint: '--announce sends to a channel, --webhook POSTs to a URL, --no-deliver sends nothing',
    });
  const failure =
    flags.failureChannel !== undefined
      ? { channel: flags.failureChannel, ...(flags.failureTo !== undefined ? { to: flags.failureTo } : {}) }
      : undefined;
  if (flags.failureTo !== undefined && flags.failureChannel === undefined)
    throw new UserError('--failure-to needs --failure-channel', {
      hint: 'e.g. --failure-channel ops --failure-to @oncall',
    });
  const targetGiven = flags.channel !== undefined || flags.to !== undefined || flags.threadId !== undefined;
  if (targetGiven && !flags.announce && old?.mode !== 'announce')
    throw new UserError(
      `${flags.channel !== undefined ? '--channel' : flags.to !== undefined ? '--to' : '--thread-id'} needs --announce`,
      { hint: 'e.g. --announce --channel ops --to "#backups" (--thread-id 42 for a topic or thread)' },
    );
  if (flags.announce) {
    const channel = flags.channel ?? (old?.mode === 'announce' ? old.channel : undefined);
    if (channel === undefined)
      throw new UserError('--announce needs --channel NAME', {
        hint: 'e.g. --announce --channel ops --to "#backups"',
      });
    const d: DeliveryPolicy = { mode: 'announce', channel };
    const to = flags.to ?? (old?.mode === 'announce' ? old.to : undefined);
    if (to !== undefined) d.to = to;
    const thread = threadFlag(flags, old);
    if (thread !== undefined) d.threadId = thread;
    const f = failure ?? (old && old.mode !== 'none' ? old.failureDestination : undefined);
    if (f) d.failureDestination = f;
    return d;
  }
  if (flags.webhook !== undefined) {
    const d: DeliveryPolicy = { mode: 'webhook', url: flags.webhook };
    const f = failure ?? (old && old.mode !== 'none' ? old.failureDestination : undefined);
    if (f) d.failureDestination = f;
    return d;
  }
  if (noDeliver) {
    if (failure)
      throw new UserError('--failure-channel does not go with --no-deliver', { hint: 'drop one of them' });
    return { mode: 'none' };
  }
  // Only --channel/--to/--failure-* on an announcing job: change those fields.
  if (old && old.mode === 'announce' && (targetGiven || failure)) {
    const d: DeliveryPolicy = { ...old };
    if (flags.channel !== undefined) d.channel = flags.channel;
    if (flags.to !== undefined) d.to = flags.to;
    const thread = threadFlag(flags, old);
    if (thread !== undefined) d.threadId = thread;
    else delete d.threadId;
    if (failure) d.failureDestination = failure;
    return d;
  }
  if (failure) {
    if (old && old.mode === 'webhook') return { ...old, failureDestination: failure };
    throw new UserError('--failure-channel needs --announce or --webhook', {
      hint: 'failure notices belong to a job that delivers its result',
    });
  }
  return undefined;
}

/** The thread --thread-id gives ("" clears it), else the old one; a new --to or --channel drops the old thread (it lived in the old chat). */
function threadFlag(flags: PayloadFlags, old: DeliveryPolicy | undefined): string | undefined {
  if (flags.threadId !== undefined) return flags.threadId === '' ? undefined : flags.threadId;
  if (old?.mode !== 'announce' || flags.to !== undefined || flags.channel !== undefined) return undefined;
  return old.threadId;
}

/** Alert fields the flags give; `null` when --no-alerts removes them. */
export function alertsFromFlags(flags: PayloadFlags): Partial<AlertPolicy> | null | undefined {
  const a: Partial<AlertPolicy> = {};
  if (flags.alertAfter !== undefined) a.afterFailures = intFlag('--alert-after', flags.alertAfter);
  if (flags.alertCooldown !== undefined) a.cooldownMs = durationFlag('--alert-cooldown', flags.alertCooldown);
  if (flags.alertNoRecovery) a.recovery = false;
  if (flags.alertIfNoSuccessWithin !== undefined)
    a.ifNoSuccessWithinMs = durationFlag('--alert-if-no-success-within', flags.alertIfNoSuccessWithin);
  if (flags.alertChannel !== undefined) a.channels = flags.alertChannel;
  if (flags.alertAnomalyFactor !== undefined) {
    const x = Number(flags.alertAnomalyFactor);
    if (!Number.isFinite(x))
      throw new UserError(`--alert-anomaly-factor: must be a number, got "${flags.alertAnomalyFactor}"`, {
        hint: 'e.g. --alert-anomaly-factor 5',
      });
    a.anomalyFactor = x;
  }
  if (flags.alertMaxRepoBytes !== undefined)
    a.maxRepoBytes = parseSize(flags.alertMaxRepoBytes, '--alert-max-repo-bytes');
  if (flags.alertRepoUsage !== undefined)
    a.maxRepoUsagePercent = parsePercent(flags.alertRepoUsage, '--alert-repo-usage');
  if (flags.failureAlertIncludeSkipped !== undefined) a.includeSkipped = flags.failureAlertIncludeSkipped;
  const given = Object.keys(a).length > 0;
  if (flags.alerts === false) {
    if (given)
      throw new UserError('--no-alerts does not go with other --alert-* flags', { hint: 'drop one of them' });
    return null;
  }
  return given ? a : undefined;
}

/** Adds the notification fields the flags give to a job input or patch. */
export function applyNotifyFlags(target: Partial<JobInput>, flags: PayloadFlags, job: Job | undefined): void {
  const alerts = alertsFromFlags(flags);
  if (alerts !== undefined) target.alerts = alerts;
  const delivery = deliveryFromFlags(flags, job?.delivery);
  if (delivery !== undefined) target.delivery = delivery;
  if (flags.healthcheckUrl !== undefined && flags.healthcheck === false)
    throw new UserError('--no-healthcheck does not go with --healthcheck-url', { hint: 'drop one of them' });
  if (flags.healthcheckUrl !== undefined) target.healthcheck = { url: flags.healthcheckUrl };
  else if (flags.healthcheck === false) target.healthcheck = null;
}
