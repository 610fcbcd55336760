/**
 * How a Notification reads in plain text, shared by the channels that have no richer layout
 * (ntfy, email) and used as the fallback text of the ones that do.
 */
import type { Notification, Severity } from './channel.ts';

export const SEVERITY_LABEL: Record<Severity, string> = {
  info: 'INFO',
  warning: 'WARNING',
  error: 'ERROR',
  recovery: 'RECOVERED',
};

export const SEVERITY_EMOJI: Record<Severity, string> = {
  info: 'ℹ️',
  warning: '⚠️',
  error: '🔴',
  recovery: '✅',
};

/** RGB colours for embeds and attachments (blue, amber, red, green). */
export const SEVERITY_COLOR: Record<Severity, number> = {
  info: 0x3b82f6,
  warning: 0xf59e0b,
  error: 0xdc2626,
  recovery: 0x16a34a,
};

/** The facts of a notification as label/value pairs: job, run, status, then its own fields. */
export function facts(n: Notification): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (n.jobName !== undefined || n.jobId !== undefined)
    out.push([
      'job',
      n.jobName !== undefined && n.jobId !== undefined
        ? `${n.jobName} (${n.jobId})`
        : (n.jobName ?? n.jobId ?? ''),
    ]);
  if (n.runId !== undefined) out.push(['run', n.runId]);
  if (n.status !== undefined) out.push(['status', n.status]);
  for (const [k, v] of Object.entries(n.fields ?? {})) out.push([k, v]);
  return out;
}

/** "[ERROR] nightly backup failed" */
export function subjectLine(n: Notification): string {
  return `[${SEVERITY_LABEL[n.severity]}] ${oneLine(n.title)}`;
}

/** Body text: the message, then one "label: value" line per fact, then the link. */
export function plainBody(n: Notification): string {
  const parts = [n.text.trim()];
  const lines = facts(n).map(([k, v]) => `${k}: ${v}`);
  if (lines.length > 0) parts.push(lines.join('\n'));
  if (n.url !== undefined) parts.push(n.url);
  return parts.filter((p) => p !== '').join('\n\n');
}

/** Title and body in one block of text. */
export function plainText(n: Notification): string {
  return `${subjectLine(n)}\n\n${plainBody(n)}`;
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Cuts text to `max` characters (code points), marking the cut. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return chars.slice(0, Math.max(0, max - 1)).join('') + '…';
}
