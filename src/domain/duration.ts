/**
 * Durations as users type them (`500ms`, `90s`, `1h30m`, `2d`, `1w`) and as we print them.
 * A bare number is refused: `30` could mean seconds or minutes, and guessing wrong is silent.
 */
import { UserError } from './errors.ts';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Units largest first, for formatting. */
const FORMAT_UNITS: Array<[string, number]> = [
  ['w', UNIT_MS.w!],
  ['d', UNIT_MS.d!],
  ['h', UNIT_MS.h!],
  ['m', UNIT_MS.m!],
  ['s', UNIT_MS.s!],
  ['ms', 1],
];

const PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)(?![a-z])/y;

/**
 * Parses `500ms`, `1s`, `90m`, `2h`, `1d`, `1w` and combinations such as `1h30m` or `1h 30m`
 * into milliseconds (rounded to a whole millisecond). Throws a UserError for anything else.
 */
export function parseDuration(text: string): number {
  const src = String(text).trim().toLowerCase();
  if (src === '') {
    throw new UserError('empty duration', { hint: 'write a number with a unit, e.g. 30s, 5m, 1h30m, 1d' });
  }
  if (/^\d+(\.\d+)?$/.test(src)) {
    throw new UserError(`duration "${text}" has no unit`, {
      hint: `add a unit: ${src}s (seconds), ${src}m (minutes), ${src}h (hours) or ${src}ms (milliseconds)`,
    });
  }
  let total = 0;
  let pos = 0;
  let parts = 0;
  while (pos < src.length) {
    while (src[pos] === ' ') pos++;
    if (pos >= src.length) break;
    PART.lastIndex = pos;
    const m = PART.exec(src);
    if (!m) {
      throw new UserError(`cannot read duration "${text}" at "${src.slice(pos)}"`, {
        hint: 'use numbers with units ms, s, m, h, d, w, e.g. 500ms, 90s, 1h30m, 2d',
      });
    }
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = PART.lastIndex;
    parts++;
  }
  if (parts === 0 || !Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) {
    throw new UserError(`duration "${text}" is out of range`, {
      hint: 'use a duration of at most a few years',
    });
  }
  return Math.round(total);
}

/**
 * Formats milliseconds compactly with the largest units first (`1h30m`, `2d`, `1w`; 1.5 s is
 * printed as `1s500ms`), so `parseDuration(formatDuration(ms)) === ms` for whole, non-negative ms.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return '-' + formatDuration(-ms);
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let out = '';
  // Weeks only when exact: "30d" reads better than "4w2d".
  const units = rest % UNIT_MS.w! === 0 ? FORMAT_UNITS : FORMAT_UNITS.slice(1);
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
