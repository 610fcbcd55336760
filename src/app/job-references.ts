/**
 * The names a job refers to in the configuration (alert and delivery channels, agents) checked
 * when the job is added or changed, so a typo is refused at once instead of found by the first
 * failure that alerts nobody; and the warning for alerts that have no channel at all.
 */
import { effectivePolicy } from '../alerts/policy.ts';
import type { NightshiftConfig } from '../config/config.ts';
import { UserError } from '../domain/errors.ts';
import type { Job } from '../domain/job.ts';
import { THREAD_CHANNEL_KINDS } from '../domain/notify-validation.ts';

type Refs = Pick<Job, 'payload' | 'alerts' | 'delivery'>;

/** The channels a job names (alerts, delivery, failure destination), each with what it is for. */
function namedChannels(job: Refs): Array<{ name: string; use: string }> {
  const out = (job.alerts?.channels ?? []).map((name) => ({ name, use: 'alert channel' }));
  const d = job.delivery;
  if (d?.mode === 'announce') out.push({ name: d.channel, use: 'delivery channel' });
  if (d && d.mode !== 'none' && d.failureDestination)
    out.push({ name: d.failureDestination.channel, use: 'failure destination channel' });
  return out;
}

function namedAgent(job: Refs): string | undefined {
  const p = job.payload;
  return p.kind === 'agentTurn' || p.kind === 'systemEvent' || p.kind === 'heartbeat' ? p.agent : undefined;
}

/**
 * Refuses a channel or agent name the configuration does not define, listing the known ones. On
 * an edit only names the change introduces are checked: a job whose channel was removed from
 * config.json since can still be edited (nightshift doctor reports it).
 */
export function assertJobReferencesKnown(config: NightshiftConfig, job: Refs, before?: Refs): void {
  const known = config.channels.map((c) => c.name);
  const had = new Set(before ? namedChannels(before).map((c) => c.name) : []);
  for (const { name, use } of namedChannels(job)) {
    if (known.includes(name) || had.has(name)) continue;
    throw new UserError(`unknown ${use} "${name}": config.json defines no channel of that name`, {
      hint:
        known.length > 0
          ? `configured channels: ${known.join(', ')}`
          : 'no channels are configured: add one under "channels" in config.json (docs/alerts.md)',
      code: 'invalid',
    });
  }
  assertThreadAddressable(config, job);
  const agent = namedAgent(job);
  const agents = Object.keys(config.agents);
  if (agent !== undefined && !agents.includes(agent) && agent !== (before && namedAgent(before))) {
    throw new UserError(`unknown agent "${agent}": config.json defines no agent of that name`, {
      hint:
        agents.length > 0
          ? `configured agents: ${agents.join(', ')}`
          : 'no agents are configured: add one under "agents" in config.json (docs/agent-turns.md)',
      code: 'invalid',
    });
  }
}

/** The form of a thread id on each channel kind that has threads. */
const THREAD_KINDS: Record<string, RegExp> = {
  telegram: /^\d+$/,
  discord: /^\d+$/,
  slack: /^\d+(\.\d+)?$/,
};

/** A thread id (--thread-id) only on a channel that has threads, in the form that channel uses. */
function assertThreadAddressable(config: NightshiftConfig, job: Refs): void {
  const d = job.delivery;
  if (d?.mode !== 'announce' || d.threadId === undefined) return;
  const kind = config.channels.find((c) => c.name === d.channel)?.kind;
  if (kind === undefined) return;
  const form = THREAD_CHANNEL_KINDS.includes(kind) ? THREAD_KINDS[kind] : undefined;
  if (!form)
    throw new UserError(
      `--thread-id: channel "${d.channel}" is a ${kind} channel, which has no threads or topics`,
      {
        hint: `threads are addressed on telegram (topic id), discord (thread id) and slack (parent message ts) channels; drop --thread-id or announce on such a channel`,
        code: 'invalid',
      },
    );
  if (!form.test(d.threadId))
    throw new UserError(`--thread-id: "${d.threadId}" is not a ${kind} thread id`, {
      hint:
        kind === 'slack'
          ? 'give the timestamp of the thread’s first message, e.g. 1712345678.123456'
          : `a ${kind} ${kind === 'telegram' ? 'topic' : 'thread'} id is a number, e.g. 42`,
      code: 'invalid',
    });
}

/** True when the job alerts (on failure or silence) but no channel would receive it. */
export function alertsUndeliverable(config: NightshiftConfig, job: Job): boolean {
  const policy = effectivePolicy(job);
  const alerting = policy.afterFailures > 0 || policy.ifNoSuccessWithinMs !== undefined;
  return alerting && policy.channels.length === 0 && config.alerts.channels.length === 0;
}

/** What a face prints after adding or changing a job: problems that do not stop it being saved. */
export function jobWarnings(config: NightshiftConfig, job: Job): string[] {
  return alertsUndeliverable(config, job)
    ? [
        'its alerts will not be delivered: no channel is configured (add one under "channels" in config.json and name it in "alerts.channels" or with --alert-channel; docs/alerts.md)',
      ]
    : [];
}
