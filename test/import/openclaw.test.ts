import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { importedFrom, mapOpenClawJob, parseOpenClawStore, planImport } from '../../src/import/openclaw.ts';
import type { MappedJob, MapResult, SkippedJob } from '../../src/import/openclaw.ts';
import { UserError } from '../../src/domain/errors.ts';

const NOW = Date.parse('2026-11-22T06:00:00Z');
const fixture = (p: string): string =>
  readFileSync(fileURLToPath(new URL(`../fixtures/openclaw/${p}`, import.meta.url)), 'utf8');

function mapAll(text: string, channels: string[] = [], stateText?: string): MapResult[] {
  return parseOpenClawStore(text, 'jobs.json', stateText).map((j) =>
    mapOpenClawJob(j, { nowMs: NOW, channels }),
  );
}

function mapped(results: MapResult[], id: string): MappedJob {
  const r = results.find((x) => x.openclawId === id);
  assert.ok(r && r.ok, `${id} should map`);
  return r;
}

function skipped(results: MapResult[], id: string): SkippedJob {
  const r = results.find((x) => x.openclawId === id);
  assert.ok(r && !r.ok, `${id} should be skipped`);
  return r;
}

let seq = 0;
const ids = (): string => `id${++seq}`;

describe('OpenClaw jobs.json mapping', () => {
  test('the classic file maps schedules, sessions, agent, model and delivery', () => {
    const r = mapAll(fixture('classic/jobs.json'), ['telegram']);
    const brief = mapped(r, 'morning-brief');
    assert.deepEqual(brief.input.schedule, { kind: 'cron', expr: '0 7 * * *', tz: 'America/Los_Angeles' });
    assert.deepEqual(brief.input.payload, {
      kind: 'agentTurn',
      message: 'Summarize overnight updates.',
      session: 'isolated',
      agent: 'ops',
      model: 'llama3.1:8b',
      timeoutSeconds: 180,
      lightContext: true,
    });
    assert.deepEqual(brief.input.delivery, { mode: 'announce', channel: 'telegram', to: '123456789' });
    assert.equal(brief.input.description, 'Summary of the night');
    assert.deepEqual(brief.input.source, { kind: 'openclaw', id: 'morning-brief' });
    assert.deepEqual(brief.state, {
      lastRunStatus: 'ok',
      lastRunAtMs: 1767193200000,
      lastDurationMs: 4200,
      consecutiveErrors: 0,
    });
    // The turn had OpenClaw's default tools; here it has none, and the report says so.
    assert.deepEqual(
      brief.unmapped.map((u) => u.field).filter((f) => f !== 'updatedAtMs'),
      ['payload.tools', 'state.nextRunAtMs'],
    );
    assert.match(
      brief.unmapped.find((u) => u.field === 'state.nextRunAtMs')!.reason,
      /computes the next fire/,
    );
    assert.match(brief.unmapped.find((u) => u.field === 'payload.tools')!.reason, /runs with no tools/);

    const reminder = mapped(r, '7f0c1e2a-reminder');
    assert.deepEqual(reminder.input.schedule, { kind: 'at', at: '2099-02-01T16:00:00Z' });
    // OpenClaw's wakeMode default is "now"; it is kept explicitly.
    assert.deepEqual(reminder.input.payload, {
      kind: 'systemEvent',
      text: 'Reminder: check the cron docs draft',
      session: 'main',
      wake: 'now',
    });
    assert.equal(reminder.input.deleteAfterRun, true);

    const sweep = mapped(r, 'hourly-sweep');
    assert.deepEqual(sweep.input.schedule, { kind: 'every', everyMs: 3600000, anchorMs: 1767225600000 });
    assert.equal(sweep.input.enabled, false);
    assert.deepEqual(sweep.input.delivery, { mode: 'webhook', url: 'https://hooks.example.com/openclaw' });
    // wakeMode on an isolated job only times OpenClaw's main-session summary.
    assert.deepEqual(
      sweep.unmapped.map((u) => u.field),
      ['updatedAtMs', 'wakeMode', 'payload.tools'],
    );
  });

  test('an announce channel nightshift does not have is reported, not invented', () => {
    const r = mapAll(fixture('classic/jobs.json'), []);
    const brief = mapped(r, 'morning-brief');
    assert.equal(brief.input.delivery, undefined);
    const u = brief.unmapped.find((x) => x.field === 'delivery.channel');
    assert.ok(u);
    assert.match(u.reason, /no nightshift channel named "telegram" \(none configured\)/);
  });

  test('the jobs-state.json sidecar supplies the last-run state', () => {
    const r = mapAll(fixture('sidecar/jobs.json'), [], fixture('sidecar/jobs-state.json'));
    const digest = mapped(r, 'nightly-digest');
    assert.deepEqual(digest.state, {
      lastRunStatus: 'error',
      lastRunAtMs: 1767306600000,
      lastDurationMs: 900,
      lastError: 'model not allowed: gpt-5',
      consecutiveErrors: 2,
    });
    assert.deepEqual(digest.input.delivery, { mode: 'none' });
    const check = mapped(r, 'check-backups');
    assert.deepEqual(check.state, { lastRunStatus: 'ok', lastRunAtMs: 1767300000000 });
    // Without an anchor, OpenClaw anchors at creation; so does the import.
    assert.deepEqual(check.input.schedule, { kind: 'every', everyMs: 7200000, anchorMs: 1767225600000 });
    assert.deepEqual(check.input.payload, {
      kind: 'systemEvent',
      text: "Check that last night's backup verified.",
      session: 'main',
      wake: 'next-heartbeat',
    });
  });

  test('a bare array of jobs is accepted', () => {
    const r = mapAll(fixture('bare/jobs.json'));
    const job = mapped(r, 'bare-1');
    assert.equal(job.name, 'Stand-up nudge');
    assert.deepEqual(job.input.schedule, { kind: 'cron', expr: '0 9 * * 1-5' });
  });

  test('unmappable fields are listed with reasons; unimportable jobs are skipped with a reason', () => {
    const r = mapAll(fixture('unmappable/jobs.json'), ['ops']);
    const deep = mapped(r, 'deep-think');
    const fields = Object.fromEntries(deep.unmapped.map((u) => [u.field, u.reason]));
    assert.deepEqual(Object.keys(fields).sort(), [
      'delivery.bestEffort',
      'delivery.channel',
      'payload.allowUnsafeExternalContent',
      'payload.thinking',
      'payload.tools',
      'priority',
      'schedule.staggerMs',
      'updatedAtMs',
    ]);
    assert.match(fields['payload.thinking']!, /thinking level "high"/);
    assert.match(fields['delivery.channel']!, /"last": nightshift has no last chat route/);
    assert.match(fields['schedule.staggerMs']!, /exact time/);

    const wa = mapped(r, 'to-whatsapp');
    assert.match(
      wa.unmapped.find((u) => u.field === 'delivery.channel')!.reason,
      /no nightshift channel named "whatsapp" \(configured: ops\)/,
    );
    assert.match(skipped(r, 'gone-reminder').reason, /one-shot time 2020-01-01T09:00:00.000Z has passed/);
    assert.match(skipped(r, 'mystery').reason, /payload.kind: "browserTask" cannot be imported/);
  });

  test('files that are not an OpenClaw store are refused, naming the problem', () => {
    const refuse = (text: string, re: RegExp): void =>
      assert.throws(
        () => parseOpenClawStore(text, '/x/jobs.json'),
        (e: unknown) =>
          e instanceof UserError && re.test(e.message) && e.message.startsWith('/x/jobs.json: '),
      );
    refuse('{not json', /not valid JSON/);
    refuse('{"version":1}', /expected \{"version": 1, "jobs": \[\.\.\.\]\}/);
    refuse('{"version":2,"jobs":[]}', /version 2 is not supported/);
    refuse('[{"name":"no id"}]', /jobs\[0\]\.id: missing/);
    refuse('[{"id":"a"},{"id":"a"}]', /jobs\[1\]\.id: "a" appears twice/);
  });
});

describe('planning an import', () => {
  test('creates first, then finds its jobs again by their source: unchanged, or updated in place', () => {
    const first = planImport(mapAll(fixture('classic/jobs.json'), ['telegram']), [], NOW, ids);
    assert.deepEqual(
      first.entries.map((e) => e.action),
      ['created', 'created', 'created'],
    );
    const stored = first.inserts;
    assert.equal(importedFrom(stored[0]!), 'morning-brief');
    assert.equal(stored[0]!.state.lastRunStatus, 'ok');

    const again = planImport(mapAll(fixture('classic/jobs.json'), ['telegram']), stored, NOW + 60_000, ids);
    assert.deepEqual(
      again.entries.map((e) => e.action),
      ['unchanged', 'unchanged', 'unchanged'],
    );
    assert.equal(again.inserts.length + again.updates.length, 0);

    const edited = fixture('classic/jobs.json')
      .replace('0 7 * * *', '15 7 * * *')
      .replace('Morning brief', 'Daybreak');
    const third = planImport(mapAll(edited, ['telegram']), stored, NOW + 120_000, ids);
    assert.deepEqual(
      third.entries.map((e) => e.action),
      ['updated', 'unchanged', 'unchanged'],
    );
    const upd = third.updates[0]!;
    assert.equal(upd.id, stored[0]!.id);
    assert.equal(upd.name, 'Daybreak');
    assert.deepEqual(upd.schedule, { kind: 'cron', expr: '15 7 * * *', tz: 'America/Los_Angeles' });
    assert.equal(upd.createdAtMs, stored[0]!.createdAtMs);
  });

  test('a name held by a job the import does not own is skipped, not overwritten', () => {
    const mine = planImport(mapAll(fixture('bare/jobs.json')), [], NOW, ids).inserts[0]!;
    const own = { ...mine, id: 'users-own', description: 'hand-made' };
    delete own.source;
    const plan = planImport(mapAll(fixture('bare/jobs.json')), [own], NOW, ids);
    assert.equal(plan.entries[0]!.action, 'skipped');
    assert.match(
      plan.entries[0]!.reason!,
      /a job named "Stand-up nudge" already exists and was not imported/,
    );
    assert.equal(plan.inserts.length, 0);
  });

  test('an invalid job refuses the whole import and names every problem', () => {
    assert.throws(
      () => planImport(mapAll(fixture('invalid/jobs.json')), [], NOW, ids),
      (e: unknown) =>
        e instanceof UserError &&
        /nothing was written/.test(e.message) &&
        /job "broken" \(Broken cron\): schedule/.test(e.message) &&
        !/job "fine"/.test(e.message),
    );
  });
});

describe('every OpenClaw shape is mapped or reported', () => {
  const NOW_SHAPES = Date.parse('2026-11-22T06:00:00Z');
  const all = (): MapResult[] =>
    parseOpenClawStore(fixture('shapes/jobs.json'), 'jobs.json').map((j) =>
      mapOpenClawJob(j, { nowMs: NOW_SHAPES, channels: ['ops'] }),
    );

  test('a command payload becomes a command job: argv without a shell, a shell line via /bin/sh -c', () => {
    const r = all();
    const df = mapped(r, 'disk-report');
    assert.deepEqual(df.input.payload, {
      kind: 'command',
      argv: ['df', '-h', '/'],
      cwd: '/tmp',
      env: { LC_ALL: 'C' },
      timeoutSeconds: 30,
    });
    const fields = Object.fromEntries(df.unmapped.map((u) => [u.field, u.reason]));
    assert.match(fields['payload.successExitCodes']!, /only exit 0 counts as success/);
    assert.match(fields['payload.outputLimitBytes']!, /history setting/);
    const tidy = mapped(r, 'tidy-shell');
    assert.deepEqual(tidy.input.payload, {
      kind: 'command',
      command: 'find /tmp/cache -mtime +7 -delete && echo done',
    });
  });

  test('state: consecutive failures and the creation time are kept; the rest is reported', () => {
    const df = mapped(all(), 'disk-report');
    assert.deepEqual(df.state, { lastRunAtMs: 1767333600000, lastRunStatus: 'error', consecutiveErrors: 3 });
    assert.equal(df.createdAtMs, 1767225600000);
    const fields = df.unmapped.map((u) => u.field);
    for (const f of ['state.nextRunAtMs', 'state.lastDelivered', 'state.lastDeliveryStatus', 'updatedAtMs'])
      assert.ok(fields.includes(f), `${f} is reported`);
    const plan = planImport([df], [], NOW_SHAPES, ids);
    assert.equal(plan.inserts[0]!.createdAtMs, 1767225600000, 'OpenClaw creation time kept');
    assert.equal(plan.inserts[0]!.updatedAtMs, NOW_SHAPES, 'updated at the import');
    assert.equal(plan.inserts[0]!.state.consecutiveErrors, 3);
  });

  test('older schedule shapes: interval, atMs, a bare cron; everyMs as a numeric string', () => {
    const r = all();
    assert.deepEqual(mapped(r, 'old-interval').input.schedule, {
      kind: 'every',
      everyMs: 7200000,
      anchorMs: 1767225600000,
    });
    assert.deepEqual(mapped(r, 'old-at').input.schedule, { kind: 'at', at: '2100-01-01T00:00:00.000Z' });
    assert.deepEqual(mapped(r, 'old-cron').input.schedule, { kind: 'cron', expr: '0 */2 * * *' });
    assert.deepEqual(mapped(r, 'tidy-shell').input.schedule, {
      kind: 'every',
      everyMs: 30000,
      anchorMs: 1767225600000,
    });
    assert.match(
      skipped(r, 'bad-every').reason,
      /schedule\.everyMs: "thirty seconds" is not a whole number of milliseconds/,
    );
  });

  test('a delivery that cannot be mapped names everything dropped with it', () => {
    const lost = mapped(all(), 'lost-delivery');
    assert.equal(lost.input.delivery, undefined);
    const fields = Object.fromEntries(lost.unmapped.map((u) => [u.field, u.reason]));
    assert.match(fields['delivery.channel']!, /no nightshift channel named "signal" \(configured: ops\)/);
    assert.match(fields['delivery.to']!, /"\+15555550123" dropped with the delivery/);
    assert.match(fields['delivery.failureDestination']!, /dropped with the delivery/);
    assert.match(fields['delivery.accountId']!, /one account/);
  });
});

describe('OpenClaw failureAlert.includeSkipped and delivery.threadId', () => {
  const job = (extra: Record<string, unknown>): Record<string, unknown> => ({
    id: 'topic-brief',
    name: 'topic brief',
    schedule: { kind: 'every', everyMs: 3_600_000 },
    sessionTarget: 'isolated',
    payload: { kind: 'agentTurn', message: 'hi' },
    ...extra,
  });

  test('includeSkipped becomes alerts.includeSkipped and the announce thread is kept; other failureAlert fields are reported', () => {
    const r = mapOpenClawJob(
      job({
        failureAlert: { includeSkipped: true, after: 3 },
        delivery: { mode: 'announce', channel: 'telegram', to: '-100777', threadId: 42 },
      }),
      { nowMs: NOW, channels: ['telegram'] },
    );
    assert.ok(r.ok);
    assert.deepEqual(r.input.alerts, { includeSkipped: true });
    assert.deepEqual(r.input.delivery, {
      mode: 'announce',
      channel: 'telegram',
      to: '-100777',
      threadId: '42',
    });
    const fields = r.unmapped.map((u) => u.field);
    assert.ok(fields.includes('failureAlert.after'), fields.join(', '));
    assert.ok(!fields.includes('failureAlert'), 'failureAlert is a known field');
    assert.ok(!fields.includes('failureAlert.includeSkipped'));
  });

  test('a thread id that is not an id is reported, not stored; includeSkipped false maps to nothing', () => {
    const r = mapOpenClawJob(
      job({
        failureAlert: { includeSkipped: false },
        delivery: { mode: 'announce', channel: 'telegram', threadId: 'general' },
      }),
      { nowMs: NOW, channels: ['telegram'] },
    );
    assert.ok(r.ok);
    assert.equal(r.input.alerts, undefined);
    assert.deepEqual(r.input.delivery, { mode: 'announce', channel: 'telegram' });
    assert.match(r.unmapped.find((u) => u.field === 'delivery.threadId')!.reason, /not a thread or topic id/);
  });
});

test('a thread on a channel without threads is reported and dropped; the delivery stays', () => {
  const r = mapOpenClawJob(
    {
      id: 'hooked',
      schedule: { kind: 'every', everyMs: 3_600_000 },
      sessionTarget: 'isolated',
      payload: { kind: 'agentTurn', message: 'hi' },
      delivery: { mode: 'announce', channel: 'hook', threadId: '9' },
    },
    { nowMs: NOW, channels: ['hook', 'telegram'], threadChannels: ['telegram'] },
  );
  assert.ok(r.ok);
  assert.deepEqual(r.input.delivery, { mode: 'announce', channel: 'hook' });
  assert.match(
    r.unmapped.find((u) => u.field === 'delivery.threadId')!.reason,
    /channel hook has no threads/,
  );
});
