/**
 * Cases from the peers' published tests, written here as data: cronsim's Debian/Vixie cron tests
 * (cuu508/cronsim tests/test_cronsim.py), croner's pattern tests and OpenClaw's one-shot `--at`
 * rules. Each case names its source, so a disagreement points at who nightshift disagrees with.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { describeCronDays, nextFireTimes, parseAt, validateSchedule } from '../../src/domain/schedule.ts';
import { UserError } from '../../src/domain/errors.ts';
import type { Schedule } from '../../src/domain/job.ts';

const utc = (expr: string): Schedule => ({ kind: 'cron', expr, tz: 'UTC' });
const days = (s: Schedule, from: string, n: number): string[] =>
  nextFireTimes(validateSchedule(s), Date.parse(from), n, 0).map((t) =>
    new Date(t).toISOString().slice(0, 16),
  );

function refusal(s: Schedule): UserError {
  try {
    validateSchedule(s);
  } catch (err) {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    return err;
  }
  assert.fail(`${JSON.stringify(s)} was accepted`);
}

describe('day fields: the Vixie star rule', () => {
  const cases: { source: string; expr: string; from: string; fires: string[]; words: RegExp }[] = [
    {
      source: 'cronsim test_it_handles_dow_star (first Sunday of the month)',
      expr: '1 1 1-7 * */7',
      from: '2020-01-01T00:00Z',
      fires: ['2020-01-05T01:01', '2020-02-02T01:01', '2020-03-01T01:01', '2020-04-05T01:01'],
      words: /day-of-month 1-7 AND Sunday/,
    },
    {
      source: 'cronsim test_it_handles_dom_star (first Monday of the month, */100 selects day 1)',
      expr: '1 1 */100,1-7 * MON',
      from: '2020-01-01T00:00Z',
      fires: ['2020-01-06T01:01', '2020-02-03T01:01', '2020-03-02T01:01', '2020-04-06T01:01'],
      words: /AND Monday/,
    },
    {
      source: 'Vixie cron: */2 in day-of-month with MON fires on Mondays that fall on odd days',
      expr: '1 1 */2 * MON',
      from: '2020-01-01T00:00Z',
      fires: ['2020-01-13T01:01', '2020-01-27T01:01', '2020-02-03T01:01', '2020-02-17T01:01'],
      words: /day-of-month \*\/2 AND Monday \(both day fields must match\)/,
    },
    {
      source: 'Vixie cron: two restricted day fields are ORed (the 1st, and every Monday)',
      expr: '0 9 1 * MON',
      from: '2020-01-01T00:00Z',
      fires: ['2020-01-01T09:00', '2020-01-06T09:00', '2020-01-13T09:00', '2020-01-20T09:00'],
      words: /day-of-month 1 OR Monday \(either day field may match\)/,
    },
    {
      source: 'croner legacyMode off: + before the day of week ANDs explicitly',
      expr: '0 9 1 * +MON',
      from: '2020-01-01T00:00Z',
      fires: ['2020-06-01T09:00', '2021-02-01T09:00'],
      words: /day-of-month 1 AND Monday/,
    },
    {
      source: 'cronsim test_it_starts_weekday_step_from_zero (*/2 = Sun, Tue, Thu, Sat)',
      expr: '0 0 * * */2',
      from: '2020-01-01T00:00Z',
      fires: ['2020-01-02T00:00', '2020-01-04T00:00', '2020-01-05T00:00', '2020-01-07T00:00'],
      words: /^on Tuesday or Thursday or Saturday or Sunday$/,
    },
    {
      source: 'cronsim test_it_handles_last_friday (5L)',
      expr: '1 1 * * 5L',
      from: '2020-01-01T00:00Z',
      fires: ['2020-01-31T01:01', '2020-02-28T01:01', '2020-03-27T01:01'],
      words: /the last Friday of the month/,
    },
    {
      source: 'cronsim test_it_handles_nth_weekday (1#2)',
      expr: '1 1 * * 1#2',
      from: '2020-01-01T00:00Z',
      fires: ['2020-01-13T01:01'],
      words: /the 2nd Monday of the month/,
    },
    {
      source: 'cronsim test_it_handles_last_sunday_two_notations (7L)',
      expr: '1 1 * * 7L',
      from: '2020-01-01T00:00Z',
      fires: ['2020-01-26T01:01'],
      words: /the last Sunday/,
    },
  ];
  for (const c of cases) {
    test(c.source, () => {
      assert.deepEqual(days(utc(c.expr), c.from, c.fires.length), c.fires);
      assert.match(describeCronDays(utc(c.expr))!, c.words);
    });
  }

  test('no day restriction reads "every day"; Monday to Friday reads as a range', () => {
    assert.equal(describeCronDays(utc('30 2 * * *')), 'every day');
    assert.equal(describeCronDays(utc('0 9 * * MON-FRI')), 'on Monday to Friday');
    assert.equal(describeCronDays(utc('@monthly')), 'on day-of-month 1');
    assert.equal(describeCronDays({ kind: 'every', everyMs: 60_000 }), undefined);
  });
});

describe('steps larger than the range select the first value (Vixie, cronsim)', () => {
  const cases: { source: string; expr: string; fires: string[] }[] = [
    {
      source: 'cronsim: */100 in day-of-month is day 1',
      expr: '0 0 */100 * *',
      fires: ['2020-02-01T00:00', '2020-03-01T00:00'],
    },
    {
      source: 'Vixie: */90 in minute is minute 0',
      expr: '*/90 3 * * *',
      fires: ['2020-01-01T03:00', '2020-01-02T03:00'],
    },
    {
      source: 'Vixie: 10-20/50 in hour is hour 10',
      expr: '0 10-20/50 * * *',
      fires: ['2020-01-01T10:00', '2020-01-02T10:00'],
    },
    {
      source: 'cronsim test_it_parses_start_with_step: 5/15 is 5,20,35,50',
      expr: '5/15 0 * * *',
      fires: ['2020-01-01T00:05', '2020-01-01T00:20', '2020-01-01T00:35', '2020-01-01T00:50'],
    },
  ];
  for (const c of cases) {
    test(c.source, () => {
      assert.deepEqual(
        days(utc(c.expr), '2020-01-01T00:00Z', c.fires.length).slice(0, c.fires.length),
        c.fires,
      );
    });
  }
});

describe('refusals name the field, the value and what is allowed (cronsim TestValidation)', () => {
  const cases: { source: string; expr: string; message: RegExp; hint: RegExp }[] = [
    {
      source: 'cronsim test_it_handles_no_matches: */100 AND MON#4 never fires',
      expr: '1 1 */100 * MON#4',
      message: /never fires: no date falls on day-of-month \*\/100 AND the 4th Monday/,
      hint: /both must match/,
    },
    {
      source: 'cronsim test_it_checks_day_of_month_range: Feb 30',
      expr: '* * 30 2 *',
      message: /never fires: no date falls on day-of-month 30 in month 2/,
      hint: /February has no 30th/,
    },
    {
      source: 'cronsim test_it_checks_day_of_month_range: Apr 31',
      expr: '* * 31 4 *',
      message: /never fires/,
      hint: /February/,
    },
    {
      source: 'cronsim test_it_rejects_lopsided_range',
      expr: '* * 5-1 * *',
      message: /day-of-month field "5-1": range 5-1 runs backwards/,
      hint: /day-of-month accepts 1-31/,
    },
    {
      source: 'cronsim test_it_rejects_underscores',
      expr: '1-1_0 * * * *',
      message: /minute field "1-1_0": "1_0" is not a number/,
      hint: /minute accepts 0-59/,
    },
    {
      source: 'cronsim test_it_rejects_zero_step',
      expr: '*/0 * * * *',
      message: /minute field "\*\/0": step 0/,
      hint: /minute accepts/,
    },
    {
      source: 'cronsim test_it_rejects_zero_nth',
      expr: '* * * * 1#0',
      message: /day-of-week field "1#0": "#0" is not a week of the month/,
      hint: /MON#2/,
    },
    {
      source: 'cronsim test_it_rejects_big_nth',
      expr: '* * * * 1#6',
      message: /day-of-week field "1#6"/,
      hint: /day-of-week accepts/,
    },
    {
      source: 'cronsim test_it_rejects_dow_l_range',
      expr: '* * * * 5L-6',
      message: /day-of-week field "5L-6"/,
      hint: /5L/,
    },
    {
      source: 'cronsim test_it_rejects_dow_l_hash',
      expr: '* * * * 5L#1',
      message: /day-of-week field "5L#1"/,
      hint: /5L/,
    },
    {
      source: 'cronsim test_it_rejects_dow_l_slash',
      expr: '* * * * 5L/3',
      message: /day-of-week field "5L\/3"/,
      hint: /5L/,
    },
    {
      source: 'cronsim test_it_rejects_symbolic_dow_l',
      expr: '* * * * MONL',
      message: /day-of-week field "MONL"/,
      hint: /SUN-SAT/,
    },
    {
      source: 'croner: L takes no step',
      expr: '0 0 L/2 * *',
      message: /day-of-month field "L\/2": .*L stands alone/,
      hint: /L \(last day\)/,
    },
  ];
  for (const c of cases) {
    test(c.source, () => {
      const err = refusal(utc(c.expr));
      assert.match(err.message, c.message);
      assert.match(err.hint ?? '', c.hint);
      assert.doesNotMatch(err.message, /Syntax error|CronPattern|illegal/, "no parsing library's text");
    });
  }

  test('cronsim test_it_rejects_bad_values: every bad value in every position is refused naming its field', () => {
    const patterns: [string, string][] = [
      ['%s * * * *', 'minute'],
      ['* %s * * *', 'hour'],
      ['* * %s * *', 'day-of-month'],
      ['* * * %s *', 'month'],
      ['* * * * %s', 'day-of-week'],
      ['1-%s * * * *', 'minute'],
      ['%s-59 * * * *', 'minute'],
      ['* * * %s-DEC *', 'month'],
      ['* * * JAN-%s *', 'month'],
      ['* * * * %s-SUN', 'day-of-week'],
      ['* * * * MON-%s', 'day-of-week'],
    ];
    const bad = ['-1', '61', 'ABC', '2/', '/2', '2#', '#2', '1##1', '1//2', '¹'];
    for (const [pattern, field] of patterns) {
      for (const value of bad) {
        const expr = pattern.replace('%s', value);
        const err = refusal(utc(expr));
        assert.match(err.message, new RegExp(`schedule\\.expr: ${field} field "`), expr);
        assert.match(err.hint ?? '', new RegExp(`^${field} accepts `), expr);
        assert.doesNotMatch(err.message, /Syntax error|CronPattern/, expr);
      }
    }
  });
});

describe('--at (OpenClaw one-shot rules)', () => {
  test('OpenClaw --at: a wall time in a spring-forward gap is refused, naming the gap and both neighbours', () => {
    const cases: { at: string; tz: string; gap: string; before: string; after: string }[] = [
      {
        at: '2026-03-08T02:30',
        tz: 'America/New_York',
        gap: 'from 2026-03-08T02:00 to 2026-03-08T03:00 (-05:00 to -04:00)',
        before: '2026-03-08T01:59 (-05:00)',
        after: '2026-03-08T03:00 (-04:00)',
      },
      {
        // Samoa skipped the whole of 30 December 2011.
        at: '2011-12-30T12:00',
        tz: 'Pacific/Apia',
        gap: 'from 2011-12-30T00:00 to 2011-12-31T00:00 (-10:00 to +14:00)',
        before: '2011-12-29T23:59 (-10:00)',
        after: '2011-12-31T00:00 (+14:00)',
      },
      {
        // Lord Howe moves its clocks by 30 minutes.
        at: '2026-10-04T02:15',
        tz: 'Australia/Lord_Howe',
        gap: 'from 2026-10-04T02:00 to 2026-10-04T02:30 (+10:30 to +11:00)',
        before: '2026-10-04T01:59 (+10:30)',
        after: '2026-10-04T02:30 (+11:00)',
      },
    ];
    for (const c of cases) {
      const err = refusal({ kind: 'at', at: c.at, tz: c.tz });
      assert.match(err.message, new RegExp(`${c.at} does not exist in ${c.tz}`));
      assert.ok(err.message.includes(c.gap), err.message);
      assert.ok(err.hint?.includes(c.before) && err.hint.includes(c.after), err.hint);
    }
  });

  test('OpenClaw --at: 24:00 is the end of the day (ISO 8601) and a lowercase t separates date and time', () => {
    const iso = (a: string, tz?: string): string => new Date(parseAt(a, tz)).toISOString();
    assert.equal(iso('2027-03-14T24:00'), '2027-03-15T00:00:00.000Z');
    assert.equal(iso('2027-03-14T24:00:00', 'Europe/Berlin'), '2027-03-14T23:00:00.000Z');
    assert.equal(iso('2027-12-31T24:00Z'), '2028-01-01T00:00:00.000Z');
    assert.equal(iso('2027-03-14t09:00', 'Europe/Berlin'), '2027-03-14T08:00:00.000Z');
    assert.equal(iso('2027-03-14t09:00:00z'), '2027-03-14T09:00:00.000Z');
    assert.match(refusal({ kind: 'at', at: '2027-03-14T24:01' }).message, /not a real date and time/);
    assert.match(refusal({ kind: 'at', at: '2027-03-14T24:00:01' }).message, /not a real date and time/);
  });
});
