import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chainProblems,
  describeAfter,
  runCountsFor,
  successorsOf,
  validateAfterSchedule,
} from '../../src/domain/chain.ts';
import type { Run, Schedule } from '../../src/domain/job.ts';
import { UserError } from '../../src/domain/errors.ts';

const every: Schedule = { kind: 'every', everyMs: 60_000 };
const after = (...jobs: string[]): Schedule => ({
  kind: 'after',
  after: jobs.map((job) => ({ job, on: 'success' })),
});

test('chain problems: unknown predecessor, self, cycles (each once)', () => {
  assert.deepEqual(
    chainProblems([
      { name: 'a', schedule: every },
      { name: 'b', schedule: after('a') },
    ]),
    [],
  );
  assert.deepEqual(chainProblems([{ name: 'b', schedule: after('gone') }]), [
    'b runs after gone, and there is no job named gone (known: none)',
  ]);
  // The jobs there are, so a typo is seen at once.
  assert.deepEqual(
    chainProblems([
      { name: 'prep', schedule: every },
      { name: 'export', schedule: every },
      { name: 'b', schedule: after('perp') },
    ]),
    ['b runs after perp, and there is no job named perp (known: export, prep)'],
  );
  assert.deepEqual(chainProblems([{ name: 'b', schedule: after('b') }]), ['b runs after itself']);
  assert.deepEqual(
    chainProblems([
      { name: 'a', schedule: after('c') },
      { name: 'b', schedule: after('a') },
      { name: 'c', schedule: after('b') },
      { name: 'd', schedule: after('c') },
    ]),
    ['chain cycle: a -> c -> b -> a (each waits for the next, so none would run)'],
  );
});

test('after: bare names, objects, on, within; refusals name the field', () => {
  assert.deepEqual(
    validateAfterSchedule({ kind: 'after', after: ['a', { job: 'b', on: 'failure' }], withinMs: '30m' }),
    {
      kind: 'after',
      after: [
        { job: 'a', on: 'success' },
        { job: 'b', on: 'failure' },
      ],
      withinMs: 1_800_000,
    },
  );
  const refused = (raw: Record<string, unknown>, re: RegExp) =>
    assert.throws(
      () => validateAfterSchedule(raw),
      (e: unknown) => e instanceof UserError && re.test(e.message),
    );
  refused({ kind: 'after', after: [] }, /^schedule\.after: names no job/);
  refused(
    { kind: 'after', after: [{ job: 'a', on: 'sometimes' }] },
    /^schedule\.after\[0\]\.on: must be one of success, failure, always/,
  );
  refused({ kind: 'after', after: ['a', 'a'] }, /names a twice/);
  refused({ kind: 'after', after: ['a'], withinMs: 10 }, /^schedule\.withinMs:/);
  assert.equal(
    describeAfter({
      kind: 'after',
      after: [
        { job: 'a', on: 'success' },
        { job: 'b', on: 'failure' },
      ],
      withinMs: 1_800_000,
    }),
    'runs after a succeeds and b fails, all within 30m of the first',
  );
});

test('which run ends count for a link', () => {
  const run = (status: Run['status'], attempt = 1, trigger: Run['trigger'] = 'schedule'): Run => ({
    runId: 'r',
    jobId: 'j',
    slotMs: 0,
    attempt,
    trigger,
    status,
  });
  assert.equal(runCountsFor('success', run('ok'), 0), true);
  assert.equal(runCountsFor('success', run('delivered'), 0), true);
  assert.equal(runCountsFor('success', run('error'), 0), false);
  assert.equal(runCountsFor('failure', run('error', 1), 2), false, 'a retry is still to come');
  assert.equal(runCountsFor('failure', run('error', 3), 2), true, 'the final attempt');
  assert.equal(runCountsFor('failure', run('timeout', 1, 'manual'), 2), true, 'manual runs are not retried');
  assert.equal(runCountsFor('always', run('skipped'), 0), false, 'a skipped slot did not run');
  assert.equal(runCountsFor('always', run('ok'), 0), true);
});

test('successors: every job that runs after one, directly or through others, nearest first, each once', () => {
  const jobs = [
    { name: 'prep', schedule: every },
    { name: 'reset', schedule: after('prep') },
    { name: 'continue', schedule: after('reset') },
    {
      name: 'both',
      schedule: {
        kind: 'after',
        after: [
          { job: 'prep', on: 'success' },
          { job: 'reset', on: 'always' },
        ],
      } as Schedule,
    },
    { name: 'other', schedule: every },
  ];
  assert.deepEqual(
    successorsOf(jobs, 'prep').map((j) => j.name),
    ['reset', 'both', 'continue'],
  );
  assert.deepEqual(successorsOf(jobs, 'continue'), []);
});
