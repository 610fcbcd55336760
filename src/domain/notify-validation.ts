/**
 * Validation of what a job says about notifying people: its alert policy, where its result is
 * delivered, and its healthcheck ping URL. Channel names are checked for shape here; whether the
 * channel is configured is checked when the job is added through the CLI or MCP.
 */
import type { AlertPolicy, DeliveryPolicy, DeliveryTarget } from './job.ts';
import { boolField, bytesField, fail, intField, isObject, msField, show, textField } from './fields.ts';

export const DEFAULT_ALERT_COOLDOWN_MS = 3_600_000;
const CHANNEL = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const DAY = 86_400_000;

function channelName(v: unknown, field: string): string {
  const s = textField(v, field);
  if (!CHANNEL.test(s))
    fail(
      `${field}: ${show(s)} is not a channel name`,
      'use the name of a channel from the configuration’s "channels"',
    );
  return s;
}

function httpUrl(v: unknown, field: string, hint: string): string {
  const s = textField(v, field);
  if (!URL.canParse(s) || !/^https?:$/.test(new URL(s).protocol))
    fail(`${field}: must be an http(s) URL, got ${show(s)}`, hint);
  const u = new URL(s);
  if (u.username || u.password)
    fail(
      `${field}: the URL holds a user name or password`,
      'put credentials in a channel with a secret reference instead',
    );
  return s;
}

/** An alert policy with defaults filled in, or undefined when none is given. */
export function validateAlertPolicy(v: unknown): AlertPolicy | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) fail(`alerts: must be an object, got ${show(v)}`);
  const out: AlertPolicy = {
    afterFailures:
      v.afterFailures === undefined
        ? 1
        : intField(v.afterFailures, 'alerts.afterFailures', 0, 1000, '0 turns failure alerts off'),
    cooldownMs:
      v.cooldownMs === undefined
        ? DEFAULT_ALERT_COOLDOWN_MS
        : msField(v.cooldownMs, 'alerts.cooldownMs', 0, 365 * DAY),
    recovery: v.recovery === undefined ? true : boolField(v.recovery, 'alerts.recovery'),
  };
  if (v.ifNoSuccessWithinMs !== undefined && v.ifNoSuccessWithinMs !== null)
    out.ifNoSuccessWithinMs = msField(v.ifNoSuccessWithinMs, 'alerts.ifNoSuccessWithinMs', 60_000, 366 * DAY);
  if (v.channels !== undefined && v.channels !== null) {
    if (!Array.isArray(v.channels))
      fail(`alerts.channels: must be a list of channel names, got ${show(v.channels)}`);
    const names = v.channels.map((c, i) => channelName(c, `alerts.channels[${i}]`));
    if (names.length > 0) out.channels = [...new Set(names)];
  }
  if (v.anomalyFactor !== undefined && v.anomalyFactor !== null) {
    const f = v.anomalyFactor;
    if (typeof f !== 'number' || !(f > 1 && f <= 1000))
      fail(
        `alerts.anomalyFactor: must be a number above 1 (at most 1000), got ${show(f)}`,
        'e.g. 5 = five times the median',
      );
    out.anomalyFactor = f;
  }
  if (v.maxRepoBytes !== undefined && v.maxRepoBytes !== null)
    out.maxRepoBytes = bytesField(v.maxRepoBytes, 'alerts.maxRepoBytes', 1, Number.MAX_SAFE_INTEGER);
  if (v.maxRepoUsagePercent !== undefined && v.maxRepoUsagePercent !== null) {
    const pct = v.maxRepoUsagePercent;
    if (typeof pct !== 'number' || !(pct > 0 && pct <= 100))
      fail(
        `alerts.maxRepoUsagePercent: must be a percentage above 0 and at most 100, got ${show(pct)}`,
        'e.g. 80',
      );
    out.maxRepoUsagePercent = pct;
  }
  if (
    v.includeSkipped !== undefined &&
    v.includeSkipped !== null &&
    boolField(v.includeSkipped, 'alerts.includeSkipped')
  )
    out.includeSkipped = true;
  return out;
}

/** The channel kinds whose messages can go into a thread or topic (`delivery.threadId`). */
export const THREAD_CHANNEL_KINDS: readonly string[] = ['telegram', 'discord', 'slack'];

/** A thread or topic id: Telegram and Discord number them, Slack names a thread by its parent's timestamp. */
function threadId(v: unknown): string {
  const s =
    typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? String(v) : textField(v, 'delivery.threadId');
  if (!/^\d{1,25}(\.\d{1,10})?$/.test(s))
    fail(
      `delivery.threadId: must be a thread or topic id (digits, or a Slack message timestamp), got ${show(s)}`,
      'e.g. --thread-id 42 (a Telegram topic or Discord thread id) or --thread-id 1712345678.123456 (Slack)',
    );
  return s;
}

function validateTarget(v: unknown, field: string): DeliveryTarget {
  if (!isObject(v)) fail(`${field}: must be an object with channel (and to), got ${show(v)}`);
  const out: DeliveryTarget = { channel: channelName(v.channel, `${field}.channel`) };
  if (v.to !== undefined && v.to !== null) out.to = textField(v.to, `${field}.to`);
  return out;
}

/** Where the job's result goes, or undefined when the job does not say. */
export function validateDelivery(v: unknown): DeliveryPolicy | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) fail(`delivery: must be an object, got ${show(v)}`);
  const failure =
    v.failureDestination === undefined || v.failureDestination === null
      ? undefined
      : validateTarget(v.failureDestination, 'delivery.failureDestination');
  switch (v.mode) {
    case 'none':
      if (failure)
        fail(
          'delivery.failureDestination: a job that delivers nothing has no failure destination',
          'drop --failure-channel, or use --announce',
        );
      return { mode: 'none' };
    case 'announce': {
      const out: DeliveryPolicy = { mode: 'announce', channel: channelName(v.channel, 'delivery.channel') };
      if (v.to !== undefined && v.to !== null) out.to = textField(v.to, 'delivery.to');
      if (v.threadId !== undefined && v.threadId !== null && v.threadId !== '')
        out.threadId = threadId(v.threadId);
      if (failure) out.failureDestination = failure;
      return out;
    }
    case 'webhook': {
      const out: DeliveryPolicy = {
        mode: 'webhook',
        url: httpUrl(v.url, 'delivery.url', 'e.g. --webhook https://hooks.example.com/nightshift'),
      };
      if (failure) out.failureDestination = failure;
      return out;
    }
    default:
      return fail(
        `delivery.mode: must be announce, webhook or none, got ${show(v.mode)}`,
        'use --announce --channel C, --webhook URL or --no-deliver',
      );
  }
}

export function validateHealthcheck(v: unknown): { url: string } | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) fail(`healthcheck: must be an object with url, got ${show(v)}`);
  return { url: httpUrl(v.url, 'healthcheck.url', 'e.g. --healthcheck-url https://hc-ping.com/<uuid>') };
}
