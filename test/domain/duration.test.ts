import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../src/domain/duration.ts';
import { UserError } from '../../src/domain/errors.ts';

describe('parseDuration', () => {
  test('single units', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1s'), 1_000);
    assert.equal(parseDuration('90m'), 5_400_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('1w'), 604_800_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
  });

  test('combinations, spaces and case', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1h 30m'), 5_400_000);
    assert.equal(parseDuration(' 2D3H '), 2 * 86_400_000 + 3 * 3_600_000);
    assert.equal(parseDuration('1m500ms'), 60_500);
  });

  test('a bare number is refused with a hint to add a unit', () => {
    assert.throws(
      () => parseDuration('30'),
      (err: unknown) =>
        err instanceof UserError &&
        /has no unit/.test(err.message) &&
        /30s/.test(err.hint ?? '') &&
        /30m/.test(err.hint ?? ''),
    );
  });

  test('garbage is refused, naming where reading stopped', () => {
    assert.throws(() => parseDuration(''), /empty duration/);
    assert.throws(() => parseDuration('5 minutes'), /cannot read duration "5 minutes"/);
    assert.throws(() => parseDuration('1h30'), /cannot read duration "1h30" at "30"/);
    assert.throws(() => parseDuration('-5m'), UserError);
    assert.throws(() => parseDuration('1y'), UserError);
  });
});

describe('formatDuration', () => {
  test('largest units first, weeks only when exact', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(500), '500ms');
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(30 * 86_400_000), '30d');
    assert.equal(formatDuration(14 * 86_400_000), '2w');
    assert.equal(formatDuration(61_500), '1m1s500ms');
  });

  test('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 1_000, 59_999, 3_600_000, 90_061_001, 604_800_000, 2_592_000_000]) {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }
  });
});
