/**
 * Names a job refers to in config.json (alert and delivery channels, agents) are checked when the
 * job is added or edited; alerts that no channel would receive are warned about and shown as such.
 * A job that other jobs run after (they refer to it) is not removed without saying what happens to them.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliJson, tempHome } from './cli-harness.ts';
import type { TempHome } from './cli-harness.ts';

const homes: TempHome[] = [];
function homeWith(config: object | undefined): string {
  const h = tempHome();
  homes.push(h);
  mkdirSync(h.home, { recursive: true });
  if (config) writeFileSync(join(h.home, 'config.json'), JSON.stringify(config), { mode: 0o600 });
  return h.home;
}
after(() => {
  for (const h of homes) h.cleanup();
});

const hook = { kind: 'webhook', url: 'http://127.0.0.1:9/hook' };
const base = ['cron', 'add', '--name', 'j', '--every', '1h', '--command', 'true'];

test('an unknown alert or delivery channel is refused at add, listing the configured ones; nothing is stored', async () => {
  const home = homeWith({ channels: { ops: hook, pager: hook } });
  for (const extra of [
    ['--alert-after', '1', '--alert-channel', 'opps'],
    ['--announce', '--channel', 'opps'],
  ]) {
    const r = await cli(home, [...base, ...extra]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /channel "opps": config\.json defines no channel of that name/);
    assert.match(r.stderr, /configured channels: ops, pager/);
  }
  const list = await cliJson<{ jobs: unknown[] }>(home, ['cron', 'list', '--all']);
  assert.deepEqual(list.json.jobs, []);
});

test('an unknown agent is refused at add, listing the configured ones', async () => {
  const home = homeWith({ agents: { local: { baseUrl: 'http://127.0.0.1:9/v1', model: 'm' } } });
  const r = await cli(home, [
    'cron',
    'add',
    '--name',
    'a',
    '--every',
    '1h',
    '--message',
    'hi',
    '--agent',
    'lcoal',
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /unknown agent "lcoal"/);
  assert.match(r.stderr, /configured agents: local/);
  const ok = await cli(home, [
    'cron',
    'add',
    '--name',
    'a',
    '--every',
    '1h',
    '--message',
    'hi',
    '--agent',
    'local',
  ]);
  assert.equal(ok.code, 0, ok.stderr);
});

test('an edit naming an unknown channel is refused and the stored job is unchanged', async () => {
  const home = homeWith({ channels: { ops: hook }, alerts: { channels: ['ops'] } });
  assert.equal((await cli(home, [...base, '--alert-after', '2'])).code, 0);
  const before = await cliJson<object>(home, ['cron', 'show', 'j']);
  const r = await cli(home, ['cron', 'edit', 'j', '--alert-after', '5', '--alert-channel', 'nope']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /unknown alert channel "nope".*\n.*configured channels: ops/);
  const afterEdit = await cliJson<object>(home, ['cron', 'show', 'j']);
  assert.deepEqual(afterEdit.json, before.json);
});

test('alerts with no channel to go to: a warning at add and edit, and cron show says none will be delivered', async () => {
  const home = homeWith(undefined);
  const add = await cli(home, [...base, '--alert-after', '1']);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stderr, /warning: its alerts will not be delivered: no channel is configured/);
  const show = await cli(home, ['cron', 'show', 'j']);
  assert.match(show.stdout, /alerts: none will be delivered \(no channel configured\)/);
  assert.doesNotMatch(show.stdout, /default alert channels/);
  const edit = await cli(home, ['cron', 'edit', 'j', '--alert-after', '2']);
  assert.match(edit.stderr, /warning: its alerts will not be delivered/);
  // With a default channel configured, the same job names it and no warning is printed.
  writeFileSync(
    join(home, 'config.json'),
    JSON.stringify({ channels: { ops: hook }, alerts: { channels: ['ops'] } }),
  );
  const quiet = await cli(home, ['cron', 'edit', 'j', '--alert-after', '3']);
  assert.doesNotMatch(quiet.stderr, /warning/);
  const named = await cli(home, ['cron', 'show', 'j']);
  assert.match(named.stdout, /Alerts: after 3 consecutive failed runs to the default alert channels \(ops\)/);
});

test('size flags take units: --expect-min-bytes 1M is stored in bytes, a bad size shows the forms', async () => {
  const home = homeWith(undefined);
  const add = await cliJson<{ evidence: { expectMinBytes?: number } }>(home, [
    ...base,
    '--expect-file',
    '/tmp/x',
    '--expect-min-bytes',
    '1M',
  ]);
  assert.equal(add.result.code, 0, add.result.stderr);
  assert.equal(add.json.evidence.expectMinBytes, 1024 * 1024);
  const bad = await cli(home, ['cron', 'edit', 'j', '--output-tail-bytes', '4X']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--output-tail-bytes: cannot read "4X" as a size/);
  assert.match(bad.stderr, /e\.g\. 4M, 4MiB, 500 GB/);
  // 4M is read as a size; the refusal is about the job's kind, and names the flag given.
  const repoBytes = await cli(home, ['cron', 'edit', 'j', '--alert-max-repo-bytes', '4M']);
  assert.equal(repoBytes.code, 2);
  assert.match(
    repoBytes.stderr,
    /^nightshift: --alert-max-repo-bytes: anomaly and storage alerts apply to backup jobs only/m,
  );
});

test('OpenClaw spellings: cron runs JOB (positional) and --deliver as --announce', async () => {
  const home = homeWith({ channels: { ops: hook } });
  const add = await cliJson<{ delivery?: { mode: string; channel?: string } }>(home, [
    ...base,
    '--deliver',
    '--channel',
    'ops',
  ]);
  assert.equal(add.result.code, 0, add.result.stderr);
  assert.deepEqual(add.json.delivery, { mode: 'announce', channel: 'ops' });
  const runs = await cli(home, ['cron', 'runs', 'j']);
  assert.equal(runs.code, 0, runs.stderr);
  assert.match(runs.stdout, /no runs for j yet/);
  const none = await cli(home, ['cron', 'runs']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /cron runs needs a job/);
});

test('--no-best-effort-deliver is refused saying what nightshift does instead; --best-effort-deliver is accepted', async () => {
  const home = homeWith(undefined);
  const r = await cli(home, [...base, '--no-best-effort-deliver']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--no-best-effort-deliver is an OpenClaw flag nightshift has no setting for/);
  assert.match(r.stderr, /cron runs JOB --json/);
  const list = await cliJson<{ jobs: unknown[] }>(home, ['cron', 'list', '--all']);
  assert.deepEqual(list.json.jobs, [], 'nothing is stored');
  const ok = await cli(home, [...base, '--best-effort-deliver']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('cron list --agent lists only the jobs of that agent', async () => {
  const agent = { baseUrl: 'http://127.0.0.1:9/v1', model: 'm' };
  const home = homeWith({ agents: { default: agent, ops: agent } });
  const add = (name: string, ...extra: string[]) =>
    cli(home, ['cron', 'add', '--name', name, '--every', '1h', ...extra]);
  assert.equal((await add('turn', '--message', 'hi', '--agent', 'ops')).code, 0);
  assert.equal((await add('other', '--message', 'hi')).code, 0);
  assert.equal((await add('cmd', '--command', 'true')).code, 0);
  const ops = await cliJson<{ jobs: Array<{ name: string }> }>(home, ['cron', 'list', '--agent', 'ops']);
  assert.deepEqual(
    ops.json.jobs.map((j) => j.name),
    ['turn'],
  );
  const dflt = await cliJson<{ jobs: Array<{ name: string }> }>(home, ['cron', 'list', '--agent', 'default']);
  assert.deepEqual(
    dflt.json.jobs.map((j) => j.name),
    ['other'],
  );
});

test('--name selects the job on every verb that takes one (get, show, runs, run, edit, enable, disable, rm), as OpenClaw writes it', async () => {
  const home = homeWith(undefined);
  assert.equal((await cli(home, [...base])).code, 0);
  const get = await cliJson<{ name: string }>(home, ['cron', 'get', '--name', 'j']);
  assert.equal(get.json.name, 'j');
  const show = await cli(home, ['cron', 'show', '--name', 'j']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^j {2}\(id /);
  assert.match((await cli(home, ['cron', 'runs', '--name', 'j'])).stdout, /no runs for j yet/);
  const run = await cli(home, ['cron', 'run', '--name', 'j', '--wait']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /ok in/);
  // edit: alone, --name selects the job; with a job given, it renames it (OpenClaw's `cron edit ID --name NEW`).
  const edit = await cli(home, ['cron', 'edit', '--name', 'j', '--every', '2h']);
  assert.equal(edit.code, 0, edit.stderr);
  assert.match(edit.stdout, /updated j .*every 2h/);
  const renamed = await cli(home, ['cron', 'edit', 'j', '--name', 'k']);
  assert.match(renamed.stdout, /updated k /);
  assert.match((await cli(home, ['cron', 'disable', '--name', 'k'])).stdout, /disabled k/);
  assert.match((await cli(home, ['cron', 'enable', '--name', 'k'])).stdout, /enabled k/);
  const before = JSON.stringify((await cliJson(home, ['cron', 'list', '--all'])).json);
  for (const verb of ['get', 'show', 'runs', 'run', 'edit', 'enable', 'disable', 'rm']) {
    const twice = await cli(home, ['cron', verb, 'j', '--name', 'k']);
    if (verb === 'edit') {
      // `edit j --name k` renames j, which is k by now: no job named j.
      assert.equal(twice.code, 3, twice.stderr);
    } else {
      assert.equal(twice.code, 2, `${verb}: ${twice.stderr}`);
      assert.match(twice.stderr, new RegExp(`cron ${verb}: the job is given twice, differently`));
    }
    const none = await cli(home, ['cron', verb]);
    assert.equal(none.code, 2, `${verb}: ${none.stderr}`);
    assert.match(none.stderr, new RegExp(`cron ${verb} needs a job`));
    assert.match(none.stderr, new RegExp(`nightshift cron ${verb} NAME \\(or --name NAME\\)`));
  }
  assert.equal(
    JSON.stringify((await cliJson(home, ['cron', 'list', '--all'])).json),
    before,
    'refusals change nothing',
  );
  assert.match((await cli(home, ['cron', 'rm', '--name', 'k'])).stdout, /removed k/);
});

test('cron rm of a job others run after is refused naming them and the fix; --force removes them too', async () => {
  const home = homeWith(undefined);
  assert.equal((await cli(home, [...base])).code, 0);
  assert.equal(
    (await cli(home, ['cron', 'add', '--name', 'k', '--after', 'j', '--command', 'true'])).code,
    0,
  );
  const refused = await cli(home, ['cron', 'rm', 'j']);
  assert.equal(refused.code, 4);
  assert.match(refused.stderr, /j cannot be removed: k runs after it/);
  assert.match(refused.stderr, /nightshift cron rm k/);
  assert.match(refused.stderr, /--force/);
  const list = await cliJson<{ jobs: unknown[] }>(home, ['cron', 'list', '--all']);
  assert.equal(list.json.jobs.length, 2);
  const forced = await cli(home, ['cron', 'rm', 'j', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /also removed, as they ran after it: k/);
  const after = await cliJson<{ jobs: unknown[] }>(home, ['cron', 'list', '--all']);
  assert.deepEqual(after.json.jobs, []);
});
