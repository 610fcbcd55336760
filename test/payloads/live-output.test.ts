/**
 * The live output of a running command: a real child prints a line, waits until the test lets it
 * go on, prints more; the tail and the followers see the first line while the run is still going,
 * keep the job's output cap, and get whole lines (also when a line is cut between two writes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CommandExecutor } from '../../src/payloads/command.ts';
import { LiveOutput } from '../../src/payloads/live-output.ts';
import type { LiveOutputEvent } from '../../src/payloads/live-output.ts';
import { DEFAULT_HISTORY, DEFAULT_POLICY } from '../../src/domain/job.ts';
import type { Job } from '../../src/domain/job.ts';

function makeJob(command: string, outputTailBytes = DEFAULT_HISTORY.outputTailBytes): Job {
  return {
    id: 'job-live',
    name: 'live job',
    enabled: true,
    schedule: { kind: 'every', everyMs: 60_000 },
    payload: { kind: 'command', command },
    deleteAfterRun: false,
    policy: DEFAULT_POLICY,
    evidence: {},
    history: { ...DEFAULT_HISTORY, outputTailBytes },
    createdAtMs: 0,
    updatedAtMs: 0,
    state: { consecutiveErrors: 0, consecutiveSkipped: 0 },
  };
}

/** Runs the job's command with the live output wired as the engine wires it. */
function start(job: Job, live: LiveOutput, runId: string) {
  const outcome = new CommandExecutor().execute(job.payload as never, {
    job,
    runId,
    slotMs: 0,
    attempt: 1,
    signal: new AbortController().signal,
    startedAtMs: Date.now(),
    now: () => Date.now(),
    onOutput: (text, stream) => live.write(runId, job, text, stream),
  });
  return outcome.then((o) => {
    live.end(runId, o.status);
    return o;
  });
}

function collect(live: LiveOutput, runId: string) {
  const events: LiveOutputEvent[] = [];
  const waiters: Array<{ pred: () => boolean; done: () => void }> = [];
  live.follow(runId, (e) => {
    events.push(e);
    for (const w of waiters.splice(0))
      if (w.pred()) w.done();
      else waiters.push(w);
  });
  const until = (pred: () => boolean): Promise<void> =>
    pred() ? Promise.resolve() : new Promise((done) => waiters.push({ pred, done }));
  return { events, until };
}

test('a running command: the first line is seen, in the tail and by a follower, before the run ends', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-live-'));
  const gate = path.join(dir, 'go-on');
  const job = makeJob(
    `echo 'step 1: fetched 12 items'; echo 'warming up' >&2; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo 'step 2: done'`,
  );
  const live = new LiveOutput();
  const f = collect(live, 'run-a');
  let ended = false;
  const run = start(job, live, 'run-a').then((o) => {
    ended = true;
    return o;
  });
  await f.until(() => f.events.some((e) => e.kind === 'line' && e.text === 'step 1: fetched 12 items'));
  assert.equal(ended, false, 'the run is still waiting for its gate');
  await f.until(() => f.events.some((e) => e.kind === 'line' && e.stream === 'stderr'));
  const tail = live.tail('run-a');
  assert.ok(tail);
  assert.match(tail.text, /step 1: fetched 12 items\n/);
  assert.match(tail.text, /warming up\n/);
  assert.doesNotMatch(tail.text, /step 2/);

  fs.writeFileSync(gate, '');
  const outcome = await run;
  assert.equal(outcome.status, 'ok');
  assert.deepEqual(
    f.events
      .filter((e) => e.kind === 'line' && e.stream === 'stdout')
      .map((e) => (e as { text: string }).text),
    ['step 1: fetched 12 items', 'step 2: done'],
  );
  assert.deepEqual(f.events.at(-1), { kind: 'end', status: 'ok' });
  assert.equal(live.tail('run-a'), undefined, 'an ended run leaves no tail in memory');
  fs.rmSync(dir, { recursive: true, force: true });
});

test("the live tail keeps the job's output cap, like the stored tail", async () => {
  const job = makeJob(
    `i=0; while [ $i -lt 200 ]; do echo "line $i of the report"; i=$((i+1)); done; sleep 30`,
    256,
  );
  const live = new LiveOutput();
  const f = collect(live, 'run-b');
  const ctrl = new AbortController();
  const outcome = new CommandExecutor({ killGraceMs: 200 }).execute(job.payload as never, {
    job,
    runId: 'run-b',
    slotMs: 0,
    attempt: 1,
    signal: ctrl.signal,
    startedAtMs: Date.now(),
    now: () => Date.now(),
    onOutput: (text, stream) => live.write('run-b', job, text, stream),
  });
  await f.until(() => f.events.some((e) => e.kind === 'line' && e.text === 'line 199 of the report'));
  const tail = live.tail('run-b')!;
  assert.ok(Buffer.byteLength(tail.text) <= 256, `tail of ${Buffer.byteLength(tail.text)} bytes`);
  assert.equal(tail.truncated, true);
  assert.match(tail.text, /line 199 of the report\n$/);
  assert.equal(f.events.filter((e) => e.kind === 'line').length, 200, 'followers get every line');
  ctrl.abort();
  const o = await outcome;
  assert.equal(o.status, 'interrupted');
  assert.ok(Buffer.byteLength(o.outputTail ?? '') <= 256);
});

test('followers get whole lines, whatever the writes cut, and the rest at the end', () => {
  const live = new LiveOutput();
  const job = makeJob('true');
  const f = collect(live, 'run-c');
  live.write('run-c', job, 'price: 3', 'stdout');
  live.write('run-c', job, '€ net\nsecond', 'stdout');
  live.write('run-c', job, 'partial on stderr', 'stderr');
  assert.deepEqual(f.events, [{ kind: 'line', stream: 'stdout', text: 'price: 3€ net' }]);
  live.end('run-c', 'ok');
  assert.deepEqual(f.events.slice(1), [
    { kind: 'line', stream: 'stdout', text: 'second' },
    { kind: 'line', stream: 'stderr', text: 'partial on stderr' },
    { kind: 'end', status: 'ok' },
  ]);
});
