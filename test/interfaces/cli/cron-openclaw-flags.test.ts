/**
 * OpenClaw's --clear-agent, --thread-id and --failure-alert-include-skipped, typed as its docs
 * show them: they change the stored job (and its file export), and a contradiction or a channel
 * without threads is refused leaving the store as it was.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliJson, tempHome } from './cli-harness.ts';
import type { TempHome } from './cli-harness.ts';

const homes: TempHome[] = [];
after(() => {
  for (const h of homes) h.cleanup();
});

function home(): string {
  const h = tempHome();
  homes.push(h);
  mkdirSync(h.home, { recursive: true });
  const config = {
    agents: { ops: { baseUrl: 'http://127.0.0.1:9/v1', model: 'm' } },
    channels: {
      tg: { kind: 'telegram', botToken: 'env:TG_TOKEN', chatId: '-100123' },
      dc: { kind: 'discord', webhookUrl: 'env:DC_HOOK' },
      sl: { kind: 'slack', webhookUrl: 'env:SL_HOOK' },
      hook: { kind: 'webhook', url: 'http://127.0.0.1:9/hook' },
    },
  };
  writeFileSync(join(h.home, 'config.json'), JSON.stringify(config), { mode: 0o600 });
  return h.home;
}

interface Shown {
  payload: { agent?: string };
  delivery?: { mode: string; channel?: string; to?: string; threadId?: string };
  alerts?: { afterFailures: number; includeSkipped?: boolean };
}

const turn = ['cron', 'add', '--name', 'brief', '--every', '1h', '--message', 'summarise'];

async function show(h: string): Promise<Shown> {
  return (await cliJson<Shown>(h, ['cron', 'show', 'brief'])).json;
}

test('--clear-agent runs the job with the default agent again; with --agent it is refused and nothing changes', async () => {
  const h = home();
  const add = await cli(h, [...turn, '--agent', 'ops']);
  assert.equal(add.code, 0, add.stderr);
  assert.equal((await show(h)).payload.agent, 'ops');

  const both = await cli(h, ['cron', 'edit', 'brief', '--clear-agent', '--agent', 'ops']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--clear-agent and --agent contradict each other/);
  assert.equal((await show(h)).payload.agent, 'ops', 'the refused edit changed nothing');

  const cleared = await cli(h, ['cron', 'edit', 'brief', '--clear-agent']);
  assert.equal(cleared.code, 0, cleared.stderr);
  assert.equal((await show(h)).payload.agent, undefined, 'no agent named: the default one runs it');

  const cmd = await cli(h, [
    'cron',
    'add',
    '--name',
    'c',
    '--every',
    '1h',
    '--command',
    'true',
    '--clear-agent',
  ]);
  assert.equal(cmd.code, 2);
  assert.match(cmd.stderr, /--clear-agent does not apply to a command job/);
});

test('--thread-id goes with the announce target on telegram, discord and slack; other channels are refused', async () => {
  const h = home();
  const add = await cli(h, [
    ...turn,
    '--announce',
    '--channel',
    'tg',
    '--to',
    '-100777',
    '--thread-id',
    '42',
  ]);
  assert.equal(add.code, 0, add.stderr);
  assert.deepEqual((await show(h)).delivery, {
    mode: 'announce',
    channel: 'tg',
    to: '-100777',
    threadId: '42',
  });
  const text = await cli(h, ['cron', 'show', 'brief']);
  assert.match(text.stdout, /announced on channel tg to -100777 in thread 42/);

  // Exported to a job file and back.
  const exported = await cli(h, ['export', '--job', 'brief']);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stdout, /thread-id: "?42"?/);

  const hook = await cli(h, ['cron', 'edit', 'brief', '--channel', 'hook', '--thread-id', '7']);
  assert.equal(hook.code, 2, hook.stderr);
  assert.match(hook.stderr, /channel "hook" is a webhook channel, which has no threads or topics/);
  assert.match(hook.stderr, /telegram.*discord.*slack/);
  const badSlack = await cli(h, ['cron', 'edit', 'brief', '--channel', 'sl', '--thread-id', '7.5x']);
  assert.notEqual(badSlack.code, 0);
  assert.equal((await show(h)).delivery?.threadId, '42', 'refused edits changed nothing');

  const slack = await cli(h, [
    'cron',
    'edit',
    'brief',
    '--channel',
    'sl',
    '--to',
    '#ops',
    '--thread-id',
    '1712345678.123456',
  ]);
  assert.equal(slack.code, 0, slack.stderr);
  assert.deepEqual((await show(h)).delivery, {
    mode: 'announce',
    channel: 'sl',
    to: '#ops',
    threadId: '1712345678.123456',
  });

  const cleared = await cli(h, ['cron', 'edit', 'brief', '--thread-id', '']);
  assert.equal(cleared.code, 0, cleared.stderr);
  assert.deepEqual((await show(h)).delivery, { mode: 'announce', channel: 'sl', to: '#ops' });

  const noAnnounce = await cli(h, [
    'cron',
    'add',
    '--name',
    'x',
    '--every',
    '1h',
    '--command',
    'true',
    '--thread-id',
    '3',
  ]);
  assert.equal(noAnnounce.code, 2);
  assert.match(noAnnounce.stderr, /--thread-id needs --announce/);
});

test('--failure-alert-include-skipped sets the alert policy; the negation takes it back', async () => {
  const h = home();
  const add = await cli(h, [...turn, '--alert-after', '3', '--failure-alert-include-skipped']);
  assert.equal(add.code, 0, add.stderr);
  assert.equal((await show(h)).alerts?.includeSkipped, true);
  const text = await cli(h, ['cron', 'show', 'brief']);
  assert.match(text.stdout, /Alerts: after 3 consecutive failed or skipped runs/);
  const exported = await cli(h, ['export', '--job', 'brief']);
  assert.match(exported.stdout, /failure-alert-include-skipped: true/);

  const off = await cli(h, ['cron', 'edit', 'brief', '--no-failure-alert-include-skipped']);
  assert.equal(off.code, 0, off.stderr);
  const alerts = (await show(h)).alerts;
  assert.equal(alerts?.includeSkipped, undefined);
  assert.equal(alerts?.afterFailures, 3, 'the rest of the policy is kept');
});
