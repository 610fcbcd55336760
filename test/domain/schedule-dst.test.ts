import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { nextFireTimes, slotsBetween } from '../../src/domain/schedule.ts';
import type { Schedule } from '../../src/domain/job.ts';

const HOUR = 3_600_000;
const MIN = 60_000;

function cron(expr: string, tz: string): Schedule {
  return { kind: 'cron', expr, tz };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Local calendar date (YYYY-MM-DD) of an instant in a zone. */
function localDate(ms: number, tz: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(ms);
}

/** Local wall time (HH:MM) of an instant in a zone. */
function localTime(ms: number, tz: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: tz,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(ms);
}

/** Fires of `s` whose local date is `day`, searching from two days before. */
function firesOnLocalDay(s: Schedule, tz: string, day: string): number[] {
  const from = Date.parse(day + 'T00:00:00Z') - 2 * 24 * HOUR;
  return nextFireTimes(s, from, 200, 0).filter((t) => localDate(t, tz) === day);
}

interface ZoneCase {
  tz: string;
  /** Local day of the spring-forward jump, a fixed-time expression inside the skipped span, and where it must fire. */
  spring: { day: string; expr: string; expectUtc: string; expectLocal: string; normalLocal: string };
  /** Local day of the fall-back, a fixed-time expression inside the repeated span, and its single fire. */
  fall: { day: string; expr: string; expectUtc: string };
  /** An instant shortly before each transition. */
  springInstant: string;
  fallInstant: string;
}

const ZONES: ZoneCase[] = [
  {
    tz: 'America/New_York',
    spring: {
      day: '2026-03-08',
      expr: '30 2 * * *',
      expectUtc: '2026-03-08T07:00:00.000Z',
      expectLocal: '03:00',
      normalLocal: '02:30',
    },
    fall: { day: '2026-11-01', expr: '30 1 * * *', expectUtc: '2026-11-01T05:30:00.000Z' },
    springInstant: '2026-03-08T07:00:00Z',
    fallInstant: '2026-11-01T06:00:00Z',
  },
  {
    tz: 'Europe/Berlin',
    spring: {
      day: '2026-03-29',
      expr: '30 2 * * *',
      expectUtc: '2026-03-29T01:00:00.000Z',
      expectLocal: '03:00',
      normalLocal: '02:30',
    },
    fall: { day: '2026-10-25', expr: '30 2 * * *', expectUtc: '2026-10-25T00:30:00.000Z' },
    springInstant: '2026-03-29T01:00:00Z',
    fallInstant: '2026-10-25T01:00:00Z',
  },
  {
    tz: 'Europe/London',
    spring: {
      day: '2026-03-29',
      expr: '30 1 * * *',
      expectUtc: '2026-03-29T01:00:00.000Z',
      expectLocal: '02:00',
      normalLocal: '01:30',
    },
    fall: { day: '2026-10-25', expr: '30 1 * * *', expectUtc: '2026-10-25T00:30:00.000Z' },
    springInstant: '2026-03-29T01:00:00Z',
    fallInstant: '2026-10-25T01:00:00Z',
  },
  {
    // 30-minute shift: 02:00 jumps to 02:30 in October; 02:00 falls back to 01:30 in April.
    tz: 'Australia/Lord_Howe',
    spring: {
      day: '2026-10-04',
      expr: '15 2 * * *',
      expectUtc: '2026-10-03T15:30:00.000Z',
      expectLocal: '02:30',
      normalLocal: '02:15',
    },
    fall: { day: '2026-04-05', expr: '45 1 * * *', expectUtc: '2026-04-04T14:45:00.000Z' },
    springInstant: '2026-10-03T15:30:00Z',
    fallInstant: '2026-04-04T15:00:00Z',
  },
  {
    // Southern hemisphere: spring forward in September, fall back in April.
    tz: 'Pacific/Auckland',
    spring: {
      day: '2026-09-27',
      expr: '30 2 * * *',
      expectUtc: '2026-09-26T14:00:00.000Z',
      expectLocal: '03:00',
      normalLocal: '02:30',
    },
    fall: { day: '2026-04-05', expr: '30 2 * * *', expectUtc: '2026-04-04T13:30:00.000Z' },
    springInstant: '2026-09-26T14:00:00Z',
    fallInstant: '2026-04-04T14:00:00Z',
  },
];

describe('cron DST: fixed-time jobs (Vixie cron rules)', () => {
  for (const z of ZONES) {
    test(`${z.tz}: "${z.spring.expr}" in the skipped span fires once, at ${z.spring.expectLocal} local, on ${z.spring.day}`, () => {
      const s = cron(z.spring.expr, z.tz);
      const fires = firesOnLocalDay(s, z.tz, z.spring.day);
      assert.deepEqual(fires.map(iso), [z.spring.expectUtc]);
      assert.equal(localTime(fires[0]!, z.tz), z.spring.expectLocal);
      // The next day it is back at its written time.
      const next = nextFireTimes(s, fires[0]!, 1, 0)[0]!;
      assert.equal(localTime(next, z.tz), z.spring.normalLocal);
      assert.ok(next - fires[0]! > 20 * HOUR && next - fires[0]! < 25 * HOUR);
    });

    test(`${z.tz}: "${z.fall.expr}" in the repeated span fires once (first pass) on ${z.fall.day}`, () => {
      const s = cron(z.fall.expr, z.tz);
      assert.deepEqual(firesOnLocalDay(s, z.tz, z.fall.day).map(iso), [z.fall.expectUtc]);
      // Asking again from the first fire (as the engine does after firing) skips the second pass.
      const after = nextFireTimes(s, Date.parse(z.fall.expectUtc), 1, 0)[0]!;
      assert.notEqual(localDate(after, z.tz), z.fall.day);
    });

    test(`${z.tz}: "*/15 * * * *" keeps 15-minute real-time spacing across both transitions`, () => {
      for (const at of [z.springInstant, z.fallInstant]) {
        const from = Date.parse(at) - 3 * HOUR;
        const fires = slotsBetween(cron('*/15 * * * *', z.tz), from, from + 6 * HOUR, 0, 100);
        assert.equal(fires.length, 24, `${at}: 6 real hours hold 24 quarter hours`);
        for (let i = 1; i < fires.length; i++)
          assert.equal(fires[i]! - fires[i - 1]!, 15 * MIN, `${at}: gap at ${iso(fires[i]!)}`);
      }
    });
  }

  test('Asia/Kolkata (no DST): "30 2 * * *" fires every 24 hours for a whole year at 21:00 UTC', () => {
    const s = cron('30 2 * * *', 'Asia/Kolkata');
    const fires = nextFireTimes(s, Date.parse('2026-01-01T00:00:00Z'), 365, 0);
    assert.equal(iso(fires[0]!), '2026-01-01T21:00:00.000Z');
    for (let i = 1; i < fires.length; i++) assert.equal(fires[i]! - fires[i - 1]!, 24 * HOUR);
  });

  test('a list of fixed hours ("30 2,14 * * *") is a fixed-time job: the 02:30 fire moves to 03:00', () => {
    const fires = firesOnLocalDay(
      cron('30 2,14 * * *', 'America/New_York'),
      'America/New_York',
      '2026-03-08',
    );
    assert.deepEqual(fires.map(iso), ['2026-03-08T07:00:00.000Z', '2026-03-08T18:30:00.000Z']);
  });
});

describe('cron DST: "0 */2 * * *" (step in the hour field: an interval job)', () => {
  test('Europe/Berlin spring: 02:00 does not exist and is skipped (00:00 CET, then 04:00 CEST)', () => {
    const fires = nextFireTimes(
      cron('0 */2 * * *', 'Europe/Berlin'),
      Date.parse('2026-03-28T22:30:00Z'),
      3,
      0,
    );
    assert.deepEqual(fires.map(iso), [
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T02:00:00.000Z',
      '2026-03-29T04:00:00.000Z',
    ]);
  });

  test('Europe/Berlin fall: 02:00 happens twice and fires in both passes, an hour apart', () => {
    const fires = nextFireTimes(
      cron('0 */2 * * *', 'Europe/Berlin'),
      Date.parse('2026-10-24T21:30:00Z'),
      4,
      0,
    );
    assert.deepEqual(fires.map(iso), [
      '2026-10-24T22:00:00.000Z', // 00:00 CEST
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET (second pass)
      '2026-10-25T03:00:00.000Z', // 04:00 CET
    ]);
  });

  test('America/New_York: spring skips 02:00; fall fires 02:00 once (02:00 EDT never occurs)', () => {
    const s = cron('0 */2 * * *', 'America/New_York');
    assert.deepEqual(nextFireTimes(s, Date.parse('2026-03-08T04:30:00Z'), 2, 0).map(iso), [
      '2026-03-08T05:00:00.000Z',
      '2026-03-08T08:00:00.000Z',
    ]);
    assert.deepEqual(nextFireTimes(s, Date.parse('2026-11-01T03:30:00Z'), 2, 0).map(iso), [
      '2026-11-01T04:00:00.000Z',
      '2026-11-01T07:00:00.000Z',
    ]);
  });
});
