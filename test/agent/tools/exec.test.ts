import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { argvAllowed, createExecTool } from '../../../src/agent/tools/exec.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A zombie is gone for our purposes.
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

describe('exec tool', () => {
  test('argv prefixes match element by element; an empty prefix allows nothing', () => {
    const list = [['git', 'status'], ['df']];
    assert.equal(argvAllowed(['git', 'status', '--short'], list), true);
    assert.equal(argvAllowed(['df'], list), true);
    assert.equal(argvAllowed(['git', 'push'], list), false);
    assert.equal(argvAllowed(['git'], list), false);
    assert.equal(argvAllowed(['git status'], list), false, 'no shell splitting');
    assert.equal(argvAllowed(['dfx'], list), false);
    assert.equal(argvAllowed(['ls'], [[]]), false);
  });

  test('runs an allowed argv and reports exit code and output tail', async () => {
    const tool = createExecTool();
    const ctx = { signal: new AbortController().signal, execAllowlist: [['sh', '-c']] };
    const out = await tool.run({ argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'] }, ctx);
    assert.ok('result' in out);
    const report = JSON.parse(out.result) as { exitCode: number; output: string };
    assert.equal(report.exitCode, 3);
    assert.match(report.output, /out/);
    assert.match(report.output, /err/);
  });

  test('a missing program and bad arguments come back to the model as errors, not denials', async () => {
    const tool = createExecTool();
    const ctx = { signal: new AbortController().signal, execAllowlist: [['ns-no-such-program-x']] };
    const missing = await tool.run({ argv: ['ns-no-such-program-x'] }, ctx);
    assert.ok('result' in missing);
    assert.match(missing.result, /command not found: ns-no-such-program-x/);
    const bad = await tool.run({ argv: 'ls -l' }, ctx);
    assert.ok('result' in bad);
    assert.match((JSON.parse(bad.result) as { error: string }).error, /needs \{"argv"/);
  });

  test('an argv outside the allowlist is denied with the program named', async () => {
    const out = await createExecTool().run(
      { argv: ['curl', 'http://example.invalid'] },
      { signal: new AbortController().signal, execAllowlist: [['git', 'status']] },
    );
    assert.ok('denied' in out);
    assert.match(out.denied, /exec of "curl" .*not allowed/);
  });

  test('on timeout the whole process group is killed, background children included', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
    try {
      const pidFile = path.join(dir, 'bg.pid');
      const tool = createExecTool({ timeoutMs: 500, killGraceMs: 300 });
      const started = Date.now();
      const out = await tool.run(
        { argv: ['sh', '-c', `sleep 60 & echo $! > ${pidFile}; trap '' TERM; sleep 60`] },
        { signal: new AbortController().signal, execAllowlist: [['sh', '-c']] },
      );
      assert.ok('result' in out);
      const report = JSON.parse(out.result) as { timedOut?: boolean; signal?: string };
      assert.equal(report.timedOut, true);
      assert.equal(report.signal, 'SIGKILL', 'the TERM-ignoring shell needed SIGKILL');
      assert.ok(Date.now() - started < 15_000);
      const bg = Number(fs.readFileSync(pidFile, 'utf8').trim());
      assert.ok(await waitFor(() => !alive(bg)), 'background child survived');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ending the turn (abort) ends the running command', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const started = Date.now();
    const out = await createExecTool({ killGraceMs: 300 }).run(
      { argv: ['sleep', '60'] },
      { signal: ac.signal, execAllowlist: [['sleep']] },
    );
    assert.ok('result' in out);
    assert.equal((JSON.parse(out.result) as { signal?: string }).signal, 'SIGTERM');
    assert.ok(Date.now() - started < 15_000);
  });
});
