import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import {
  describeSchedule,
  hostTimeZone,
  nextFireTime,
  nextFireTimes,
  parseAt,
  scheduleTimeZone,
  slotsBetween,
  validateSchedule,
} from '../../src/domain/schedule.ts';
import { UserError } from '../../src/domain/errors.ts';
import type { Schedule } from '../../src/domain/job.ts';

const utc = (expr: string): Schedule => ({ kind: 'cron', expr, tz: 'UTC' });
const iso = (ms: number): string => new Date(ms).toISOString();
const at = (s: string): number => Date.parse(s);
const next = (s: Schedule, from: string, n: number, anchor = 0): string[] =>
  nextFireTimes(s, at(from), n, anchor).map(iso);

/** Asserts validateSchedule refuses `s` with a UserError whose message matches `re`. */
function refuses(s: unknown, re: RegExp): void {
  assert.throws(
    () => validateSchedule(s as Schedule),
    (err: unknown) => {
      assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
      assert.match(err.message, re);
      assert.ok(err.hint && err.hint.length > 0, 'a hint says how to fix it');
      return true;
    },
  );
}

describe('cron expressions', () => {
  test('fire times are strictly after the given instant', () => {
    assert.deepEqual(next(utc('0 3 * * *'), '2026-05-01T03:00:00.000Z', 2), [
      '2026-05-02T03:00:00.000Z',
      '2026-05-03T03:00:00.000Z',
    ]);
    assert.deepEqual(next(utc('* * * * * *'), '2026-05-01T03:00:00.500Z', 2), [
      '2026-05-01T03:00:01.000Z',
      '2026-05-01T03:00:02.000Z',
    ]);
  });

  test('year boundary', () => {
    assert.deepEqual(next(utc('59 23 31 12 *'), '2026-06-01T00:00:00Z', 1), ['2026-12-31T23:59:00.000Z']);
    assert.deepEqual(next(utc('0 0 1 1 *'), '2026-12-31T23:59:59Z', 2), [
      '2027-01-01T00:00:00.000Z',
      '2028-01-01T00:00:00.000Z',
    ]);
    assert.deepEqual(next(utc('*/20 * * * *'), '2026-12-31T23:30:00Z', 3), [
      '2026-12-31T23:40:00.000Z',
      '2027-01-01T00:00:00.000Z',
      '2027-01-01T00:20:00.000Z',
    ]);
  });

  test('Feb 29 fires only in leap years', () => {
    assert.deepEqual(next(utc('0 12 29 2 *'), '2026-01-01T00:00:00Z', 2), [
      '2028-02-29T12:00:00.000Z',
      '2032-02-29T12:00:00.000Z',
    ]);
  });

  test('L: last day of the month, including a leap February; 5L / FRI#L: last Friday', () => {
    assert.deepEqual(next(utc('0 0 L * *'), '2028-01-15T00:00:00Z', 3), [
      '2028-01-31T00:00:00.000Z',
      '2028-02-29T00:00:00.000Z',
      '2028-03-31T00:00:00.000Z',
    ]);
    const lastFridays = ['2026-01-30T00:00:00.000Z', '2026-02-27T00:00:00.000Z'];
    assert.deepEqual(next(utc('0 0 * * 5L'), '2026-01-01T00:00:00Z', 2), lastFridays);
    assert.deepEqual(next(utc('0 0 * * FRI#L'), '2026-01-01T00:00:00Z', 2), lastFridays);
  });

  test('#: the second Monday of the month', () => {
    assert.deepEqual(next(utc('0 9 * * MON#2'), '2026-01-01T00:00:00Z', 3), [
      '2026-01-12T09:00:00.000Z',
      '2026-02-09T09:00:00.000Z',
      '2026-03-09T09:00:00.000Z',
    ]);
  });

  test('W: the weekday nearest the 15th (Sunday 15 Feb 2026 moves to Monday 16th)', () => {
    assert.deepEqual(next(utc('0 0 15W * *'), '2026-02-01T00:00:00Z', 1), ['2026-02-16T00:00:00.000Z']);
  });

  test('6 fields: seconds come first', () => {
    assert.deepEqual(next(utc('30 0 12 * * *'), '2026-05-01T00:00:00Z', 1), ['2026-05-01T12:00:30.000Z']);
    assert.deepEqual(next(utc('*/10 * * * * *'), '2026-05-01T00:00:05Z', 3), [
      '2026-05-01T00:00:10.000Z',
      '2026-05-01T00:00:20.000Z',
      '2026-05-01T00:00:30.000Z',
    ]);
  });

  test('day-of-month and day-of-week both restricted: either matches (Vixie cron)', () => {
    // 1 Jan 2026 is a Thursday: the 1st OR Mondays.
    assert.deepEqual(next(utc('0 0 1 * MON'), '2025-12-31T12:00:00Z', 3), [
      '2026-01-01T00:00:00.000Z',
      '2026-01-05T00:00:00.000Z',
      '2026-01-12T00:00:00.000Z',
    ]);
    // `+` asks for both: the 1st that is a Monday.
    assert.deepEqual(next(utc('0 9 1 * +MON'), '2026-01-01T00:00:00Z', 1), ['2026-06-01T09:00:00.000Z']);
    // Only day-of-week restricted: only Mondays.
    assert.deepEqual(next(utc('0 0 * * 1'), '2025-12-31T12:00:00Z', 1), ['2026-01-05T00:00:00.000Z']);
  });

  test('nicknames', () => {
    const from = '2026-05-15T10:30:00Z';
    assert.deepEqual(next(utc('@yearly'), from, 1), ['2027-01-01T00:00:00.000Z']);
    assert.deepEqual(next(utc('@annually'), from, 1), ['2027-01-01T00:00:00.000Z']);
    assert.deepEqual(next(utc('@monthly'), from, 1), ['2026-06-01T00:00:00.000Z']);
    assert.deepEqual(next(utc('@weekly'), from, 1), ['2026-05-17T00:00:00.000Z']); // Sunday
    assert.deepEqual(next(utc('@daily'), from, 1), ['2026-05-16T00:00:00.000Z']);
    assert.deepEqual(next(utc('@midnight'), from, 1), ['2026-05-16T00:00:00.000Z']);
    assert.deepEqual(next(utc('@hourly'), from, 1), ['2026-05-15T11:00:00.000Z']);
    assert.deepEqual(validateSchedule({ kind: 'cron', expr: ' @DAILY ' }), { kind: 'cron', expr: '@daily' });
  });

  test('UTC (computed without zone lookups) agrees with a zone that is always UTC+0', () => {
    for (const expr of [
      '*/7 * * * *',
      '0 0 L * *',
      '30 2 * * *',
      '15 10 * * MON#2',
      '*/20 * * * * *',
      '@weekly',
    ]) {
      const from = at('2026-01-01T00:00:00Z');
      assert.deepEqual(
        nextFireTimes({ kind: 'cron', expr, tz: 'UTC' }, from, 50, 0),
        nextFireTimes({ kind: 'cron', expr, tz: 'Africa/Abidjan' }, from, 50, 0),
        expr,
      );
    }
  });

  test('tz moves the wall clock: 09:00 in Tokyo is 00:00 UTC', () => {
    assert.deepEqual(next({ kind: 'cron', expr: '0 9 * * *', tz: 'Asia/Tokyo' }, '2026-05-01T01:00:00Z', 1), [
      '2026-05-02T00:00:00.000Z',
    ]);
  });

  test('without tz, cron uses the host zone (TZ of the process)', () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const mod = path.resolve(here, '../../src/domain/schedule.ts');
    const script = `import { nextFireTimes, hostTimeZone } from ${JSON.stringify(mod)};
      const t = nextFireTimes({ kind: 'cron', expr: '30 2 * * *' }, Date.parse('2026-05-01T00:00:00Z'), 1, 0)[0];
      console.log(hostTimeZone() + ' ' + new Date(t).toISOString());`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, TZ: 'Asia/Kolkata' },
      encoding: 'utf8',
      timeout: 60_000,
    }).trim();
    assert.equal(out, 'Asia/Kolkata 2026-05-01T21:00:00.000Z');
  });

  test('whitespace is normalized and the host zone is shown when no tz is set', () => {
    assert.deepEqual(validateSchedule({ kind: 'cron', expr: '  0   3 * *  * ' }), {
      kind: 'cron',
      expr: '0 3 * * *',
    });
    assert.equal(scheduleTimeZone({ kind: 'cron', expr: '0 3 * * *' }), hostTimeZone());
    assert.match(describeSchedule({ kind: 'cron', expr: '0 3 * * *' }), /host zone/);
  });
});

describe('cron errors name the field', () => {
  test('malformed fields', () => {
    refuses(utc('61 * * * *'), /minute field "61"/);
    refuses(utc('0 24 * * *'), /hour field "24"/);
    refuses(utc('0 0 32 * *'), /day-of-month field "32"/);
    refuses(utc('0 0 * 13 *'), /month field "13"/);
    refuses(utc('0 0 * * MOO'), /day-of-week field "MOO"/);
    refuses(utc('0 0 * * 8'), /day-of-week field "8"/);
    refuses(utc('*/0 * * * *'), /minute field "\*\/0"/);
    refuses(utc('75 0 0 * * *'), /second field "75"/);
    refuses(utc('0 0 L-1 * *'), /day-of-month field "L-1"/);
  });

  test('4 or 7 fields, empty, unknown nickname', () => {
    refuses(utc('* * * *'), /4 fields; cron needs 5 or 6/);
    refuses(utc('0 0 0 * * * 2027'), /7 fields; cron needs 5 or 6/);
    refuses(utc('   '), /empty cron expression/);
    refuses(utc('@reboot'), /unknown nickname "@reboot"/);
    refuses({ kind: 'cron' }, /schedule\.expr/);
  });

  test('expressions that can never fire', () => {
    refuses(utc('0 0 30 2 *'), /never fires/);
    refuses(utc('0 0 31 4,6,9,11 *'), /never fires/);
  });

  test('unknown time zones', () => {
    refuses(
      { kind: 'cron', expr: '0 3 * * *', tz: 'Mars/Olympus_Mons' },
      /schedule\.tz: unknown time zone "Mars\/Olympus_Mons"/,
    );
    refuses({ kind: 'at', at: '2027-01-01T00:00', tz: 'Europe/Berlinn' }, /schedule\.tz/);
  });

  test('unknown kind', () => {
    refuses({ kind: 'sometimes' }, /schedule\.kind/);
    refuses(undefined, /^schedule: missing/);
  });
});

describe('every', () => {
  test('grid anchored at the anchor, strictly after the given instant', () => {
    const s: Schedule = { kind: 'every', everyMs: 60_000 };
    const anchor = at('2026-05-01T10:00:10Z');
    assert.deepEqual(nextFireTimes(s, anchor, 3, anchor).map(iso), [
      '2026-05-01T10:01:10.000Z',
      '2026-05-01T10:02:10.000Z',
      '2026-05-01T10:03:10.000Z',
    ]);
    assert.deepEqual(nextFireTimes(s, at('2026-05-01T12:34:56Z'), 1, anchor).map(iso), [
      '2026-05-01T12:35:10.000Z',
    ]);
    assert.deepEqual(nextFireTimes(s, at('2026-05-01T12:35:10Z'), 1, anchor).map(iso), [
      '2026-05-01T12:36:10.000Z',
    ]);
  });

  test("the schedule's own anchorMs wins over the job's creation time; a future anchor is the first fire", () => {
    const s: Schedule = { kind: 'every', everyMs: 86_400_000, anchorMs: at('2027-01-01T09:00:00Z') };
    assert.deepEqual(nextFireTimes(s, at('2026-06-01T00:00:00Z'), 2, at('2026-06-01T00:00:00Z')).map(iso), [
      '2027-01-01T09:00:00.000Z',
      '2027-01-02T09:00:00.000Z',
    ]);
  });

  test('does not drift across DST (real-time spacing)', () => {
    const s: Schedule = { kind: 'every', everyMs: 3_600_000 };
    const fires = nextFireTimes(s, at('2026-03-08T00:00:00Z'), 24, at('2026-03-08T00:00:00Z'));
    for (let i = 1; i < fires.length; i++) assert.equal(fires[i]! - fires[i - 1]!, 3_600_000);
  });

  test('refuses everyMs <= 0, below 1 s, or not a number', () => {
    refuses({ kind: 'every', everyMs: 0 }, /schedule\.everyMs: must be positive/);
    refuses({ kind: 'every', everyMs: -5 }, /schedule\.everyMs: must be positive/);
    refuses({ kind: 'every', everyMs: 10 }, /schedule\.everyMs: too short/);
    refuses({ kind: 'every', everyMs: '5m' }, /schedule\.everyMs: must be a whole number/);
    refuses({ kind: 'every', everyMs: Number.NaN }, /schedule\.everyMs/);
    refuses({ kind: 'every', everyMs: 1000, anchorMs: 'yesterday' }, /schedule\.anchorMs/);
  });
});

describe('at', () => {
  test('with Z, with an offset, and offset-less (UTC)', () => {
    assert.equal(iso(parseAt('2027-03-14T07:00:00Z')), '2027-03-14T07:00:00.000Z');
    assert.equal(iso(parseAt('2027-03-14T09:00:00+02:00')), '2027-03-14T07:00:00.000Z');
    assert.equal(iso(parseAt('2027-03-14T07:00')), '2027-03-14T07:00:00.000Z');
    assert.equal(iso(parseAt('2027-03-14 07:00:30.250')), '2027-03-14T07:00:30.250Z');
    assert.equal(iso(parseAt('2027-03-14')), '2027-03-14T00:00:00.000Z');
  });

  test('offset-less with tz is wall time in that zone', () => {
    assert.equal(iso(parseAt('2027-03-14T09:00', 'Europe/Berlin')), '2027-03-14T08:00:00.000Z');
    assert.equal(iso(parseAt('2027-07-14T09:00', 'Europe/Berlin')), '2027-07-14T07:00:00.000Z');
    assert.equal(iso(parseAt('2027-03-14T09:00', 'Asia/Kolkata')), '2027-03-14T03:30:00.000Z');
  });

  test('a repeated wall time means its first occurrence; a stored skipped one fires after the jump', () => {
    assert.equal(iso(parseAt('2026-11-01T01:30', 'America/New_York')), '2026-11-01T05:30:00.000Z');
    const stored: Schedule = { kind: 'at', at: '2026-03-08T02:30', tz: 'America/New_York' };
    assert.deepEqual(next(stored, '2026-03-01T00:00:00Z', 1), ['2026-03-08T07:00:00.000Z']);
  });

  test('relative times count from now', () => {
    const now = at('2026-05-01T10:00:00Z');
    assert.equal(iso(parseAt('+20m', undefined, now)), '2026-05-01T10:20:00.000Z');
    assert.equal(iso(parseAt('1h30m', undefined, now)), '2026-05-01T11:30:00.000Z');
    assert.deepEqual(validateSchedule({ kind: 'at', at: '+20m' }, now), {
      kind: 'at',
      at: '2026-05-01T10:20:00.000Z',
    });
    assert.throws(() => parseAt('+20m'), /needs the current time/);
  });

  test('fires once, only if after the given instant', () => {
    const s: Schedule = { kind: 'at', at: '2027-03-14T07:00:00Z' };
    assert.deepEqual(next(s, '2027-03-14T06:59:59Z', 5), ['2027-03-14T07:00:00.000Z']);
    assert.deepEqual(next(s, '2027-03-14T07:00:00Z', 5), []);
    assert.equal(nextFireTime(s, at('2027-03-15T00:00:00Z'), 0), undefined);
  });

  test('refuses unreadable times and an offset together with tz', () => {
    refuses({ kind: 'at', at: 'next tuesday' }, /schedule\.at: cannot read "next tuesday"/);
    refuses({ kind: 'at', at: '2027-02-30T10:00' }, /schedule\.at: "2027-02-30T10:00" is not a real date/);
    refuses({ kind: 'at', at: '2027-01-01T25:00' }, /schedule\.at: "2027-01-01T25:00" is not a real date/);
    refuses({ kind: 'at', at: '' }, /schedule\.at: missing/);
    refuses({ kind: 'at', at: '2027-01-01T10:00Z', tz: 'Europe/Berlin' }, /schedule\.at: .*own UTC offset/);
  });
});

describe('slotsBetween (catch-up)', () => {
  test('returns the fire times in (from, to], oldest first, capped', () => {
    const s = utc('0 * * * *');
    const from = at('2026-05-01T10:00:00Z');
    const to = at('2026-05-01T14:00:00Z');
    assert.deepEqual(slotsBetween(s, from, to, 0, 100).map(iso), [
      '2026-05-01T11:00:00.000Z',
      '2026-05-01T12:00:00.000Z',
      '2026-05-01T13:00:00.000Z',
      '2026-05-01T14:00:00.000Z',
    ]);
    assert.equal(slotsBetween(s, from, to, 0, 2).length, 2);
    assert.deepEqual(slotsBetween(s, to, from, 0, 10), []);
  });

  test('agrees with nextFireTimes for every schedule kind (one source of truth)', () => {
    const from = at('2026-03-07T00:00:00Z');
    const to = at('2026-03-10T00:00:00Z');
    const schedules: Schedule[] = [
      { kind: 'cron', expr: '*/7 1-3 * * *', tz: 'America/New_York' },
      { kind: 'cron', expr: '30 2 * * *', tz: 'America/New_York' },
      { kind: 'every', everyMs: 7 * 60_000 + 13_000 },
      { kind: 'at', at: '2026-03-08T12:00:00Z' },
    ];
    for (const s of schedules) {
      const slots = slotsBetween(s, from, to, from - 5000, 10_000);
      const nexts = nextFireTimes(s, from, 10_000, from - 5000).filter((t) => t <= to);
      assert.deepEqual(slots, nexts, JSON.stringify(s));
      assert.ok(slots.length > 0);
    }
  });
});
