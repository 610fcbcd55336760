import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startHarness } from '../agent/agent-harness.ts';
import type { Harness } from '../agent/agent-harness.ts';

const MAIN = fileURLToPath(new URL('./session-cli-main.ts', import.meta.url));

function run(home: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--home', home, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('nightshift session', () => {
  let h: Harness;
  let home: string;
  before(async () => {
    h = await startHarness();
    home = h.app.home.dir;
    h.llm.enqueue(
      { toolCalls: [{ id: 'call_1', name: 'exec', arguments: { argv: ['echo', 'hi'] } }] },
      { content: 'Noted.' },
    );
    await h.addJob('ev', {
      kind: 'systemEvent',
      text: 'disk almost full',
      session: 'main',
      wake: 'next-heartbeat',
    });
    await h.run('ev');
    await h.addJob('with-tool', {
      kind: 'agentTurn',
      message: 'Say hi.',
      session: 'session:ops',
      tools: ['exec'],
      execAllowlist: [['echo']],
      timeoutSeconds: 60,
    });
    assert.equal((await h.run('with-tool')).status, 'ok');
  });
  after(() => h.close());

  test('list shows each session with its kind and pending inbox', async () => {
    const text = await run(home, ['session', 'list']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /main:default\s+default\s+main\s+.*\s1\n/);
    assert.match(text.stdout, /session:ops\s+default\s+named/);
    const json = await run(home, ['session', 'list', '--json']);
    const parsed = JSON.parse(json.stdout) as { sessions: { id: string; pendingInbox: number }[] };
    assert.deepEqual(parsed.sessions.map((s) => [s.id, s.pendingInbox]).sort(), [
      ['main:default', 1],
      ['session:ops', 0],
    ]);
  });

  test('show prints the transcript with tool calls, oldest first, and --limit keeps the last N', async () => {
    const text = await run(home, ['session', 'show', 'session:ops']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /user: Say hi\.\nassistant calls exec \(call_1\): \{"argv":\["echo","hi"\]\}\ntool result \(call_1\): .*hi.*\nassistant: Noted\./s,
    );
    const last = await run(home, ['session', 'show', 'session:ops', '--limit', '1', '--json']);
    const parsed = JSON.parse(last.stdout) as { messages: { role: string; content: string }[] };
    assert.deepEqual(parsed.messages, [{ role: 'assistant', content: 'Noted.' }]);
  });

  test('inbox lists waiting system events; an unknown session is a not-found error with a hint', async () => {
    const text = await run(home, ['session', 'inbox', 'main']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /disk almost full/);
    const missing = await run(home, ['session', 'show', 'session:nope']);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no session "session:nope"/);
    assert.match(missing.stderr, /hint: list the sessions with `nightshift session list`/);
    const bad = await run(home, ['session', 'show', 'main', '--limit', 'x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit must be a whole number/);
  });
});
