import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyRetention,
  isoWeek,
  parseRetentionDuration,
  type RetentionPolicy,
  type RetentionOptions,
  type RetentionSnapshot,
} from '../../src/domain/retention.ts';
import { UserError } from '../../src/domain/errors.ts';

let seq = 0;
function snap(time: string, extra: Partial<RetentionSnapshot> = {}): RetentionSnapshot {
  seq++;
  return {
    id: `s${String(seq).padStart(3, '0')}`,
    time,
    hostname: 'h1',
    paths: ['/data'],
    tags: [],
    ...extra,
  };
}

/** Runs the policy on one group and returns the kept snapshots' times, newest first. */
function keptTimes(list: RetentionSnapshot[], policy: RetentionPolicy, opts?: RetentionOptions): string[] {
  const { groups } = applyRetention(list, policy, opts);
  assert.equal(groups.length, 1);
  return groups[0]!.keep.map((k) => k.snapshot.time);
}

describe('count rules', () => {
  test('keep-last keeps the newest N whatever the input order', () => {
    const list = [
      snap('2026-11-01T10:00:00Z'),
      snap('2026-11-05T10:00:00Z'),
      snap('2026-11-03T10:00:00Z'),
      snap('2026-11-04T10:00:00Z'),
      snap('2026-11-02T10:00:00Z'),
    ];
    assert.deepEqual(keptTimes(list, { last: 3 }), [
      '2026-11-05T10:00:00Z',
      '2026-11-04T10:00:00Z',
      '2026-11-03T10:00:00Z',
    ]);
    const { groups } = applyRetention(list, { last: 3 });
    assert.deepEqual(
      groups[0]!.remove.map((r) => r.snapshot.time),
      ['2026-11-02T10:00:00Z', '2026-11-01T10:00:00Z'],
    );
    assert.match(groups[0]!.remove[0]!.reason, /last 3 already used/);
  });

  test('daily counts only days that have a snapshot and keeps the newest of each day', () => {
    const list = [
      snap('2026-11-20T10:00:00Z'),
      snap('2026-11-20T08:00:00Z'), // same day, older: not kept
      snap('2026-11-18T23:00:00Z'), // 19th has none: the gap is skipped, not counted
      snap('2026-11-15T01:00:00Z'),
      snap('2026-11-14T12:00:00Z'),
    ];
    assert.deepEqual(keptTimes(list, { daily: 3 }), [
      '2026-11-20T10:00:00Z',
      '2026-11-18T23:00:00Z',
      '2026-11-15T01:00:00Z',
    ]);
    const { groups } = applyRetention(list, { daily: 3 });
    const reasons = Object.fromEntries(groups[0]!.remove.map((r) => [r.snapshot.time, r.reason]));
    assert.match(reasons['2026-11-20T08:00:00Z']!, /daily 2026-11-20 already kept by newer snapshot s/);
    assert.match(reasons['2026-11-14T12:00:00Z']!, /daily 3 already used/);
    assert.deepEqual(groups[0]!.keep[0]!.reasons, ['daily 2026-11-20']);
  });

  test('rules are ORed and counted independently', () => {
    // last 2 takes the two newest (same day); daily 2 takes the newest of each of the two newest days.
    const list = [
      snap('2026-11-20T18:00:00Z'),
      snap('2026-11-20T12:00:00Z'),
      snap('2026-11-20T06:00:00Z'),
      snap('2026-11-19T18:00:00Z'),
      snap('2026-11-19T06:00:00Z'),
    ];
    const { groups } = applyRetention(list, { last: 2, daily: 2 });
    const g = groups[0]!;
    assert.deepEqual(
      g.keep.map((k) => [k.snapshot.time, k.reasons]),
      [
        ['2026-11-20T18:00:00Z', ['last snapshot', 'daily 2026-11-20']],
        ['2026-11-20T12:00:00Z', ['last snapshot']],
        ['2026-11-19T18:00:00Z', ['daily 2026-11-19']],
      ],
    );
    assert.equal(g.remove.length, 2);
  });

  test('hourly buckets are per calendar hour', () => {
    const list = [
      snap('2026-11-20T10:59:00Z'),
      snap('2026-11-20T10:01:00Z'),
      snap('2026-11-20T09:59:00Z'),
      snap('2026-11-20T07:30:00Z'),
    ];
    assert.deepEqual(keptTimes(list, { hourly: 2 }), ['2026-11-20T10:59:00Z', '2026-11-20T09:59:00Z']);
  });

  test('weekly buckets are ISO weeks: Sunday and the next Monday differ', () => {
    const list = [
      snap('2026-01-05T09:00:00Z'), // Monday, 2026-W02
      snap('2026-01-04T09:00:00Z'), // Sunday, 2026-W01
      snap('2026-01-01T09:00:00Z'), // Thursday, 2026-W01
      snap('2025-12-29T09:00:00Z'), // Monday, 2026-W01 (week-year 2026)
      snap('2025-12-28T09:00:00Z'), // Sunday, 2025-W52
    ];
    const { groups } = applyRetention(list, { weekly: 3 });
    assert.deepEqual(
      groups[0]!.keep.map((k) => [k.snapshot.time, k.reasons[0]]),
      [
        ['2026-01-05T09:00:00Z', 'weekly 2026-W02'],
        ['2026-01-04T09:00:00Z', 'weekly 2026-W01'],
        ['2025-12-28T09:00:00Z', 'weekly 2025-W52'],
      ],
    );
  });

  test('ISO week numbers at year boundaries', () => {
    assert.deepEqual(isoWeek(2021, 1, 1), { year: 2020, week: 53 });
    assert.deepEqual(isoWeek(2026, 12, 31), { year: 2026, week: 53 });
    assert.deepEqual(isoWeek(2027, 1, 1), { year: 2026, week: 53 });
    assert.deepEqual(isoWeek(2027, 1, 4), { year: 2027, week: 1 });
    assert.deepEqual(isoWeek(2024, 12, 30), { year: 2025, week: 1 });
  });

  test('a grandfather-father-son policy over a year of daily backups', () => {
    const list: RetentionSnapshot[] = [];
    // Daily at 03:00 UTC from 2025-06-01 to 2026-11-20 inclusive.
    for (let t = Date.UTC(2025, 5, 1, 3); t <= Date.UTC(2026, 10, 20, 3); t += 86_400_000)
      list.push(snap(new Date(t).toISOString()));
    const { groups } = applyRetention(list, { daily: 7, weekly: 4, monthly: 6, yearly: 2 });
    const kept = groups[0]!.keep.map((k) => k.snapshot.time.slice(0, 10));
    assert.deepEqual(kept, [
      // 7 newest days; the first of them (Friday 11-20) is also the newest of its week, month and year.
      '2026-11-20',
      '2026-11-19',
      '2026-11-18',
      '2026-11-17',
      '2026-11-16',
      '2026-11-15', // Sunday: last day of W46, also weekly
      '2026-11-14',
      '2026-11-08', // Sunday of W45
      '2026-11-01', // Sunday of W44
      '2026-10-31', // end of October
      '2026-09-30',
      '2026-08-31',
      '2026-07-31',
      '2026-06-30',
      '2025-12-31', // the newest of 2025
    ]);
    const first = groups[0]!.keep[0]!;
    assert.deepEqual(first.reasons, [
      'daily 2026-11-20',
      'weekly 2026-W47',
      'monthly 2026-11',
      'yearly 2026',
    ]);
    assert.equal(groups[0]!.remove.length, list.length - kept.length);
  });

  test('unlimited keeps every bucket', () => {
    const list = [
      snap('2026-11-20T10:00:00Z'),
      snap('2026-11-20T08:00:00Z'),
      snap('2026-10-01T10:00:00Z'),
      snap('2020-01-01T10:00:00Z'),
    ];
    assert.deepEqual(keptTimes(list, { daily: Infinity }), [
      '2026-11-20T10:00:00Z',
      '2026-10-01T10:00:00Z',
      '2020-01-01T10:00:00Z',
    ]);
  });
  test('the worked example of docs/backup.md', () => {
    const list = [snap('2026-11-20T15:00:00Z'), snap('2026-11-20T10:00:00Z')];
    for (const day of [20, 19, 18, 17, 16, 15, 14, 9, 8, 7])
      list.push(snap(`2026-11-${String(day).padStart(2, '0')}T03:00:00Z`));
    const { groups } = applyRetention(list, { daily: 3, last: 2 });
    const g = groups[0]!;
    assert.deepEqual(
      g.keep.map((k) => [k.snapshot.time, k.reasons.join(', ')]),
      [
        ['2026-11-20T15:00:00Z', 'last snapshot, daily 2026-11-20'],
        ['2026-11-20T10:00:00Z', 'last snapshot'],
        ['2026-11-19T03:00:00Z', 'daily 2026-11-19'],
        ['2026-11-18T03:00:00Z', 'daily 2026-11-18'],
      ],
    );
    assert.equal(g.remove.length, 8);
    assert.match(
      g.remove[0]!.reason,
      /^last 2 already used; daily 2026-11-20 already kept by newer snapshot s\d+$/,
    );
    assert.equal(g.remove[1]!.reason, 'last 2 already used; daily 3 already used');
  });
});

describe('within', () => {
  test('is measured from the newest snapshot of the group, not from now', () => {
    // The host stopped backing up long ago; its history is still kept around its last snapshot.
    const list = [
      snap('2020-03-10T12:00:00Z'),
      snap('2020-03-05T12:00:00Z'),
      snap('2020-03-03T12:00:01Z'),
      snap('2020-03-03T12:00:00Z'), // exactly 7 days older than the newest: not within (strictly after)
      snap('2020-02-01T12:00:00Z'),
    ];
    const { groups } = applyRetention(list, { within: parseRetentionDuration('7d') });
    assert.deepEqual(
      groups[0]!.keep.map((k) => k.snapshot.time),
      ['2020-03-10T12:00:00Z', '2020-03-05T12:00:00Z', '2020-03-03T12:00:01Z'],
    );
    assert.deepEqual(groups[0]!.keep[0]!.reasons, ['within 7d']);
    assert.match(groups[0]!.remove[0]!.reason, /older than 7d before the newest snapshot/);
  });

  test('milliseconds work as a plain span', () => {
    const list = [snap('2026-11-20T12:00:00Z'), snap('2026-11-20T11:00:00Z'), snap('2026-11-20T09:00:00Z')];
    assert.deepEqual(keptTimes(list, { within: 2 * 3_600_000 + 1 }), [
      '2026-11-20T12:00:00Z',
      '2026-11-20T11:00:00Z',
    ]);
  });

  test('months step back on the calendar, overflowing like restic (Mar 31 - 1m = Mar 3)', () => {
    const list = [
      snap('2026-03-31T00:00:00Z'),
      snap('2026-03-03T00:00:01Z'),
      snap('2026-03-03T00:00:00Z'),
      snap('2026-02-28T00:00:00Z'),
    ];
    assert.deepEqual(keptTimes(list, { within: parseRetentionDuration('1m') }), [
      '2026-03-31T00:00:00Z',
      '2026-03-03T00:00:01Z',
    ]);
  });

  test('within-daily keeps the newest snapshot of each day inside the span', () => {
    const list = [
      snap('2026-11-20T18:00:00Z'),
      snap('2026-11-20T06:00:00Z'),
      snap('2026-11-19T18:00:00Z'),
      snap('2026-11-18T18:00:00Z'),
      snap('2026-11-10T18:00:00Z'), // outside 3d
    ];
    const { groups } = applyRetention(list, { withinDaily: parseRetentionDuration('3d') });
    assert.deepEqual(
      groups[0]!.keep.map((k) => [k.snapshot.time, k.reasons]),
      [
        ['2026-11-20T18:00:00Z', ['daily 2026-11-20 within 3d']],
        ['2026-11-19T18:00:00Z', ['daily 2026-11-19 within 3d']],
        ['2026-11-18T18:00:00Z', ['daily 2026-11-18 within 3d']],
      ],
    );
  });

  test('duration syntax', () => {
    assert.deepEqual(parseRetentionDuration('1y6m2w3d4h'), { years: 1, months: 6, days: 17, hours: 4 });
    assert.deepEqual(parseRetentionDuration('36h'), { years: 0, months: 0, days: 0, hours: 36 });
    for (const bad of ['', '7', '7x', 'd7', '1.5d', '-3d', '7d ago'])
      assert.throws(() => parseRetentionDuration(bad), UserError, bad);
  });
});

describe('tags and groups', () => {
  test('keep-tag keeps every tagged snapshot without counting; a comma set needs all its tags', () => {
    const list = [
      snap('2026-11-20T10:00:00Z'),
      snap('2026-11-19T10:00:00Z', { tags: ['release'] }),
      snap('2026-11-18T10:00:00Z', { tags: ['manual'] }),
      snap('2026-11-17T10:00:00Z', { tags: ['manual', 'db'] }),
      snap('2026-11-16T10:00:00Z', { tags: ['release', 'old'] }),
    ];
    const { groups } = applyRetention(list, { last: 1, keepTags: ['release', 'manual,db'] });
    assert.deepEqual(
      groups[0]!.keep.map((k) => [k.snapshot.time, k.reasons]),
      [
        ['2026-11-20T10:00:00Z', ['last snapshot']],
        ['2026-11-19T10:00:00Z', ['has tag release']],
        ['2026-11-17T10:00:00Z', ['has tags manual,db']],
        ['2026-11-16T10:00:00Z', ['has tag release']],
      ],
    );
    assert.deepEqual(
      groups[0]!.remove.map((r) => r.snapshot.time),
      ['2026-11-18T10:00:00Z'],
    );
  });

  test('default grouping is by host and paths (path order does not matter), each group judged alone', () => {
    const list = [
      snap('2026-11-20T10:00:00Z', { hostname: 'a', paths: ['/x', '/y'] }),
      snap('2026-11-19T10:00:00Z', { hostname: 'a', paths: ['/y', '/x'] }),
      snap('2026-11-18T10:00:00Z', { hostname: 'b', paths: ['/x', '/y'] }),
      snap('2026-11-17T10:00:00Z', { hostname: 'a', paths: ['/z'] }),
    ];
    const { groups } = applyRetention(list, { last: 1 });
    assert.deepEqual(
      groups.map((g) => [g.key, g.keep.length, g.remove.length]),
      [
        ['host a, paths [/x, /y]', 1, 1],
        ['host a, paths [/z]', 1, 0],
        ['host b, paths [/x, /y]', 1, 0],
      ],
    );
  });

  test('group by tags, and an empty group-by judges everything together', () => {
    const list = [
      snap('2026-11-20T10:00:00Z', { tags: ['b', 'a'], hostname: 'x' }),
      snap('2026-11-19T10:00:00Z', { tags: ['a', 'b'], hostname: 'y' }),
      snap('2026-11-18T10:00:00Z', { tags: [], hostname: 'x' }),
    ];
    const byTags = applyRetention(list, { last: 1 }, { groupBy: ['tags'] }).groups;
    assert.deepEqual(
      byTags.map((g) => [g.key, g.keep.length, g.remove.length]),
      [
        ['tags []', 1, 0],
        ['tags [a, b]', 1, 1],
      ],
    );
    const all = applyRetention(list, { last: 1 }, { groupBy: [] }).groups;
    assert.equal(all.length, 1);
    assert.equal(all[0]!.keep.length, 1);
    assert.equal(all[0]!.remove.length, 2);
  });
});

describe('time zones and bad policies', () => {
  test('days follow the given time zone', () => {
    // 22:30 and 23:30 UTC on the 20th are the 20th and the 21st in Berlin (UTC+1 in November).
    const list = [snap('2026-11-20T23:30:00Z'), snap('2026-11-20T22:30:00Z')];
    assert.equal(keptTimes(list, { daily: 5 }).length, 1);
    assert.equal(keptTimes(list, { daily: 5 }, { timeZone: 'Europe/Berlin' }).length, 2);
    assert.throws(
      () => applyRetention(list, { daily: 1 }, { timeZone: 'Mars/Olympus' }),
      /unknown time zone/,
    );
  });

  test('an empty policy is refused instead of removing everything', () => {
    const list = [snap('2026-11-20T10:00:00Z')];
    assert.throws(
      () => applyRetention(list, {}),
      (err: unknown) =>
        err instanceof UserError &&
        /no retention rule/.test(err.message) &&
        /--keep-last/.test(err.hint ?? ''),
    );
    assert.throws(() => applyRetention(list, { last: 0, daily: 0, keepTags: [] }), /no retention rule/);
  });

  test('negative or fractional counts are refused, naming the rule', () => {
    const list = [snap('2026-11-20T10:00:00Z')];
    assert.throws(() => applyRetention(list, { daily: -1 }), /keep-daily must be a whole number/);
    assert.throws(() => applyRetention(list, { last: 1.5 }), /keep-last must be a whole number/);
    assert.throws(() => applyRetention(list, { within: -5 }), /keep-within must be a span/);
    assert.throws(() => applyRetention(list, { keepTags: [' , '] }), /keep-tag needs a tag/);
  });

  test('equal times are ordered by id, so the result does not depend on input order', () => {
    const a = { id: 'aaa', time: '2026-11-20T10:00:00Z', hostname: 'h', paths: ['/'], tags: [] };
    const b = { id: 'bbb', time: '2026-11-20T10:00:00Z', hostname: 'h', paths: ['/'], tags: [] };
    for (const list of [
      [a, b],
      [b, a],
    ]) {
      const { groups } = applyRetention(list, { last: 1 });
      assert.equal(groups[0]!.keep[0]!.snapshot.id, 'aaa');
    }
  });
});
