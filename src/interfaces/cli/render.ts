/**
 * Plain-text rendering shared by the CLI commands: tables, instants and one-line schedule
 * summaries. JSON output never goes through here.
 */
import { formatDuration } from '../../domain/duration.ts';

/** Left-aligned columns separated by two spaces; the header row is printed as given. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** ISO-8601 UTC, the form every JSON output uses. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString();
}

/** Wall-clock time in a zone, with its offset: `2027-03-14 08:00:00 +01:00`. */
export function localTime(ms: number, tz: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  }).formatToParts(new Date(ms));
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  const offset = get('timeZoneName').replace(/^GMT/, '') || '+00:00';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')} ${offset}`;
}

/** `in 4m`, `3h ago`: how far an instant is from now, at a glance. */
export function relative(ms: number, nowMs: number): string {
  const delta = ms - nowMs;
  const abs = Math.abs(delta);
  // Whole seconds are enough for a glance; sub-second precision only adds noise.
  const rounded = abs < 1000 ? abs : Math.round(abs / 1000) * 1000;
  const text = abs < 1000 ? 'now' : largestUnits(rounded);
  if (text === 'now') return 'now';
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

/** The two largest units of a duration (`1d4h`, `5m12s`). */
function largestUnits(ms: number): string {
  const full = formatDuration(ms);
  const parts = full.match(/\d+[a-z]+/g) ?? [full];
  return parts.slice(0, 2).join('');
}
