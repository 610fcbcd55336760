/**
 * Schedule math: validation and fire times for `cron`, `every` and `at` schedules. The engine,
 * `cron next` and `cron show` all use these functions, so what a preview predicts is exactly what
 * the daemon fires.
 *
 * Cron follows Vixie cron, including its DST rules (croner implements them; see
 * docs/scheduling.md): a fixed-time job whose time falls in a skipped hour fires once at the first
 * valid instant after the jump; in a repeated hour it fires once (first pass); a job with a
 * wildcard or step in its second, minute or hour field keeps real-time spacing in both passes.
 */
import { Cron } from 'croner';
import type { CronOptions } from 'croner';
import type { Schedule } from './job.ts';
import { UserError } from './errors.ts';
import { describeAfter, validateAfterSchedule } from './chain.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { parseCronExpression } from './cron-expression.ts';

/** Shortest interval an `every` schedule may have; anything tighter floods run history. */
export const MIN_EVERY_MS = 1_000;

export const CRON_NICKNAMES = [
  '@yearly',
  '@annually',
  '@monthly',
  '@weekly',
  '@daily',
  '@midnight',
  '@hourly',
];

/** The host's IANA time zone (what cron schedules without `tz` use). */
export function hostTimeZone(): string {
  // Prefer TZ as the user spelled it: ICU canonicalizes some names (Asia/Kolkata -> Asia/Calcutta).
  const env = process.env.TZ;
  if (env && !env.startsWith(':') && isValidTimeZone(env)) return env;
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const zoneValidity = new Map<string, boolean>();

/** True if `tz` is an IANA zone name this runtime knows. */
export function isValidTimeZone(tz: string): boolean {
  let ok = zoneValidity.get(tz);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      ok = tz.trim() !== '';
    } catch {
      ok = false;
    }
    zoneValidity.set(tz, ok);
  }
  return ok;
}

/** The zone a schedule's times are read in: its own, else the host zone (cron) or UTC (at). */
export function scheduleTimeZone(s: Schedule): string {
  if (s.kind === 'cron') return s.tz ?? hostTimeZone();
  if (s.kind === 'at') return s.tz ?? 'UTC';
  return hostTimeZone();
}

// ---------------------------------------------------------------------------------------------
// cron

function cronOptions(tz: string, daysAnded: boolean): CronOptions {
  return {
    paused: true,
    // UTC as a zero offset takes croner's arithmetic path instead of Intl lookups (~10x faster).
    ...(tz === 'UTC' || tz === 'Etc/UTC' ? { utcOffset: 0 } : { timezone: tz }),
    // 5 fields, or 6 with seconds first; 7 (with years) is not cron as users know it.
    mode: '5-or-6-parts',
    // Vixie cron: a job without wildcard or step in second/minute/hour is a fixed-time job for DST.
    fixedTimeRule: 'no-wildcard',
    // Vixie cron: two restricted day fields match when either does; a day field starting with `*`
    // leaves the other to decide (see cron-expression.ts).
    domAndDow: daysAnded,
  };
}

/** The part of croner's internals trimmed below (croner 11). */
interface CronInternals {
  _states?: { pattern?: { starYear?: boolean; year?: unknown } };
}

const cronCache = new Map<string, Cron>();
/** Parsed expressions kept; each costs ~3 KB once trimmed. */
const CRON_CACHE_MAX = 5_000;

/** One parsed Cron per (expr, zone); parsing is the costly part and jobs share few expressions. */
function cronFor(expr: string, tz: string): Cron {
  const key = tz + '\u0000' + expr;
  let c = cronCache.get(key);
  if (!c) {
    if (expr.startsWith('@')) c = new Cron(expr, cronOptions(tz, false));
    else {
      const parsed = parseCronExpression(expr);
      c = new Cron(parsed.cronerText, cronOptions(tz, parsed.daysAnded));
    }
    // Without a year field croner never reads its 10,000-entry year table (~80 KB per pattern).
    const pattern = (c as unknown as CronInternals)._states?.pattern;
    if (pattern?.starYear === true && Array.isArray(pattern.year)) pattern.year = [];
    if (cronCache.size >= CRON_CACHE_MAX) cronCache.clear();
    cronCache.set(key, c);
  }
  return c;
}

/**
 * Memo of "next fire after t" per (zone, expr, t). Many jobs share an expression and fire at the
 * same instants, so the engine asks the same question over and over; the answer never changes.
 */
const nextCache = new Map<string, number | null>();
const NEXT_CACHE_MAX = 20_000;

function cronNext(expr: string, tz: string, afterMs: number): number | null {
  const key = tz + '\u0000' + expr + '\u0000' + afterMs;
  const hit = nextCache.get(key);
  if (hit !== undefined) return hit;
  let t = afterMs;
  let next: number | null = null;
  for (;;) {
    const d = cronFor(expr, tz).nextRun(new Date(t));
    if (d === null) break;
    next = d.getTime();
    // croner works in whole seconds; guard the strictly-after contract regardless.
    if (next > afterMs) break;
    t = Math.floor(t / 1000) * 1000 + 1000;
    next = null;
  }
  if (nextCache.size >= NEXT_CACHE_MAX) nextCache.clear();
  nextCache.set(key, next);
  return next;
}

function normalizeCronExpr(expr: string): string {
  const e = expr.trim().replace(/\s+/g, ' ');
  return e.startsWith('@') ? e.toLowerCase() : e;
}

/** Throws a UserError naming the field of `expr` that is wrong. `expr` is already normalized. */
function checkCronExpr(expr: string, tz: string): void {
  if (expr === '') {
    throw new UserError('schedule.expr: empty cron expression', {
      hint: 'write 5 fields (minute hour day-of-month month day-of-week), e.g. "0 3 * * *", or @daily',
    });
  }
  if (expr.startsWith('@')) {
    if (!CRON_NICKNAMES.includes(expr)) {
      throw new UserError(`schedule.expr: unknown nickname "${expr}"`, {
        hint: `use one of ${CRON_NICKNAMES.join(', ')}, or 5 cron fields`,
      });
    }
    return;
  }
  const parsed = parseCronExpression(expr);
  let cron: Cron;
  try {
    cron = cronFor(expr, tz);
  } catch {
    // Every field passed our own reading; croner refusing the whole is a combination it lacks.
    throw new UserError(`schedule.expr: "${expr}" cannot be scheduled`, {
      hint: 'check the combination of fields, e.g. "0 3 * * *" or "0 0 L * *"',
    });
  }
  // A 5/6-field pattern repeats within 400 years, so "nothing after 2000-01-01" means never.
  if (cron.nextRun(new Date(Date.UTC(2000, 0, 1))) === null) {
    const month = expr.split(' ').at(-2)!;
    const inMonth = month === '*' ? '' : ` in month ${month}`;
    throw new UserError(`schedule.expr: "${expr}" never fires: no date falls ${parsed.days}${inMonth}`, {
      hint: parsed.days.includes(' AND ')
        ? 'check the day fields: both must match on one date (a day field starting with * still counts); e.g. February has no 30th, and the 1st is never a 4th Monday'
        : 'check the day-of-month against the month, e.g. February has no 30th; use L for the last day',
    });
  }
}

// ---------------------------------------------------------------------------------------------
// at

/** ISO 8601 date, optional time (`T`, `t` or a space before it; `24:00` = end of day), optional offset. */
const ISO_AT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}:?\d{2})?)?$/;

/** True if `at` is relative (`+20m`, `20m`, `in 20m`): it needs a "now" to mean anything. */
export function isRelativeAt(at: string): boolean {
  return /^(\+|in\s+)?\s*\d+(\.\d+)?\s*(ms|s|m|h|d|w)/i.test(at.trim());
}

export interface ParseAtOptions {
  /**
   * A wall time that does not exist in the zone (clocks jumped over it): `refuse` (what a user
   * typing it gets, naming the gap and its neighbours) or `after` (the first instant after the
   * jump; for times stored before they were refused).
   */
  inGap?: 'refuse' | 'after';
}

const AT_HINT =
  'use ISO 8601, e.g. 2027-03-14T07:00:00Z, 2027-03-14T09:00:00+02:00, or 2027-03-14T09:00 with a tz; or +20m';

/**
 * The instant an `at` string names. ISO 8601 with `Z` or an offset is taken as is; without one it
 * is wall time in `tz` (default UTC). `24:00` is the end of that day (the next day's 00:00), as in
 * ISO 8601. A repeated wall time (clocks going back) means its first occurrence, as for cron; one
 * that does not exist is refused (see ParseAtOptions). Relative times (`+20m`, `20m`, `in 1h30m`)
 * count from `nowMs`, which must then be given.
 */
export function parseAt(at: string, tz?: string, nowMs?: number, opts: ParseAtOptions = {}): number {
  const text = String(at).trim();
  if (tz !== undefined && !isValidTimeZone(tz)) {
    throw new UserError(`schedule.tz: unknown time zone "${tz}"`, {
      hint: 'use an IANA zone name such as Europe/Berlin, America/New_York or UTC',
    });
  }
  if (isRelativeAt(text)) {
    if (nowMs === undefined) {
      throw new UserError(`schedule.at: relative time "${at}" needs the current time to resolve`, {
        hint: 'give an ISO 8601 time such as 2027-03-14T07:00:00Z',
      });
    }
    const rel = text.replace(/^(\+|in\s+)/i, '');
    let ms: number;
    try {
      ms = parseDuration(rel);
    } catch (err) {
      throw new UserError(`schedule.at: ${(err as UserError).message}`, { hint: (err as UserError).hint });
    }
    return nowMs + ms;
  }
  const m = ISO_AT.exec(text);
  if (!m) throw new UserError(`schedule.at: cannot read "${at}" as a time`, { hint: AT_HINT });
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) => Number(v ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const frac = m[7] ? Math.round(Number('0.' + m[7]) * 1000) : 0;
  const day = new Date(Date.UTC(y, mo - 1, d));
  // Date.UTC rolls over (Feb 30 -> Mar 2); a real date survives the round trip.
  const realDate = day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d;
  const endOfDay = h === 24 && mi === 0 && sec === 0 && frac === 0;
  if (!realDate || (!endOfDay && (h > 23 || mi > 59 || sec > 59))) {
    throw new UserError(`schedule.at: "${at}" is not a real date and time`, {
      hint: 'check the day of the month (February has 28 or 29 days), hours 00-23 (or 24:00 for the end of the day), minutes and seconds 00-59',
    });
  }
  const wallMs = day.getTime() + (h * 3600 + mi * 60 + sec) * 1000 + frac;
  const offset = m[8];
  if (offset !== undefined) {
    if (tz !== undefined) {
      throw new UserError(`schedule.at: "${at}" has its own UTC offset, so tz "${tz}" would be ignored`, {
        hint: 'drop the offset to read the time in tz, or drop tz',
      });
    }
    if (offset.toUpperCase() === 'Z') return wallMs;
    const om = /^([+-])(\d{2}):?(\d{2})$/.exec(offset)!;
    const offsetMs = (Number(om[2]) * 60 + Number(om[3])) * 60_000 * (om[1] === '-' ? -1 : 1);
    return wallMs - offsetMs;
  }
  const zone = tz ?? 'UTC';
  const resolved = wallTimeToInstant(wallMs, zone);
  if (typeof resolved === 'number') return resolved;
  if (opts.inGap === 'after') return resolved.jumpMs;
  const g = resolved;
  const wall = (ms: number): string => new Date(ms).toISOString().slice(0, 16);
  throw new UserError(
    `schedule.at: ${wall(wallMs)} does not exist in ${zone}: the clocks jump from ${wall(g.jumpMs + g.beforeOffsetMs)} to ${wall(g.jumpMs + g.afterOffsetMs)} (${formatOffset(g.beforeOffsetMs)} to ${formatOffset(g.afterOffsetMs)})`,
    {
      hint: `pick a time that exists, e.g. the last minute before the jump, ${wall(g.jumpMs + g.beforeOffsetMs - 60_000)} (${formatOffset(g.beforeOffsetMs)}), or the first after it, ${wall(g.jumpMs + g.afterOffsetMs)} (${formatOffset(g.afterOffsetMs)})`,
      code: 'at-in-gap',
    },
  );
}

/** `+02:00`, `-04:00`, `+05:45`. */
function formatOffset(offsetMs: number): string {
  const min = Math.round(Math.abs(offsetMs) / 60_000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${offsetMs < 0 ? '-' : '+'}${pad(Math.floor(min / 60))}:${pad(min % 60)}`;
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's UTC offset (ms, east positive) at an instant. */
export function zoneOffsetMs(tz: string, instantMs: number): number {
  if (tz === 'UTC' || tz === 'Etc/UTC') return 0;
  let f = offsetFormatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    offsetFormatters.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(instantMs))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  const whole = Math.floor(instantMs / 1000) * 1000;
  return wall - whole;
}

/** A wall time the clocks jumped over: the instant of the jump and the offsets either side. */
interface WallTimeGap {
  jumpMs: number;
  beforeOffsetMs: number;
  afterOffsetMs: number;
}

/** Wall time (as if UTC) in `tz` to an instant (the first occurrence if repeated), or its gap. */
function wallTimeToInstant(wallMs: number, tz: string): number | WallTimeGap {
  const before = zoneOffsetMs(tz, wallMs - 86_400_000);
  const after = zoneOffsetMs(tz, wallMs + 86_400_000);
  const candidates = [wallMs - before, wallMs - after].sort((a, b) => a - b);
  for (const c of candidates) if (c + zoneOffsetMs(tz, c) === wallMs) return c;
  // In a gap: find the transition instant between the candidates (offsets change on whole seconds).
  let lo = candidates[0]!;
  let hi = candidates[1]!;
  const loOffset = zoneOffsetMs(tz, lo);
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (zoneOffsetMs(tz, mid) === loOffset) lo = mid;
    else hi = mid;
  }
  return { jumpMs: hi, beforeOffsetMs: loOffset, afterOffsetMs: zoneOffsetMs(tz, hi) };
}

// ---------------------------------------------------------------------------------------------
// validation

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks a schedule and returns its normalized form (whitespace in cron collapsed, nicknames in
 * lower case, only known keys kept). With `nowMs`, a relative `at` (`+20m`) is resolved to an ISO
 * instant. Throws a UserError naming the field otherwise.
 */
export function validateSchedule(s: Schedule, nowMs?: number): Schedule {
  const raw: unknown = s;
  if (!isPlainObject(raw)) {
    throw new UserError('schedule: missing or not an object', {
      hint: 'give {kind:"cron",expr}, {kind:"every",everyMs} or {kind:"at",at}',
    });
  }
  const tz = raw.tz;
  if (tz !== undefined && (typeof tz !== 'string' || !isValidTimeZone(tz))) {
    throw new UserError(`schedule.tz: unknown time zone ${JSON.stringify(tz)}`, {
      hint: 'use an IANA zone name such as Europe/Berlin, America/New_York or UTC',
    });
  }
  switch (raw.kind) {
    case 'cron': {
      if (typeof raw.expr !== 'string') {
        throw new UserError('schedule.expr: missing cron expression', { hint: 'e.g. "0 3 * * *" or @daily' });
      }
      const expr = normalizeCronExpr(raw.expr);
      checkCronExpr(expr, (tz as string | undefined) ?? hostTimeZone());
      return tz === undefined ? { kind: 'cron', expr } : { kind: 'cron', expr, tz: tz as string };
    }
    case 'every': {
      const everyMs = raw.everyMs;
      if (typeof everyMs !== 'number' || !Number.isFinite(everyMs) || !Number.isInteger(everyMs)) {
        throw new UserError(
          `schedule.everyMs: must be a whole number of milliseconds, got ${JSON.stringify(everyMs)}`,
          {
            hint: 'on the command line use --every with a unit, e.g. --every 30s or --every 1h30m',
          },
        );
      }
      if (everyMs < MIN_EVERY_MS) {
        throw new UserError(
          `schedule.everyMs: ${everyMs <= 0 ? 'must be positive' : 'too short'}, got ${everyMs} ms`,
          { hint: `use at least ${formatDuration(MIN_EVERY_MS)}, e.g. --every 30s` },
        );
      }
      const anchorMs = raw.anchorMs;
      if (anchorMs !== undefined && (typeof anchorMs !== 'number' || !Number.isSafeInteger(anchorMs))) {
        throw new UserError(
          `schedule.anchorMs: must be epoch milliseconds, got ${JSON.stringify(anchorMs)}`,
          {
            hint: 'omit it to anchor the grid at the job creation time',
          },
        );
      }
      return anchorMs === undefined ? { kind: 'every', everyMs } : { kind: 'every', everyMs, anchorMs };
    }
    case 'at': {
      if (typeof raw.at !== 'string' || raw.at.trim() === '') {
        throw new UserError('schedule.at: missing time', { hint: 'e.g. 2027-03-14T07:00:00Z or +20m' });
      }
      const at = raw.at.trim();
      const ms = parseAt(at, tz as string | undefined, nowMs);
      // Store an absolute instant: a relative time means nothing once written down.
      if (isRelativeAt(at)) return { kind: 'at', at: new Date(ms).toISOString() };
      return tz === undefined ? { kind: 'at', at } : { kind: 'at', at, tz: tz as string };
    }
    case 'after':
      return validateAfterSchedule(raw);
    default:
      throw new UserError(
        `schedule.kind: must be "cron", "every", "at" or "after", got ${JSON.stringify(raw.kind)}`,
        { hint: 'on the command line use --cron EXPR, --every DURATION, --at TIME or --after JOB' },
      );
  }
}

// ---------------------------------------------------------------------------------------------
// fire times

function everyAnchor(s: Extract<Schedule, { kind: 'every' }>, anchorMs: number): number {
  return s.anchorMs ?? anchorMs;
}

/** First grid point of an `every` schedule strictly after `afterMs` (never before the anchor). */
function everyNext(everyMs: number, anchor: number, afterMs: number): number {
  if (afterMs < anchor) return anchor;
  const k = Math.floor((afterMs - anchor) / everyMs) + 1;
  return anchor + k * everyMs;
}

/**
 * The next `count` fire times strictly after `afterMs`, ascending. For `every`, the grid
 * `anchor + k*everyMs` (k >= 0) with anchor = schedule.anchorMs ?? `anchorMs` (the job's creation
 * time); for `at`, its instant if it is after `afterMs`. The schedule must be valid.
 */
export function nextFireTimes(s: Schedule, afterMs: number, count: number, anchorMs: number): number[] {
  const out: number[] = [];
  if (count <= 0) return out;
  switch (s.kind) {
    case 'after':
      // A chained job has no time of its own: its predecessors' runs start it.
      return out;
    case 'every': {
      let t = everyNext(s.everyMs, everyAnchor(s, anchorMs), afterMs);
      while (out.length < count) {
        out.push(t);
        t += s.everyMs;
      }
      return out;
    }
    case 'at': {
      // A stored time the clocks skip (written before such times were refused) fires after the jump.
      const t = parseAt(s.at, s.tz, undefined, { inGap: 'after' });
      if (t > afterMs) out.push(t);
      return out;
    }
    case 'cron': {
      const tz = s.tz ?? hostTimeZone();
      let t = afterMs;
      while (out.length < count) {
        const next = cronNext(s.expr, tz, t);
        if (next === null) break;
        out.push(next);
        t = next;
      }
      return out;
    }
  }
}

/** The next fire time strictly after `afterMs`, or undefined if the schedule is spent. */
export function nextFireTime(s: Schedule, afterMs: number, anchorMs: number): number | undefined {
  return nextFireTimes(s, afterMs, 1, anchorMs)[0];
}

/**
 * Fire times in (fromExclusiveMs, toInclusiveMs], oldest first, at most `limit` of them: the
 * slots missed while the daemon was down, for catch-up.
 */
export function slotsBetween(
  s: Schedule,
  fromExclusiveMs: number,
  toInclusiveMs: number,
  anchorMs: number,
  limit: number,
): number[] {
  const out: number[] = [];
  if (limit <= 0 || toInclusiveMs <= fromExclusiveMs) return out;
  if (s.kind === 'every') {
    for (
      let t = everyNext(s.everyMs, everyAnchor(s, anchorMs), fromExclusiveMs);
      t <= toInclusiveMs;
      t += s.everyMs
    ) {
      out.push(t);
      if (out.length >= limit) break;
    }
    return out;
  }
  let t = fromExclusiveMs;
  while (out.length < limit) {
    const next = nextFireTimes(s, t, 1, anchorMs)[0];
    if (next === undefined || next > toInclusiveMs) break;
    out.push(next);
    t = next;
  }
  return out;
}

const NICKNAME_FIELDS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/**
 * Which days a cron schedule fires on, in words, naming the day-field rule that applies:
 * "on day-of-month 1-7 AND Monday (both day fields must match)". Undefined for other kinds.
 */
export function describeCronDays(s: Schedule): string | undefined {
  if (s.kind !== 'cron') return undefined;
  const expr = normalizeCronExpr(s.expr);
  try {
    return parseCronExpression(NICKNAME_FIELDS[expr] ?? expr).days;
  } catch {
    // A stored expression that no longer reads (a database edited by hand): its refusal is shown
    // where its fire times are computed; a description just has nothing to add.
    return undefined;
  }
}

/** A short human description: `cron "30 2 * * *" (Europe/Berlin)`, `every 1h30m`, `at …`. */
export function describeSchedule(s: Schedule): string {
  switch (s.kind) {
    case 'cron':
      return `cron "${s.expr}" (${s.tz ?? hostTimeZone()}${s.tz ? '' : ', host zone'})`;
    case 'every':
      return (
        `every ${formatDuration(s.everyMs)}` +
        (s.anchorMs !== undefined ? ` from ${new Date(s.anchorMs).toISOString()}` : '')
      );
    case 'at':
      return `once at ${s.at}` + (s.tz ? ` (${s.tz})` : '');
    case 'after':
      return describeAfter(s);
  }
}
