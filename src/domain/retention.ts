/**
 * Snapshot retention (what `backup forget` keeps), with restic's semantics so restic users get the
 * answer they expect:
 * - snapshots are grouped (default by host and paths) and each group is judged on its own;
 * - within a group, snapshots are walked newest first and every rule is counted independently; a
 *   snapshot is kept when any rule keeps it (rules are ORed);
 * - calendar rules (hourly … yearly) count buckets that contain a snapshot, not calendar periods:
 *   `daily 7` keeps the newest snapshot of each of the 7 most recent days that have one, however
 *   far apart those days are;
 * - `within` is measured back from the group's newest snapshot, not from now, so a host that
 *   stopped backing up does not lose its history by waiting;
 * - weeks are ISO-8601 weeks (Monday first; week-years at the year boundary);
 * - `keepTags` keeps every snapshot that carries the tags, without counting toward anything.
 * Pure: no I/O, no clock.
 */
import { UserError } from './errors.ts';
import { isValidTimeZone, zoneOffsetMs } from './schedule.ts';

export interface RetentionSnapshot {
  id: string;
  /** ISO-8601 instant. */
  time: string;
  hostname: string;
  paths: string[];
  tags: string[];
}

/** A span counted on the calendar (restic's `1y2m3d4h`: years, months, days, hours). */
export interface CalendarDuration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

/** A plain number is milliseconds; a CalendarDuration steps back on the calendar. */
export type RetentionSpan = number | CalendarDuration;

export interface RetentionPolicy {
  /** Counts; `Infinity` keeps every bucket (restic's `unlimited` / -1). */
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** Keep every snapshot newer than the group's newest snapshot minus this span. */
  within?: RetentionSpan;
  /** Inside that span, keep the newest snapshot of each hour/day/week/month/year. */
  withinHourly?: RetentionSpan;
  withinDaily?: RetentionSpan;
  withinWeekly?: RetentionSpan;
  withinMonthly?: RetentionSpan;
  withinYearly?: RetentionSpan;
  /** Each entry is one tag or a comma-separated set that must all be present; entries are ORed. */
  keepTags?: string[];
}

export type GroupField = 'host' | 'paths' | 'tags';

export interface RetentionOptions {
  /** Default host + paths. An empty list puts every snapshot in one group. */
  groupBy?: GroupField[];
  /** IANA zone whose calendar defines hours, days, weeks, months and years. Default UTC. */
  timeZone?: string;
}

export interface KeptSnapshot<S> {
  snapshot: S;
  /** Every rule that keeps it, e.g. `daily 2026-11-20`, `within 2d`, `has tag important`. */
  reasons: string[];
}

export interface RemovedSnapshot<S> {
  snapshot: S;
  /** Why no rule keeps it. */
  reason: string;
}

export interface RetentionGroup<S> {
  /** Readable group label, e.g. `host db1, paths [/srv]`; empty when not grouped. */
  key: string;
  hostname?: string;
  paths?: string[];
  tags?: string[];
  /** Newest first. */
  keep: KeptSnapshot<S>[];
  /** Newest first. */
  remove: RemovedSnapshot<S>[];
}

export interface RetentionResult<S> {
  groups: RetentionGroup<S>[];
}

const COUNT_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
type CountRule = (typeof COUNT_RULES)[number];
type Bucket = Exclude<CountRule, 'last'>;
const WITHIN_RULES = [
  ['withinHourly', 'hourly'],
  ['withinDaily', 'daily'],
  ['withinWeekly', 'weekly'],
  ['withinMonthly', 'monthly'],
  ['withinYearly', 'yearly'],
] as const;

export function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return (
    COUNT_RULES.every((r) => policy[r] === undefined || policy[r] === 0) &&
    spanIsZero(policy.within) &&
    WITHIN_RULES.every(([r]) => spanIsZero(policy[r])) &&
    (policy.keepTags ?? []).length === 0
  );
}

function spanIsZero(span: RetentionSpan | undefined): boolean {
  if (span === undefined) return true;
  if (typeof span === 'number') return span <= 0;
  return span.years === 0 && span.months === 0 && span.days === 0 && span.hours === 0;
}

/** Refuses counts and spans that cannot mean anything, naming the rule. */
export function validatePolicy(policy: RetentionPolicy): void {
  for (const rule of COUNT_RULES) {
    const n = policy[rule];
    if (n === undefined || n === Infinity) continue;
    if (!Number.isInteger(n) || n < 0)
      throw new UserError(`keep-${rule} must be a whole number >= 0 (or "unlimited"), got ${n}`);
  }
  const spans: [string, RetentionSpan | undefined][] = [
    ['within', policy.within],
    ...WITHIN_RULES.map(([r]) => [r, policy[r]] as [string, RetentionSpan | undefined]),
  ];
  for (const [name, span] of spans) {
    if (span === undefined) continue;
    const parts = typeof span === 'number' ? [span] : [span.years, span.months, span.days, span.hours];
    if (parts.some((p) => !Number.isFinite(p) || p < 0))
      throw new UserError(`keep-${kebab(name)} must be a span >= 0, e.g. 7d or 1y6m`);
  }
  for (const t of policy.keepTags ?? []) {
    if (t.split(',').every((s) => s.trim() === ''))
      throw new UserError(
        'keep-tag needs a tag name (or several, comma-separated, that must all be present)',
      );
  }
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/**
 * Parses restic's duration syntax: a sequence of `<n>y`, `<n>m` (months), `<n>d`, `<n>h`, e.g.
 * `1y6m`, `14d`, `36h`. `w` (weeks, 7 days) is also accepted.
 */
export function parseRetentionDuration(text: string): CalendarDuration {
  const trimmed = text.trim();
  const out: CalendarDuration = { years: 0, months: 0, days: 0, hours: 0 };
  const re = /(\d+)([ymwdh])/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(trimmed)) !== null) {
    const n = Number(m[1]);
    switch (m[2]) {
      case 'y':
        out.years += n;
        break;
      case 'm':
        out.months += n;
        break;
      case 'w':
        out.days += 7 * n;
        break;
      case 'd':
        out.days += n;
        break;
      case 'h':
        out.hours += n;
        break;
    }
    consumed = re.lastIndex;
  }
  if (trimmed === '' || consumed !== trimmed.length)
    throw new UserError(`invalid duration "${text}"`, {
      hint: 'use numbers with y (years), m (months), w (weeks), d (days), h (hours), e.g. 7d, 1y6m, 36h',
    });
  return out;
}

export function formatSpan(span: RetentionSpan): string {
  if (typeof span === 'number') {
    const units: [number, string][] = [
      [86_400_000, 'd'],
      [3_600_000, 'h'],
      [60_000, 'min'],
      [1000, 's'],
    ];
    for (const [ms, u] of units) if (span >= ms && span % ms === 0) return `${span / ms}${u}`;
    return `${span}ms`;
  }
  const s =
    (span.years ? `${span.years}y` : '') +
    (span.months ? `${span.months}m` : '') +
    (span.days ? `${span.days}d` : '') +
    (span.hours ? `${span.hours}h` : '');
  return s || '0h';
}

interface WallTime {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
}

/** Reads and writes wall-clock fields in one IANA zone (offsets from schedule.ts's zoneOffsetMs). */
class Calendar {
  private readonly utc: boolean;

  constructor(readonly timeZone: string) {
    this.utc = timeZone === 'UTC';
    if (!this.utc && !isValidTimeZone(timeZone))
      throw new UserError(`unknown time zone "${timeZone}"`, {
        hint: 'use an IANA zone such as Europe/Berlin',
      });
  }

  wall(ms: number): WallTime {
    const d = new Date(this.utc ? ms : ms + zoneOffsetMs(this.timeZone, ms));
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      ms: d.getUTCMilliseconds(),
    };
  }

  /** The instant showing these (possibly overflowing, Go AddDate-style) wall fields. */
  instant(w: WallTime): number {
    const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.ms);
    if (this.utc) return asUtc;
    // Offset at the guess, then at the corrected guess: settles except inside a DST gap.
    let guess = asUtc - this.offset(asUtc);
    guess = asUtc - this.offset(guess);
    return guess;
  }

  private offset(ms: number): number {
    const w = this.wall(ms);
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.ms) - ms;
  }
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** ISO-8601 week-year and week of a calendar date. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  const dow = (date.getUTCDay() + 6) % 7; // Monday = 0
  // The Thursday of this week decides the week-year.
  date.setUTCDate(date.getUTCDate() - dow + 3);
  const weekYear = date.getUTCFullYear();
  const firstThursday = new Date(Date.UTC(weekYear, 0, 4));
  const firstDow = (firstThursday.getUTCDay() + 6) % 7;
  firstThursday.setUTCDate(firstThursday.getUTCDate() - firstDow + 3);
  const week = 1 + Math.round((date.getTime() - firstThursday.getTime()) / (7 * 86_400_000));
  return { year: weekYear, week };
}

function bucketLabel(bucket: Bucket, w: WallTime): string {
  switch (bucket) {
    case 'hourly':
      return `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}h`;
    case 'daily':
      return `${w.year}-${pad(w.month)}-${pad(w.day)}`;
    case 'weekly': {
      const iw = isoWeek(w.year, w.month, w.day);
      return `${iw.year}-W${pad(iw.week)}`;
    }
    case 'monthly':
      return `${w.year}-${pad(w.month)}`;
    case 'yearly':
      return `${w.year}`;
  }
}

function cutoff(latestMs: number, span: RetentionSpan, cal: Calendar): number {
  if (typeof span === 'number') return latestMs - span;
  const w = cal.wall(latestMs);
  const back = cal.instant({
    ...w,
    year: w.year - span.years,
    month: w.month - span.months,
    day: w.day - span.days,
  });
  return back - span.hours * 3_600_000;
}

function parseTime(s: RetentionSnapshot): number {
  const ms = Date.parse(s.time);
  if (Number.isNaN(ms)) throw new UserError(`snapshot ${s.id} has an unreadable time "${s.time}"`);
  return ms;
}

function groupOf(
  s: RetentionSnapshot,
  by: GroupField[],
): { key: string; hostname?: string; paths?: string[]; tags?: string[] } {
  const g: { key: string; hostname?: string; paths?: string[]; tags?: string[] } = { key: '' };
  const parts: string[] = [];
  if (by.includes('host')) {
    g.hostname = s.hostname;
    parts.push(`host ${s.hostname}`);
  }
  if (by.includes('paths')) {
    g.paths = [...s.paths].sort();
    parts.push(`paths [${g.paths.join(', ')}]`);
  }
  if (by.includes('tags')) {
    g.tags = [...new Set(s.tags)].sort();
    parts.push(`tags [${g.tags.join(', ')}]`);
  }
  g.key = parts.join(', ');
  return g;
}

/** Splits snapshots into groups and decides, per group, which to keep and why. */
export function applyRetention<S extends RetentionSnapshot>(
  snapshots: readonly S[],
  policy: RetentionPolicy,
  opts: RetentionOptions = {},
): RetentionResult<S> {
  validatePolicy(policy);
  if (isEmptyPolicy(policy))
    throw new UserError('no retention rule given: refusing to remove every snapshot', {
      hint: 'pass at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within or --keep-tag',
    });
  const by = opts.groupBy ?? ['host', 'paths'];
  const cal = new Calendar(opts.timeZone ?? 'UTC');

  const groups = new Map<string, { meta: ReturnType<typeof groupOf>; members: S[] }>();
  for (const s of snapshots) {
    const meta = groupOf(s, by);
    let g = groups.get(meta.key);
    if (!g) groups.set(meta.key, (g = { meta, members: [] }));
    g.members.push(s);
  }

  const result: RetentionGroup<S>[] = [];
  for (const key of [...groups.keys()].sort()) {
    const { meta, members } = groups.get(key)!;
    result.push({ ...meta, ...judgeGroup(members, policy, cal) });
  }
  return { groups: result };
}

function judgeGroup<S extends RetentionSnapshot>(
  members: S[],
  policy: RetentionPolicy,
  cal: Calendar,
): { keep: KeptSnapshot<S>[]; remove: RemovedSnapshot<S>[] } {
  // Newest first; equal times ordered by id so the answer never depends on input order.
  const list = members
    .map((snapshot) => ({ snapshot, ms: parseTime(snapshot) }))
    .sort(
      (a, b) => b.ms - a.ms || (a.snapshot.id < b.snapshot.id ? -1 : a.snapshot.id > b.snapshot.id ? 1 : 0),
    );
  const keep: KeptSnapshot<S>[] = [];
  const remove: RemovedSnapshot<S>[] = [];
  if (list.length === 0) return { keep, remove };

  const latest = list[0]!.ms;
  const counters = COUNT_RULES.map((rule) => ({
    rule,
    left: policy[rule] ?? 0,
    total: policy[rule] ?? 0,
    last: undefined as string | undefined,
    lastId: '',
  }));
  const withins = WITHIN_RULES.flatMap(([name, bucket]) => {
    const span = policy[name];
    if (spanIsZero(span)) return [];
    return [
      { bucket, span: span!, since: cutoff(latest, span!, cal), last: undefined as string | undefined },
    ];
  });
  const withinSince = spanIsZero(policy.within) ? undefined : cutoff(latest, policy.within!, cal);
  const tagSets = (policy.keepTags ?? []).map((t) =>
    t
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  );

  list.forEach(({ snapshot, ms }, nr) => {
    const wall = cal.wall(ms);
    const reasons: string[] = [];
    const why: string[] = [];

    if (tagSets.length > 0) {
      const hit = tagSets.find((set) => set.every((t) => snapshot.tags.includes(t)));
      if (hit) reasons.push(`has tag${hit.length > 1 ? 's' : ''} ${hit.join(',')}`);
      else why.push(`has none of the kept tags (${tagSets.map((s) => s.join(',')).join(' | ')})`);
    }

    if (withinSince !== undefined) {
      // Strictly after, as restic: a snapshot exactly one span older than the newest is not kept.
      if (ms > withinSince) reasons.push(`within ${formatSpan(policy.within!)}`);
      else why.push(`older than ${formatSpan(policy.within!)} before the newest snapshot`);
    }

    for (const c of counters) {
      if (c.total === 0) continue;
      const label = c.rule === 'last' ? String(nr) : bucketLabel(c.rule, wall);
      const reasonText = c.rule === 'last' ? 'last snapshot' : `${c.rule} ${label}`;
      if (label === c.last) {
        why.push(`${c.rule} ${label} already kept by newer snapshot ${shortId(c.lastId)}`);
      } else if (c.left > 0) {
        c.left--;
        c.last = label;
        c.lastId = snapshot.id;
        reasons.push(reasonText);
      } else {
        why.push(`${c.rule === 'last' ? 'last' : c.rule} ${c.total} already used`);
      }
    }

    for (const w of withins) {
      if (ms <= w.since) {
        why.push(`older than ${w.bucket}-within span ${formatSpan(w.span)}`);
        continue;
      }
      const label = bucketLabel(w.bucket, wall);
      if (label === w.last) {
        why.push(`${w.bucket} ${label} (within ${formatSpan(w.span)}) already kept by a newer snapshot`);
      } else {
        w.last = label;
        reasons.push(`${w.bucket} ${label} within ${formatSpan(w.span)}`);
      }
    }

    if (reasons.length > 0) keep.push({ snapshot, reasons });
    else remove.push({ snapshot, reason: why.join('; ') || 'no rule keeps it' });
  });
  return { keep, remove };
}

function shortId(id: string): string {
  return id.slice(0, 8);
}

/** The retention policy in words: `keep-last 3, keep-within 7d`. */
export function describeRetention(policy: RetentionPolicy): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(policy)) {
    if (v === undefined) continue;
    const flag = `keep-${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
    if (k === 'keepTags') parts.push(`keep-tag ${(v as string[]).join(' ')}`);
    else if (typeof v === 'number' && !k.startsWith('within')) parts.push(`${flag} ${v}`);
    else parts.push(`${flag} ${formatSpan(v as Parameters<typeof formatSpan>[0])}`);
  }
  return parts.length > 0 ? parts.join(', ') : 'keep everything';
}
