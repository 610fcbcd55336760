/**
 * Job delivery: what a finished run of a job with `delivery` sends, and where (OpenClaw's
 * --announce / --webhook / --no-deliver with failure destinations).
 *
 * - `announce`: a successful run's reply (agent turns) or summary goes to the channel, `to` the
 *   given destination.
 * - `webhook`: every finished run is POSTed to the URL as JSON (the nightshift.notification body,
 *   with the status and reply).
 * - `none`, and a reply of exactly NO_REPLY: nothing is sent.
 * - A failed run (error, timeout, missed) sends a failure notice to the first of: the job's
 *   failureDestination, the configuration's alerts.failureDestination, the job's announce target.
 *
 * Every attempt becomes a DeliveryRecord (what was intended, what it resolved to, whether it
 * arrived) added to the run's details. Nothing here throws for a failed send.
 */
import type { App } from '../config/app-context.ts';
import type { Clock } from '../domain/clock.ts';
import type { DeliveryPolicy, DeliveryRecord, DeliveryTarget, Job, Run } from '../domain/job.ts';
import type { Channel, Notification } from './channel.ts';
import type { ChannelDeps } from './deps.ts';
import { configuredChannel } from './create-channel.ts';
import { WebhookChannel } from './webhook.ts';
import { displayUrl } from './http.ts';
import { looksLikeSecretRef } from '../secrets/secret-ref.ts';

export interface JobDeliveryOptions {
  clock?: Clock;
  /** Passed to the channels (fetch, retry policy, timeouts); tests point them at local servers. */
  channelDeps?: Partial<ChannelDeps>;
}

/** Statuses whose runs get a failure notice. */
const FAILED = new Set(['error', 'timeout', 'missed']);
/** Statuses whose result is announced. */
const SUCCEEDED = new Set(['ok', 'delivered']);

/** The name of the ad-hoc channel a `webhook` delivery posts through. */
const JOB_WEBHOOK = 'job-webhook';

/**
 * Delivers a finished run's result per its job's delivery policy and records every attempt on the
 * run. Returns the records added (empty when the job delivers nothing for this run).
 */
export async function deliverRunResult(
  app: App,
  job: Job,
  run: Run,
  opts: JobDeliveryOptions = {},
): Promise<DeliveryRecord[]> {
  const policy = job.delivery;
  if (!policy || policy.mode === 'none') return [];
  const now = (): number => opts.clock?.now() ?? Date.now();
  const records: DeliveryRecord[] = [];
  const agent = run.details?.agent;
  const failed = FAILED.has(run.status);

  if (agent?.suppressed && !failed) {
    records.push({
      purpose: policy.mode,
      intended: describePolicy(job),
      resolved: 'none: the agent answered NO_REPLY',
      delivered: false,
      atMs: now(),
    });
    return save(app, run, records);
  }

  if (policy.mode === 'webhook' && run.status !== 'skipped' && run.status !== 'interrupted') {
    const channel = new WebhookChannel(
      { kind: 'webhook', name: JOB_WEBHOOK, url: policy.url },
      channelDeps(app, opts),
    );
    records.push(await send(channel, resultNotice(job, run), 'webhook', describePolicy(job), now));
  }
  if (policy.mode === 'announce' && SUCCEEDED.has(run.status)) {
    records.push(
      await announce(
        app,
        announceTarget(policy),
        resultNotice(job, run),
        'announce',
        describePolicy(job),
        opts,
        now,
      ),
    );
  }
  if (failed) {
    // Undefined only for a webhook job without failure destinations: its webhook was told above.
    const notice = await failureNotice(app, job, run, opts, now);
    if (notice) records.push(notice);
  }
  return save(app, run, records);
}

async function failureNotice(
  app: App,
  job: Job,
  run: Run,
  opts: JobDeliveryOptions,
  now: () => number,
): Promise<DeliveryRecord | undefined> {
  const policy = job.delivery;
  const candidates: { from: string; target: AnnounceTarget }[] = [];
  if (policy && policy.mode !== 'none' && policy.failureDestination)
    candidates.push({ from: "the job's failure destination", target: policy.failureDestination });
  const configured = app.config().alerts.failureDestination;
  if (configured) candidates.push({ from: 'alerts.failureDestination', target: configured });
  if (policy?.mode === 'announce')
    candidates.push({
      from: "the job's announce target",
      target: announceTarget(policy),
    });
  if (candidates.length === 0) return undefined;
  const intended = `failure notice (${candidates.map((c) => c.from).join(', then ')})`;
  const notice = failureText(job, run);
  const skipped: string[] = [];
  for (const c of candidates) {
    // A destination naming a channel that is not configured falls through to the next one.
    if (!app.config().channels.some((ch) => ch.name === c.target.channel)) {
      skipped.push(`${describeTarget(c.target)} from ${c.from} is not a configured channel`);
      continue;
    }
    const record = await announce(app, c.target, notice, 'failure-notice', intended, opts, now);
    record.resolved = `${record.resolved} (from ${c.from}${skipped.length ? `; ${skipped.join('; ')}` : ''})`;
    return record;
  }
  return {
    purpose: 'failure-notice',
    intended,
    resolved: `none: ${skipped.join('; ')}`,
    delivered: false,
    atMs: now(),
  };
}

/** A channel destination; the thread (Telegram topic, Discord thread, Slack thread) only on a job's own announce target. */
type AnnounceTarget = DeliveryTarget & { threadId?: string };

function announceTarget(policy: Extract<DeliveryPolicy, { mode: 'announce' }>): AnnounceTarget {
  return {
    channel: policy.channel,
    ...(policy.to !== undefined ? { to: policy.to } : {}),
    ...(policy.threadId !== undefined ? { threadId: policy.threadId } : {}),
  };
}

async function announce(
  app: App,
  target: AnnounceTarget,
  notice: Notification,
  purpose: string,
  intended: string,
  opts: JobDeliveryOptions,
  now: () => number,
): Promise<DeliveryRecord> {
  let channel: Channel;
  try {
    channel = configuredChannel(app, target.channel, channelDeps(app, opts));
  } catch (err) {
    return {
      purpose,
      intended,
      resolved: `none: ${err instanceof Error ? err.message : String(err)}`,
      delivered: false,
      atMs: now(),
    };
  }
  const n: Notification = { ...notice };
  if (target.to !== undefined) n.to = target.to;
  if (target.threadId !== undefined) n.threadId = target.threadId;
  return send(
    channel,
    n,
    purpose,
    intended,
    now,
    target.threadId !== undefined
      ? `${target.to ?? 'the channel’s chat'} thread ${target.threadId}`
      : target.to,
  );
}

async function send(
  channel: Channel,
  n: Notification,
  purpose: string,
  intended: string,
  now: () => number,
  to?: string,
): Promise<DeliveryRecord> {
  const result = await channel.send(n);
  const record: DeliveryRecord = {
    purpose,
    intended,
    resolved:
      channel.name === JOB_WEBHOOK
        ? intended
        : `${channel.kind} channel ${channel.name}${to !== undefined ? ` to ${to}` : ''}`,
    delivered: result.ok,
    atMs: now(),
  };
  if (!result.ok && result.error !== undefined) record.error = result.error;
  return record;
}

function channelDeps(app: App, opts: JobDeliveryOptions): ChannelDeps {
  return {
    resolveSecret: async (ref) => (await app.secrets().resolve(ref)).reveal(),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...opts.channelDeps,
  };
}

/** The successful result: the agent's reply, else the run's summary and output tail. */
function resultNotice(job: Job, run: Run): Notification {
  const reply = run.details?.agent?.reply;
  const failed = FAILED.has(run.status);
  const text =
    reply !== undefined && reply !== ''
      ? reply
      : [
          `${job.name}: ${run.status}${run.error ? ` — ${run.error}` : ''}`,
          ...(run.outputTail ? ['', run.outputTail.slice(-2000)] : []),
        ].join('\n');
  const fields: Record<string, string> = {};
  if (run.details?.agent) fields.model = run.details.agent.model;
  if (run.durationMs !== undefined) fields.duration = `${Math.round(run.durationMs / 100) / 10}s`;
  return {
    title: `${job.name}: ${run.status}`,
    text,
    severity: failed ? 'error' : 'info',
    jobId: job.id,
    jobName: job.name,
    runId: run.runId,
    status: run.status,
    fields,
  };
}

function failureText(job: Job, run: Run): Notification {
  return {
    title: `${job.name} failed: ${run.status}`,
    text: `${job.name} (run ${run.runId}) ended ${run.status}${run.error ? `: ${run.error}` : ''}`,
    severity: 'error',
    jobId: job.id,
    jobName: job.name,
    runId: run.runId,
    status: run.status,
  };
}

function describeTarget(t: DeliveryTarget): string {
  return t.to !== undefined ? `${t.channel}:${t.to}` : t.channel;
}

function describePolicy(job: Job): string {
  const p = job.delivery;
  if (!p || p.mode === 'none') return 'none';
  if (p.mode === 'announce') return `announce ${describeTarget(p)}`;
  // The URL may carry a token: show a reference as written, a URL without its query.
  return `webhook ${looksLikeSecretRef(p.url) ? p.url : displayUrl(p.url)}`;
}

/** Adds the records to the run's details, after any the executor wrote (e.g. an inbox record). */
async function save(app: App, run: Run, records: DeliveryRecord[]): Promise<DeliveryRecord[]> {
  if (records.length === 0) return records;
  const stored = await app.store.getRun(run.runId);
  const before = stored?.details?.delivery ?? run.details?.delivery ?? [];
  await app.store.addRunDetails(run.runId, { delivery: [...before, ...records] });
  return records;
}
