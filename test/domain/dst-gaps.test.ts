import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dstGaps } from '../../src/domain/dst-gaps.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

test('Europe/Berlin skips 02:00-03:00 on the last Sunday of March, and nothing in autumn', () => {
  const gaps = dstGaps('Europe/Berlin', Date.UTC(2027, 0, 1), Date.UTC(2027, 11, 31));
  assert.equal(gaps.length, 1);
  assert.equal(iso(gaps[0]!.atMs), '2027-03-28T01:00:00.000Z');
  assert.equal(iso(gaps[0]!.wallStartMs), '2027-03-28T02:00:00.000Z');
  assert.equal(gaps[0]!.lengthMs, 3_600_000);
});

test('Australia/Lord_Howe springs forward by 30 minutes (02:00-02:30 local, first Sunday of October)', () => {
  const gaps = dstGaps('Australia/Lord_Howe', Date.UTC(2027, 0, 1), Date.UTC(2027, 11, 31));
  assert.equal(gaps.length, 1);
  assert.equal(iso(gaps[0]!.wallStartMs), '2027-10-03T02:00:00.000Z');
  assert.equal(gaps[0]!.lengthMs, 30 * 60_000);
});

test('a zone without daylight saving time has no gaps', () => {
  assert.deepEqual(dstGaps('Asia/Tokyo', Date.UTC(2027, 0, 1), Date.UTC(2027, 11, 31)), []);
  assert.deepEqual(dstGaps('UTC', Date.UTC(2027, 0, 1), Date.UTC(2027, 11, 31)), []);
});
