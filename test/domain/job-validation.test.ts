import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { applyJobPatch, buildJob, validateJob } from '../../src/domain/job-validation.ts';
import type { JobInput } from '../../src/domain/job-validation.ts';
import { DEFAULT_HISTORY, DEFAULT_POLICY } from '../../src/domain/job.ts';
import type { CommandPayload, Job } from '../../src/domain/job.ts';
import { UserError } from '../../src/domain/errors.ts';

const NOW = Date.parse('2026-05-01T10:00:00Z');
let seq = 0;
const newId = (): string => `job-${++seq}`;

function input(over: Partial<JobInput> = {}): JobInput {
  return {
    name: 'nightly-backup',
    schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'UTC' },
    payload: { kind: 'command', command: 'tar czf /backup/x.tgz /srv' },
    ...over,
  };
}

/** Asserts `fn` throws a UserError whose message matches `re` and that carries a usage exit code. */
function refuses(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.match(err.message, re);
    assert.equal(err.exitCode, 2);
    return true;
  });
}

const build = (over: Partial<JobInput> | Record<string, unknown>): Job =>
  buildJob(input(over as Partial<JobInput>), NOW, newId);

describe('buildJob', () => {
  test('fills the defaults a user would expect', () => {
    const job = buildJob(input(), NOW, () => 'abc');
    assert.equal(job.id, 'abc');
    assert.equal(job.enabled, true);
    assert.equal(job.deleteAfterRun, false);
    assert.equal((job.payload as CommandPayload).timeoutSeconds, 600);
    assert.deepEqual(job.policy, DEFAULT_POLICY);
    assert.deepEqual(job.history, DEFAULT_HISTORY);
    assert.deepEqual(job.evidence, {});
    assert.equal(job.createdAtMs, NOW);
    assert.equal(job.updatedAtMs, NOW);
    assert.equal(job.state.consecutiveErrors, 0);
    assert.equal(job.state.consecutiveSkipped, 0);
    assert.equal(new Date(job.state.nextRunAtMs!).toISOString(), '2026-05-02T03:00:00.000Z');
    // Defaults are copies: editing one job's backoff list cannot change another's.
    job.policy.retryBackoffMs.push(1);
    assert.notDeepEqual(DEFAULT_POLICY.retryBackoffMs, job.policy.retryBackoffMs);
  });

  test('at jobs default to deleteAfterRun; a relative at is stored as an instant', () => {
    const job = build({ schedule: { kind: 'at', at: '+20m' } });
    assert.equal(job.deleteAfterRun, true);
    assert.deepEqual(job.schedule, { kind: 'at', at: '2026-05-01T10:20:00.000Z' });
    assert.equal(job.state.nextRunAtMs, NOW + 20 * 60_000);
    assert.equal(build({ schedule: { kind: 'at', at: '+1h' }, deleteAfterRun: false }).deleteAfterRun, false);
  });

  test('an at in the past is refused (it would never run)', () => {
    refuses(
      () => build({ schedule: { kind: 'at', at: '2026-04-30T10:00:00Z' } }),
      /schedule\.at: .*in the past/,
    );
  });

  test('every: anchored at creation; durations as strings are accepted in ms fields', () => {
    const job = build({
      schedule: { kind: 'every', everyMs: 60_000 },
      policy: { retries: 2, retryBackoffMs: ['10s', 60_000] as unknown as number[] },
    });
    assert.equal(job.state.nextRunAtMs, NOW + 60_000);
    assert.deepEqual(job.policy.retryBackoffMs, [10_000, 60_000]);
  });

  test('names: trimmed, non-empty, at most 200 characters, no control characters', () => {
    assert.equal(build({ name: '  spaced  ' }).name, 'spaced');
    refuses(() => build({ name: '' }), /^name: must not be empty/);
    refuses(() => build({ name: '   ' }), /^name: must not be empty/);
    refuses(() => build({ name: 'x'.repeat(201) }), /^name: 201 characters; at most 200/);
    assert.equal(build({ name: 'x'.repeat(200) }).name.length, 200);
    refuses(() => build({ name: 'two\nlines' }), /^name: contains a control character/);
    refuses(() => build({ name: 'esc\u001b[31m' }), /^name: contains a control character/);
    refuses(() => build({ name: 42 as unknown as string }), /^name: must be a string/);
  });

  test('payload: exactly one of command and argv', () => {
    refuses(
      () => build({ payload: { kind: 'command', command: 'ls', argv: ['ls'] } }),
      /^payload\.command: give either command or argv, not both/,
    );
    refuses(() => build({ payload: { kind: 'command' } }), /^payload\.command: missing/);
    refuses(
      () => build({ payload: { kind: 'command', command: '  ' } }),
      /^payload\.command: must not be empty/,
    );
    refuses(() => build({ payload: { kind: 'command', argv: [] } }), /^payload\.argv: must not be empty/);
    refuses(
      () => build({ payload: { kind: 'command', argv: ['ls', 3 as unknown as string] } }),
      /^payload\.argv\[1\]: must be a string/,
    );
    refuses(
      () => build({ payload: { kind: 'webhook', url: 'x' } }),
      /^payload\.kind: must be one of command, backup, drill, systemEvent, agentTurn, heartbeat/,
    );
    refuses(() => build({ payload: undefined }), /^payload: missing/);
    assert.deepEqual(build({ payload: { argv: ['ls', '-l'] } }).payload, {
      kind: 'command',
      argv: ['ls', '-l'],
      timeoutSeconds: 600,
    });
  });

  test('payload: cwd absolute, env names valid and not reserved, timeout 0..30d', () => {
    refuses(
      () => build({ payload: { kind: 'command', command: 'ls', cwd: 'relative/dir' } }),
      /^payload\.cwd: must be an absolute path/,
    );
    refuses(
      () => build({ payload: { kind: 'command', command: 'ls', env: { 'BAD-NAME': 'x' } } }),
      /^payload\.env: "BAD-NAME" is not a valid variable name/,
    );
    refuses(
      () => build({ payload: { kind: 'command', command: 'ls', env: { NIGHTSHIFT_RUN_ID: 'x' } } }),
      /^payload\.env\.NIGHTSHIFT_RUN_ID: is set by nightshift/,
    );
    refuses(
      () => build({ payload: { kind: 'command', command: 'ls', timeoutSeconds: -1 } }),
      /^payload\.timeoutSeconds: must be a whole number from 0/,
    );
    refuses(
      () => build({ payload: { kind: 'command', command: 'ls', timeoutSeconds: 1.5 } }),
      /^payload\.timeoutSeconds/,
    );
    assert.equal(
      (build({ payload: { kind: 'command', command: 'ls', timeoutSeconds: 0 } }).payload as CommandPayload)
        .timeoutSeconds,
      0,
    );
  });

  test('an env value never appears in an error message', () => {
    try {
      build({ payload: { kind: 'command', command: 'ls', env: { TOKEN: 'hunter2\u0000' } } });
      assert.fail('should have thrown');
    } catch (err) {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /payload\.env\.TOKEN/);
      assert.doesNotMatch(err.message + (err.hint ?? ''), /hunter2/);
    }
  });

  test('size fields take units as the flags do (MCP and API bodies send them as strings)', () => {
    const job = build({
      evidence: { expectFile: '/b/*.tgz', expectMinBytes: '4 KiB' },
      history: { outputTailBytes: '64K' },
    });
    assert.equal(job.evidence?.expectMinBytes, 4096);
    assert.equal(job.history.outputTailBytes, 65536);
    refuses(
      () => build({ evidence: { expectFile: '/b/*.tgz', expectMinBytes: '4 parsecs' } }),
      /^evidence\.expectMinBytes: cannot read "4 parsecs" as a size/,
    );
    refuses(
      () => build({ history: { outputTailBytes: '1T' } }),
      /^history\.outputTailBytes: must be a whole number/,
    );
  });

  test('evidence: expectOutput must compile; expectMinBytes needs expectFile', () => {
    refuses(
      () => build({ evidence: { expectOutput: 'done(' } }),
      /^evidence\.expectOutput: not a valid regular expression/,
    );
    refuses(
      () => build({ evidence: { expectMinBytes: 10 } }),
      /^evidence\.expectMinBytes: needs evidence\.expectFile/,
    );
    refuses(
      () => build({ evidence: { expectFile: '/b/*.tgz', expectMinBytes: -1 } }),
      /^evidence\.expectMinBytes/,
    );
    refuses(() => build({ evidence: { expectFile: '' } }), /^evidence\.expectFile: must not be empty/);
    const ok = build({
      evidence: { expectFile: '/b/*.tgz', expectMinBytes: 1024, expectOutput: 'backup (done|ok)' },
    });
    assert.deepEqual(ok.evidence, {
      expectFile: '/b/*.tgz',
      expectMinBytes: 1024,
      expectOutput: 'backup (done|ok)',
    });
  });

  test('policy and history fields are checked by name', () => {
    refuses(
      () => build({ policy: { overlap: 'maybe' as 'skip' } }),
      /^policy\.overlap: must be one of skip, queue-one, allow/,
    );
    refuses(
      () => build({ policy: { catchup: 'some' as 'skip' } }),
      /^policy\.catchup: must be one of skip, one, all/,
    );
    refuses(() => build({ policy: { retries: -1 } }), /^policy\.retries/);
    refuses(
      () => build({ policy: { retryBackoffMs: [] } }),
      /^policy\.retryBackoffMs: must be a non-empty list/,
    );
    refuses(
      () => build({ policy: { retryBackoffMs: [1000, 'soon' as unknown as number] } }),
      /^policy\.retryBackoffMs\[1\]: cannot read duration/,
    );
    refuses(() => build({ policy: { catchupMax: 0 } }), /^policy\.catchupMax/);
    refuses(() => build({ history: { maxRuns: 0 } }), /^history\.maxRuns/);
    refuses(() => build({ history: { outputTailBytes: -5 } }), /^history\.outputTailBytes/);
    refuses(() => build({ enabled: 'yes' as unknown as boolean }), /^enabled: must be true or false/);
    refuses(
      () => build({ schedule: { kind: 'cron', expr: '0 25 * * *' } }),
      /^schedule\.expr: hour field "25"/,
    );
  });
});

describe('applyJobPatch', () => {
  const base = (): Job =>
    buildJob(
      input({ policy: { retries: 1 }, evidence: { expectFile: '/b/*.tgz', expectMinBytes: 5 } }),
      NOW,
      () => 'j1',
    );
  const LATER = NOW + 60_000;

  test('edits keep id and creation time, bump updatedAtMs, merge policy', () => {
    const job = applyJobPatch(base(), { name: 'renamed', policy: { overlap: 'allow' } }, LATER);
    assert.equal(job.id, 'j1');
    assert.equal(job.name, 'renamed');
    assert.equal(job.createdAtMs, NOW);
    assert.equal(job.updatedAtMs, LATER);
    assert.equal(job.policy.overlap, 'allow');
    assert.equal(job.policy.retries, 1);
  });

  test('setting argv replaces command (and vice versa); other payload fields stay', () => {
    const withCwd = applyJobPatch(base(), { payload: { kind: 'command', cwd: '/srv' } as never }, LATER);
    const job = applyJobPatch(withCwd, { payload: { argv: ['ls'] } as never }, LATER);
    assert.deepEqual(job.payload, { kind: 'command', argv: ['ls'], cwd: '/srv', timeoutSeconds: 600 });
  });

  test('a new schedule recomputes the next fire; switching to at turns on deleteAfterRun', () => {
    const job = applyJobPatch(base(), { schedule: { kind: 'at', at: '+2h' } }, LATER);
    assert.equal(job.deleteAfterRun, true);
    assert.equal(job.state.nextRunAtMs, LATER + 2 * 3_600_000);
    const disabled = applyJobPatch(job, { enabled: false }, LATER);
    assert.equal(disabled.state.nextRunAtMs, undefined);
  });

  test('evidence keys set to null are removed; the result is validated whole', () => {
    refuses(
      () => applyJobPatch(base(), { evidence: { expectFile: null } as never }, LATER),
      /^evidence\.expectMinBytes: needs evidence\.expectFile/,
    );
    const job = applyJobPatch(
      base(),
      { evidence: { expectFile: null, expectMinBytes: null } as never },
      LATER,
    );
    assert.deepEqual(job.evidence, {});
  });

  test('a refused patch leaves the original job untouched', () => {
    const job = base();
    const before = structuredClone(job);
    refuses(
      () => applyJobPatch(job, { name: 'ok', schedule: { kind: 'every', everyMs: 0 } }, LATER),
      /schedule\.everyMs/,
    );
    assert.deepEqual(job, before);
  });

  test("description '' clears it", () => {
    const job = applyJobPatch(base(), { description: 'hello' }, LATER);
    assert.equal(job.description, 'hello');
    assert.equal('description' in applyJobPatch(job, { description: '' }, LATER), false);
  });
});

describe('validateJob', () => {
  test('accepts what buildJob made (JSON round-trip), including a kept one-shot in the past', () => {
    const job = buildJob(
      input({ schedule: { kind: 'at', at: '+1m' }, deleteAfterRun: false }),
      NOW,
      () => 'j1',
    );
    const back = validateJob(JSON.parse(JSON.stringify(job)) as Job);
    assert.deepEqual(back, job);
  });

  test('fills defaults older files lack, and refuses broken records by field', () => {
    const raw = {
      id: 'x',
      name: 'old',
      schedule: { kind: 'every', everyMs: 60_000 },
      payload: { kind: 'command', command: 'true' },
      createdAtMs: NOW,
    };
    const job = validateJob(raw as unknown as Job);
    assert.deepEqual(job.policy, DEFAULT_POLICY);
    assert.equal(job.updatedAtMs, NOW);
    assert.deepEqual(job.state, { consecutiveErrors: 0, consecutiveSkipped: 0 });
    refuses(() => validateJob({ ...raw, id: '' } as unknown as Job), /^id: must be a non-empty string/);
    refuses(() => validateJob({ ...raw, createdAtMs: 'yesterday' } as unknown as Job), /^createdAtMs/);
    refuses(
      () => validateJob({ ...raw, state: { lastRunStatus: 'great' } } as unknown as Job),
      /^state\.lastRunStatus/,
    );
    refuses(
      () => validateJob({ ...raw, schedule: { kind: 'cron', expr: '* * * *' } } as unknown as Job),
      /^schedule\.expr: .*4 fields/,
    );
  });
});
