/**
 * `cron run --follow` without a daemon: this process runs the job and prints its output line by
 * line as the command prints it. A real command prints a line, then waits until the test lets it
 * go on: the line is on the terminal while the run is still going.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cli, tempHome } from './cli-harness.ts';

const h = tempHome();
after(() => h.cleanup());

test('cron run --follow prints each line as it comes, then the result; --json is refused with it', async () => {
  const gate = join(h.work, 'sync-may-finish');
  const add = await cli(h.home, [
    'cron',
    'add',
    '--name',
    'slow-sync',
    '--every',
    '1d',
    '--command',
    `echo 'synced folder 1 of 2'; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo 'synced folder 2 of 2'`,
  ]);
  assert.equal(add.code, 0, add.stderr);

  const env = { ...process.env };
  delete env.NIGHTSHIFT_HOME;
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [BIN, '--home', h.home, 'cron', 'run', 'slow-sync', '--follow'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  await new Promise<void>((seen) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stdout.includes('synced folder 1 of 2\n')) seen();
    });
    void exited.then(() => seen());
  });
  assert.equal(exitedEarly, false, `the run ended before its gate opened: ${stdout} ${stderr}`);
  assert.doesNotMatch(stdout, /folder 2/);
  writeFileSync(gate, '');
  assert.equal(await exited, 0, stderr);
  assert.match(stdout, /synced folder 1 of 2\nsynced folder 2 of 2\n/);
  assert.match(stdout, /\bok\b/);

  const both = await cli(h.home, ['cron', 'run', 'slow-sync', '--follow', '--json']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--follow prints the output as text; it cannot go with --json/);
});
