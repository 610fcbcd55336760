import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CommandExecutor, OutputCapture } from '../../src/payloads/command.ts';
import type { ExecutionContext } from '../../src/payloads/executor.ts';
import { DEFAULT_HISTORY, DEFAULT_POLICY } from '../../src/domain/job.ts';
import type { CommandPayload, Evidence, Job } from '../../src/domain/job.ts';

const SLOT = Date.UTC(2027, 2, 14, 7, 0, 0);

function makeJob(evidence: Evidence = {}, outputTailBytes = DEFAULT_HISTORY.outputTailBytes): Job {
  return {
    id: 'job-123',
    name: 'test job',
    enabled: true,
    schedule: { kind: 'every', everyMs: 60_000 },
    payload: { kind: 'command', command: 'true' },
    deleteAfterRun: false,
    policy: DEFAULT_POLICY,
    evidence,
    history: { ...DEFAULT_HISTORY, outputTailBytes },
    createdAtMs: 0,
    updatedAtMs: 0,
    state: { consecutiveErrors: 0, consecutiveSkipped: 0 },
  };
}

let runSeq = 0;
function ctxFor(
  job: Job,
  signal: AbortSignal = new AbortController().signal,
  onSpawn?: (pid: number) => void,
) {
  const ctx: ExecutionContext = {
    job,
    runId: `run-${process.pid}-${++runSeq}`,
    slotMs: SLOT,
    attempt: 2,
    signal,
    startedAtMs: Date.now(),
    now: () => Date.now(),
  };
  if (onSpawn) ctx.onSpawn = onSpawn;
  return ctx;
}

function cmd(command: string, extra: Partial<CommandPayload> = {}): CommandPayload {
  return { kind: 'command', command, ...extra };
}

/** Alive = signal-able and not a zombie (an unreaped zombie holds nothing). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitForFiles(files: string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!files.every((f) => fs.existsSync(f) && fs.readFileSync(f, 'utf8').trim() !== '')) {
    if (Date.now() > deadline) throw new Error(`files never appeared: ${files.join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function readPid(file: string): number {
  return Number(fs.readFileSync(file, 'utf8').trim());
}

describe('command executor', () => {
  let dir: string;
  const exec = new CommandExecutor({ killGraceMs: 500, drainMs: 300 });
  const leftovers: number[] = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
  });
  after(() => {
    for (const pid of leftovers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the child sees the run variables, the job env, its cwd and its stdin input', async () => {
    let spawned: number | undefined;
    const out = await exec.execute(
      cmd(
        'echo "$NIGHTSHIFT_JOB_ID|$NIGHTSHIFT_RUN_ID|$NIGHTSHIFT_SLOT|$NIGHTSHIFT_ATTEMPT|$GREETING|$(pwd)"; cat',
        {
          cwd: dir,
          env: { GREETING: 'hello there' },
          input: 'from stdin\n',
        },
      ),
      ctxFor(makeJob(), undefined, (pid) => (spawned = pid)),
    );
    assert.equal(out.status, 'ok', out.error);
    const [first, second] = (out.outputTail ?? '').split('\n');
    const [jobId, runId, slot, attempt, greeting, cwd] = (first ?? '').split('|');
    assert.equal(jobId, 'job-123');
    assert.match(runId ?? '', /^run-\d+-\d+$/);
    assert.equal(slot, '2027-03-14T07:00:00.000Z');
    assert.equal(attempt, '2');
    assert.equal(greeting, 'hello there');
    assert.equal(fs.realpathSync(cwd ?? ''), fs.realpathSync(dir));
    assert.equal(second, 'from stdin');
    assert.equal(out.exitCode, 0);
    assert.ok(spawned && spawned > 0, 'onSpawn got the pid');
  });

  test('input the command does not read does not break the run', async () => {
    const out = await exec.execute(cmd('echo ignored', { input: 'x'.repeat(1 << 20) }), ctxFor(makeJob()));
    assert.equal(out.status, 'ok', out.error);
    assert.equal(out.outputTail, 'ignored\n');
  });

  test('without input, stdin is empty (not the daemon terminal)', async () => {
    const out = await exec.execute(cmd('wc -c'), ctxFor(makeJob()));
    assert.equal(out.status, 'ok');
    assert.equal(out.outputTail?.trim(), '0');
  });

  test('argv runs without a shell; a non-zero exit is an error with the code', async () => {
    const out = await exec.execute(
      {
        kind: 'command',
        argv: [process.execPath, '-e', 'console.log("$HOME stays literal"); process.exit(3)'],
      },
      ctxFor(makeJob()),
    );
    assert.equal(out.status, 'error');
    assert.equal(out.error, 'exit code 3');
    assert.equal(out.exitCode, 3);
    assert.equal(out.outputTail, '$HOME stays literal\n');
  });

  test('death by signal is reported by name; stderr is part of the output', async () => {
    const out = await exec.execute(cmd('echo oops >&2; kill -SEGV $$'), ctxFor(makeJob()));
    assert.equal(out.status, 'error');
    assert.equal(out.error, 'killed by SIGSEGV');
    assert.equal(out.signal, 'SIGSEGV');
    assert.equal(out.outputTail, 'oops\n');
  });

  test('spawn failures get a clear reason', async () => {
    const missingCwd = path.join(dir, 'nope');
    let out = await exec.execute(cmd('true', { cwd: missingCwd }), ctxFor(makeJob()));
    assert.equal(out.status, 'error');
    assert.equal(out.error, `working directory ${missingCwd} does not exist`);

    out = await exec.execute({ kind: 'command', argv: ['no-such-program-xyz', '--flag'] }, ctxFor(makeJob()));
    assert.equal(out.status, 'error');
    assert.equal(out.error, 'command not found: no-such-program-xyz (not on PATH)');

    out = await exec.execute(cmd('no-such-program-xyz'), ctxFor(makeJob()));
    assert.equal(out.status, 'error');
    assert.equal(out.error, 'exit code 127 (command not found)');
    assert.match(out.outputTail ?? '', /not found/);

    const notExec = path.join(dir, 'script.sh');
    fs.writeFileSync(notExec, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    out = await exec.execute({ kind: 'command', argv: [notExec] }, ctxFor(makeJob()));
    assert.equal(out.status, 'error');
    assert.match(out.error ?? '', /permission denied running .*script\.sh/);
  });

  test('the output tail is bounded and does not split a UTF-8 character', async () => {
    const out = await exec.execute(
      cmd(`i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done`),
      ctxFor(makeJob({}, 100)),
    );
    assert.equal(out.status, 'ok');
    const tail = out.outputTail ?? '';
    assert.ok(Buffer.byteLength(tail) <= 100, `tail is ${Buffer.byteLength(tail)} bytes`);
    assert.ok(tail.endsWith('line 1998\nline 1999\n'), tail);

    // 'é' is two bytes; an odd limit would cut one in half.
    const utf = await exec.execute(
      { kind: 'command', argv: [process.execPath, '-e', 'process.stdout.write("é".repeat(5000))'] },
      ctxFor(makeJob({}, 101)),
    );
    assert.equal(utf.status, 'ok');
    assert.equal(utf.outputTail, 'é'.repeat(50));
  });

  test('timeout ends the whole tree, including setsid and double-forked descendants', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'tree-'));
    const files = ['child', 'setsid', 'orphan', 'stubborn'].map((n) => path.join(d, n));
    const script = [
      `sh -c 'echo $$ > child; exec sleep 300' &`,
      `setsid sh -c 'echo $$ > setsid; exec sleep 300' &`,
      // The subshell exits at once: the grandchild is reparented away from the tree.
      `(setsid sh -c 'echo $$ > orphan; exec sleep 300' >/dev/null 2>&1 &)`,
      `sh -c 'trap "" TERM; echo $$ > stubborn; while :; do sleep 1; done' &`,
      'echo started',
      'sleep 300',
    ].join('\n');
    const started = Date.now();
    let leader = 0;
    const run = exec.execute(
      cmd(script, { cwd: d, timeoutSeconds: 1.5 }),
      ctxFor(makeJob(), undefined, (pid) => (leader = pid)),
    );
    await waitForFiles(files);
    const pids = files.map(readPid);
    leftovers.push(...pids);
    const out = await run;
    assert.equal(out.status, 'timeout');
    assert.equal(out.error, 'timed out after 1.5s; process group killed');
    assert.match(out.outputTail ?? '', /started/);
    assert.ok(Date.now() - started >= 1400, 'not before the timeout');
    for (const [i, pid] of pids.entries()) assert.equal(alive(pid), false, `${files[i]} (${pid}) survived`);
    assert.equal(alive(leader), false);
  });

  test('daemon shutdown (abort) ends the tree and reports interrupted', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'abort-'));
    const files = ['bg', 'setsid'].map((n) => path.join(d, n));
    const controller = new AbortController();
    const run = exec.execute(
      cmd(`sleep 300 & echo $! > bg; setsid sh -c 'echo $$ > setsid; exec sleep 300' & wait`, {
        cwd: d,
        timeoutSeconds: 0,
      }),
      ctxFor(makeJob(), controller.signal),
    );
    await waitForFiles(files);
    const pids = files.map(readPid);
    leftovers.push(...pids);
    controller.abort();
    const out = await run;
    assert.equal(out.status, 'interrupted');
    assert.match(out.error ?? '', /shutting down; process group killed/);
    for (const pid of pids) assert.equal(alive(pid), false, `${pid} survived`);

    const early = await exec.execute(cmd('true'), ctxFor(makeJob(), controller.signal));
    assert.equal(early.status, 'interrupted');

    // Shutdown while the child is still starting.
    const racing = new AbortController();
    const starting = exec.execute(cmd('sleep 300', { timeoutSeconds: 0 }), ctxFor(makeJob(), racing.signal));
    racing.abort();
    assert.equal((await starting).status, 'interrupted');
  });

  test('background processes left in the group are ended when the command exits; a detached one is not', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'bg-'));
    const out = await exec.execute(
      cmd(
        `sleep 300 & echo $! > bg; (setsid sh -c 'echo $$ > service; exec sleep 300' >/dev/null 2>&1 &); ` +
          `while [ ! -s service ]; do sleep 0.05; done; echo done`,
        { cwd: d },
      ),
      ctxFor(makeJob()),
    );
    const bg = readPid(path.join(d, 'bg'));
    const service = readPid(path.join(d, 'service'));
    leftovers.push(bg, service);
    assert.equal(out.status, 'ok', out.error);
    assert.equal(out.outputTail, 'done\n');
    assert.equal(alive(bg), false, 'the forgotten background job was ended');
    assert.equal(alive(service), true, 'the deliberately detached service keeps running');
    process.kill(service, 'SIGKILL');
  });

  test('evidence decides ok: exit 0 alone is not enough', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'ev-'));
    fs.mkdirSync(path.join(d, 'out'));
    const old = path.join(d, 'out', 'old.tar.gz');
    fs.writeFileSync(old, 'x'.repeat(5000));
    const threeHoursAgo = (Date.now() - 3 * 3_600_000) / 1000;
    fs.utimesSync(old, threeHoursAgo, threeHoursAgo);

    let out = await exec.execute(
      cmd('echo "backup written"', { cwd: d }),
      ctxFor(makeJob({ expectFile: 'out/*.tar.gz' })),
    );
    assert.equal(out.status, 'error');
    assert.match(
      out.error ?? '',
      /^expected a file matching out\/\*\.tar\.gz modified during the run; newest match is 3h old/,
    );
    assert.equal(out.exitCode, 0);
    assert.deepEqual(
      out.evidence?.map((e) => [e.check, e.ok]),
      [['expectFile out/*.tar.gz', false]],
    );

    out = await exec.execute(
      cmd('head -c 2048 /dev/zero > out/new.tar.gz; echo "backup written: 2048 bytes"', { cwd: d }),
      ctxFor(makeJob({ expectFile: 'out/*.tar.gz', expectMinBytes: 1024, expectOutput: '^backup written' })),
    );
    assert.equal(out.status, 'ok', out.error);
    assert.deepEqual(
      out.evidence?.map((e) => e.ok),
      [true, true, true],
    );

    out = await exec.execute(
      cmd('head -c 10 /dev/zero > out/small.tar.gz', { cwd: d }),
      ctxFor(makeJob({ expectFile: `${d}/out/small.tar.gz`, expectMinBytes: 1024 })),
    );
    assert.equal(out.status, 'error');
    assert.match(out.error ?? '', /of at least 1024 bytes; the largest written during the run has 10 bytes/);

    out = await exec.execute(
      cmd('echo "all fine"'),
      ctxFor(makeJob({ expectOutput: 'uploaded \\d+ files' })),
    );
    assert.equal(out.status, 'error');
    assert.equal(
      out.error,
      'expected the output to match /uploaded \\d+ files/; it did not (last line: "all fine")',
    );
  });

  test('a match that scrolled out of the output tail still counts', async () => {
    const out = await exec.execute(
      cmd('echo "checksum OK"; i=0; while [ $i -lt 500 ]; do echo "noise $i"; i=$((i+1)); done'),
      ctxFor(makeJob({ expectOutput: '^checksum OK$' }, 64)),
    );
    assert.equal(out.status, 'ok', out.error);
    assert.doesNotMatch(out.outputTail ?? '', /checksum/);
  });
});

describe('output capture', () => {
  test('keeps exactly the last bytes across many small chunks', () => {
    const cap = new OutputCapture(10);
    for (const part of ['abc', 'defgh', 'ijklmnop', 'qr']) cap.push(Buffer.from(part));
    assert.equal(cap.text(), 'ijklmnopqr');
  });

  test('a limit of zero keeps nothing', () => {
    const cap = new OutputCapture(0);
    cap.push(Buffer.from('secret-free output'));
    assert.equal(cap.text(), '');
  });

  test('drops a partial character at the cut, keeps whole ones', () => {
    const cap = new OutputCapture(7);
    cap.push(Buffer.from('a€€')); // 1 + 3 + 3 bytes = 7: fits exactly
    assert.equal(cap.text(), 'a€€');
    cap.push(Buffer.from('bb')); // the last 7 bytes start inside the first €
    assert.equal(cap.text(), '€bb');
  });
});
