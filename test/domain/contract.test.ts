import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { describeContract, formatInZone } from '../../src/domain/contract.ts';
import { buildJob } from '../../src/domain/job-validation.ts';
import type { JobInput } from '../../src/domain/job-validation.ts';
import { nextFireTimes } from '../../src/domain/schedule.ts';

const NOW = Date.parse('2026-03-27T12:00:00Z');

function contract(over: Partial<JobInput>, tz = 'Europe/Berlin'): string {
  const job = buildJob(
    {
      name: 'nightly',
      schedule: { kind: 'cron', expr: '30 2 * * *', tz: 'Europe/Berlin' },
      payload: { kind: 'command', command: 'backup.sh --all' },
      ...over,
    },
    NOW,
    () => 'j1',
  );
  return describeContract(job, nextFireTimes(job.schedule, NOW, 5, job.createdAtMs), tz, {
    killGraceSeconds: 10,
  }).join('\n');
}

describe('describeContract', () => {
  test('what runs: a shell string via /bin/sh -c, or an argv without a shell', () => {
    assert.match(contract({}), /Runs: \/bin\/sh -c 'backup\.sh --all'/);
    const argv = contract({
      payload: { kind: 'command', argv: ['tar', 'czf', '/b/x.tgz', 'my dir'], cwd: '/srv' },
    });
    assert.match(argv, /Runs: tar czf \/b\/x\.tgz 'my dir' {2}\(program and arguments, no shell\)/);
    assert.match(argv, /Where: in \/srv/);
  });

  test('environment shows keys, never values; stdin shows its size, not its content', () => {
    const text = contract({
      payload: { kind: 'command', command: 'x', env: { API_TOKEN: 'hunter2' }, input: 'secret-input' },
    });
    assert.match(text, /API_TOKEN \(values not shown\)/);
    assert.match(text, /NIGHTSHIFT_JOB_ID, NIGHTSHIFT_RUN_ID, NIGHTSHIFT_SLOT, NIGHTSHIFT_ATTEMPT/);
    assert.match(text, /stdin gets 12 bytes/);
    assert.doesNotMatch(text, /hunter2|secret-input/);
  });

  test('timeout and what happens at it', () => {
    assert.match(
      contract({}),
      /Timeout: 10m; then the whole process group gets SIGTERM, and SIGKILL 10s later; the run ends `timeout`/,
    );
    assert.match(
      contract({ payload: { kind: 'command', command: 'x', timeoutSeconds: 0 } }),
      /Timeout: none/,
    );
  });

  test('success lists exit 0 and each expectation', () => {
    assert.match(contract({}), /only when: the exit status is 0\n {2}\(no evidence declared/);
    const text = contract({
      evidence: { expectFile: '/b/*.tgz', expectMinBytes: 1048576, expectOutput: 'done' },
    });
    assert.match(
      text,
      /the exit status is 0, and a file matching \/b\/\*\.tgz exists and was modified during the run, with at least 1 MiB, and the output \(stdout and stderr\) matches \/done\//,
    );
  });

  test('failure: retries with their backoff, then back to the schedule', () => {
    assert.match(contract({}), /On failure: no retry/);
    assert.match(
      contract({ policy: { retries: 3 } }),
      /up to 3 retries, after 30s, 1m, 5m \(plus jitter\); then back to the schedule/,
    );
    // More retries than delays: the last delay repeats.
    assert.match(contract({ policy: { retries: 3, retryBackoffMs: [5000, 20000] } }), /after 5s, 20s, 20s/);
  });

  test('overlap, catch-up and history in words', () => {
    assert.match(contract({}), /that fire is skipped \(recorded `skipped`, reason overlap\)/);
    assert.match(contract({}), /missed while the daemon was down: recorded `missed`, not run/);
    assert.match(
      contract({ policy: { overlap: 'queue-one', catchup: 'all', catchupMax: 3 } }),
      /one fire waits[\s\S]*from the last 1d is run, oldest first, at most 3/,
    );
    assert.match(
      contract({}),
      /History: keeps the last 200 runs, none older than 30d, with the last 16 KiB of output each/,
    );
  });

  test('next 5 fires in the zone and UTC, across the spring-forward jump', () => {
    const text = contract({});
    assert.match(text, /Next fires \(Europe\/Berlin \| UTC\):/);
    assert.match(text, /2026-03-28 02:30:00 \+01:00 {2}\| {2}2026-03-28T01:30:00\.000Z/);
    assert.match(text, /2026-03-29 03:00:00 \+02:00 {2}\| {2}2026-03-29T01:00:00\.000Z/);
    assert.equal(text.match(/^ {2}2026-/gm)?.length, 5);
  });

  test('a UTC job lists each fire once, in one column', () => {
    for (const tz of ['UTC', 'Etc/UTC']) {
      const text = contract({ schedule: { kind: 'cron', expr: '30 2 * * *', tz } }, tz);
      assert.match(text, tz === 'UTC' ? /Next fires \(UTC\):/ : /Next fires \(Etc\/UTC, which is UTC\):/);
      assert.doesNotMatch(text, /\| UTC|\|/);
      assert.match(text, /^ {2}2026-03-28T02:30:00\.000Z$/m);
      assert.equal(text.match(/^ {2}2026-/gm)?.length, 5);
    }
  });

  test('a disabled job says it has no fires; an at job says what happens after it', () => {
    assert.match(contract({ enabled: false }), /Next fires: none, the job is disabled/);
    assert.match(
      contract({ schedule: { kind: 'at', at: '+1h' } }, 'UTC'),
      /After a successful run: the job is deleted/,
    );
  });

  test('formatInZone shows wall time and offset, including half-hour zones', () => {
    assert.equal(
      formatInZone(Date.parse('2026-05-01T00:00:00Z'), 'Asia/Kolkata'),
      '2026-05-01 05:30:00 +05:30',
    );
    assert.equal(
      formatInZone(Date.parse('2026-05-01T00:00:00Z'), 'America/New_York'),
      '2026-04-30 20:00:00 -04:00',
    );
  });
});
