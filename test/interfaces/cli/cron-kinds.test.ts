import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliJson, tempHome } from './cli-harness.ts';
import type { TempHome } from './cli-harness.ts';

interface JobJson {
  id: string;
  name: string;
  payload: Record<string, unknown>;
  alerts?: Record<string, unknown>;
  delivery?: Record<string, unknown>;
  healthcheck?: { url: string };
}

const homes: TempHome[] = [];
function freshHome(): string {
  const h = tempHome();
  homes.push(h);
  return h.home;
}
after(() => {
  for (const h of homes) h.cleanup();
});

describe('cron add for every payload kind', () => {
  test('a system event says it executes nothing, at add and in the contract', async () => {
    const home = freshHome();
    const add = await cli(home, [
      'cron',
      'add',
      '--name',
      'standup',
      '--cron',
      '0 9 * * 1-5',
      '--tz',
      'UTC',
      '--system-event',
      'Remind me of the standup',
      '--wake',
      'now',
    ]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /executes nothing/);
    assert.match(add.stdout, /recorded `delivered`/);
    const show = await cli(home, ['cron', 'show', 'standup']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(
      show.stdout,
      /Executes nothing: puts the text \(24 characters\) into the inbox of session main/,
    );
    assert.match(show.stdout, /Wake: now/);
    assert.match(show.stdout, /never `ok`/);
    const { json } = await cliJson<JobJson>(home, ['cron', 'get', 'standup']);
    assert.deepEqual(json.payload, {
      kind: 'systemEvent',
      text: 'Remind me of the standup',
      session: 'main',
      wake: 'now',
    });
  });

  test('an agent turn keeps its model, fallbacks, tools and allowlist, and the contract names them', async () => {
    const home = freshHome();
    // The channels it names must exist: a typo is refused at add.
    mkdirSync(home, { recursive: true });
    const hook = { kind: 'webhook', url: 'http://127.0.0.1:9/hook' };
    writeFileSync(join(home, 'config.json'), JSON.stringify({ channels: { ops: hook, pager: hook } }), {
      mode: 0o600,
    });
    const add = await cliJson<JobJson>(home, [
      'cron',
      'add',
      '--name',
      'triage',
      '--every',
      '1h',
      '--message',
      'Summarise new issues',
      '--model',
      'llama3.1:8b',
      '--fallbacks',
      'qwen2.5:7b, remote/gpt-4o-mini',
      '--tools',
      'exec,message',
      '--exec-allow',
      'git status',
      '--exec-allow',
      '["git","log","-1"]',
      '--light-context',
      '--announce',
      '--channel',
      'ops',
      '--to',
      '#triage',
      '--failure-channel',
      'pager',
    ]);
    assert.equal(add.result.code, 0, add.result.stderr);
    assert.deepEqual(add.json.payload, {
      kind: 'agentTurn',
      message: 'Summarise new issues',
      session: 'isolated',
      timeoutSeconds: 600,
      model: 'llama3.1:8b',
      fallbacks: ['qwen2.5:7b', 'remote/gpt-4o-mini'],
      tools: ['exec', 'message'],
      execAllowlist: [
        ['git', 'status'],
        ['git', 'log', '-1'],
      ],
      lightContext: true,
    });
    assert.deepEqual(add.json.delivery, {
      mode: 'announce',
      channel: 'ops',
      to: '#triage',
      failureDestination: { channel: 'pager' },
    });
    const show = await cli(home, ['cron', 'show', 'triage']);
    assert.match(show.stdout, /one agent turn of agent default with model llama3.1:8b in session isolated/);
    assert.match(show.stdout, /exec may run only: git status; git log -1/);
    assert.match(show.stdout, /Delivery: the result is announced on channel ops to #triage/);
    assert.match(show.stdout, /Failure notices: to pager/);
  });

  test('a backup job alerts by default and the contract says what proves it', async () => {
    const home = freshHome();
    const add = await cliJson<JobJson>(home, [
      'cron',
      'add',
      '--name',
      'nightly',
      '--cron',
      '0 3 * * *',
      '--backup',
      'home-docs',
      '--alert-if-no-success-within',
      '26h',
      '--alert-anomaly-factor',
      '4',
      '--alert-max-repo-bytes',
      '500G',
      '--alert-repo-usage',
      '80%',
      '--healthcheck-url',
      'https://hc.example/ping/abc',
    ]);
    assert.equal(add.result.code, 0, add.result.stderr);
    assert.deepEqual(add.json.payload, { kind: 'backup', profile: 'home-docs' });
    assert.equal(add.json.alerts?.ifNoSuccessWithinMs, 26 * 3_600_000);
    assert.equal(add.json.alerts?.afterFailures, 1);
    assert.equal(add.json.alerts?.maxRepoBytes, 500 * 1024 ** 3);
    assert.equal(add.json.alerts?.maxRepoUsagePercent, 80);
    const show = await cli(home, ['cron', 'show', 'nightly']);
    assert.match(show.stdout, /Repository size alert: above 500 GiB/);
    assert.match(show.stdout, /Repository disk alert: its filesystem fuller than 80%/);
    assert.match(show.stdout, /the new snapshot is listed in the repository and its index entries exist/);
    assert.match(show.stdout, /retention ran as configured/);
    assert.match(show.stdout, /Dead-man's switch: alerts when no run succeeded within 1d2h/);
    // This home configures no channel: the contract says nobody would hear the alerts.
    assert.match(show.stdout, /alerts: none will be delivered \(no channel configured\)/);
    assert.match(show.stdout, /Anomaly alerts: new data or duration above 4x/);
    assert.match(show.stdout, /Healthcheck pings: https:\/\/hc.example\/ping\/abc/);
  });

  test('flags of another kind, and half-given delivery, are refused by name and nothing is written', async () => {
    const home = freshHome();
    const cases: Array<[string[], RegExp]> = [
      [['--backup', 'p', '--model', 'x'], /--model does not apply to a backup job/],
      [['--command', 'true', '--message', 'hi'], /give only one of --command and --message/],
      [['--message', 'hi', '--tools', 'exec'], /--tools: exec is allowed but no command may run/],
      [['--message', 'hi', '--exec-allow', 'ls'], /--exec-allow: given, but the exec tool is not allowed/],
      [['--message', 'hi', '--announce'], /--announce needs --channel NAME/],
      [['--message', 'hi', '--channel', 'ops'], /--channel needs --announce/],
      [['--message', 'hi', '--webhook', 'ftp://x'], /--webhook: must be an http\(s\) URL/],
      [
        ['--system-event', 'x', '--session', 'isolated'],
        /--session: a system event cannot target an isolated session/,
      ],
      [
        ['--system-event', 'x', '--announce', '--channel', 'c'],
        /a system event is delivered into its session/,
      ],
      [['--drill', 'p', '--drill-sample', 'lots'], /--drill-sample: must be a count or a percentage/],
      [['--backup', 'p', '--expect-file', '/x'], /--expect-file: declared evidence applies to command jobs/],
      [['--command', 'true', '--alert-anomaly-factor', '3'], /apply to backup jobs only/],
      [['--command', 'true', '--alert-repo-usage', '80%'], /apply to backup jobs only/],
      [
        ['--backup', 'p', '--alert-repo-usage', '180%'],
        /--alert-repo-usage: cannot read "180%" as a percentage/,
      ],
      [['--backup', 'p', '--command-env', 'A=1'], /--command-env applies to command jobs only/],
      [
        ['--message', 'hi', '--session', 'elsewhere'],
        /--session: must be main, isolated, current or session:<id>/,
      ],
    ];
    for (const [flags, message] of cases) {
      const r = await cli(home, ['cron', 'add', '--name', 'j', '--every', '1h', ...flags]);
      assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, flags.join(' '));
    }
    const list = await cliJson<{ jobs: unknown[] }>(home, ['cron', 'list', '--all']);
    assert.deepEqual(list.json.jobs, []);
  });

  test('edit switches a job to another kind, and --no-alerts / --no-deliver change only what they name', async () => {
    const home = freshHome();
    assert.equal(
      (
        await cli(home, [
          'cron',
          'add',
          '--name',
          'j',
          '--every',
          '1h',
          '--command',
          'true',
          '--alert-after',
          '3',
        ])
      ).code,
      0,
    );
    const toTurn = await cliJson<JobJson>(home, [
      'cron',
      'edit',
      'j',
      '--message',
      'hello',
      '--webhook',
      'https://h.example/x',
    ]);
    assert.equal(toTurn.result.code, 0, toTurn.result.stderr);
    assert.deepEqual(toTurn.json.payload, {
      kind: 'agentTurn',
      message: 'hello',
      session: 'isolated',
      timeoutSeconds: 600,
    });
    assert.equal(toTurn.json.alerts?.afterFailures, 3);
    assert.deepEqual(toTurn.json.delivery, { mode: 'webhook', url: 'https://h.example/x' });
    const off = await cliJson<JobJson>(home, ['cron', 'edit', 'j', '--no-alerts', '--no-deliver']);
    assert.equal(off.result.code, 0, off.result.stderr);
    assert.equal(off.json.alerts, undefined);
    assert.deepEqual(off.json.delivery, { mode: 'none' });
    assert.equal(off.json.payload.message, 'hello');
  });
});
