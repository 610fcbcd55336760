/**
 * The HTTP API end to end, against a real daemon process: scope rules and their log lines, every
 * endpoint's happy path and a bad request, the event stream, /metrics through promtool, the
 * probes and the OpenAPI document; no token ever appears in a response or the log.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, tempHome } from '../cli/cli-harness.ts';
import { startHttpDaemon, TOKENS } from './http-harness.ts';
import type { HttpDaemon } from './http-harness.ts';

const promtool = spawnSync('promtool', ['--version']).status === 0;

describe('HTTP API served by the daemon', () => {
  let d: HttpDaemon;
  let jobId: string;

  before(async () => {
    d = await startHttpDaemon();
    const created = await d.call('POST', '/api/v1/jobs', {
      body: {
        name: 'nightly-report',
        schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'UTC' },
        payload: { argv: ['/bin/sh', '-c', 'echo report-written'] },
        evidence: { expectOutput: 'report-written' },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    jobId = (created.json.job as { id: string }).id;
  });

  after(async () => {
    await d?.stop();
  });

  test('probes answer without a token on loopback; /readyz reports its checks', async () => {
    const health = await d.call('GET', '/healthz', { token: null });
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    const ready = await d.call('GET', '/readyz', { token: null });
    assert.equal(ready.status, 200, JSON.stringify(ready.json));
    assert.equal(ready.json.ready, true);
    assert.deepEqual(
      (ready.json.checks as Array<{ name: string }>).map((c) => c.name),
      ['store', 'scheduler', 'queue'],
    );
  });

  test('no token, an unknown token and a too-small scope are refused with JSON, and logged without the token', async () => {
    const none = await d.call('GET', '/api/v1/jobs', { token: null });
    assert.equal(none.status, 401);
    assert.equal((none.json.error as { code: string }).code, 'unauthorized');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const wrong = await d.call('GET', '/api/v1/jobs', { token: 'not-a-configured-token-xyz' });
    assert.equal(wrong.status, 401);
    assert.match((wrong.json.error as { message: string }).message, /unknown bearer token/);

    const readRun = await d.call('POST', `/api/v1/jobs/${jobId}/run`, { token: TOKENS.read, body: {} });
    assert.equal(readRun.status, 403);
    assert.match(
      (readRun.json.error as { message: string }).message,
      /needs scope "operate"; this token has scope "read"/,
    );
    const operateCreate = await d.call('POST', '/api/v1/jobs', {
      token: TOKENS.operate,
      body: { name: 'x', schedule: { kind: 'every', everyMs: '1h' }, payload: { command: 'true' } },
    });
    assert.equal(operateCreate.status, 403);
    const operateDisable = await d.call('POST', `/api/v1/jobs/${jobId}/disable`, { token: TOKENS.operate });
    assert.equal(operateDisable.status, 403);
    // read may read
    assert.equal((await d.call('GET', '/api/v1/jobs', { token: TOKENS.read })).status, 200);

    const denied = await d.daemon.waitFor(
      (e) => e.event === 'http.denied' && e.client === 'watcher',
      'the denial in the log',
    );
    assert.equal(denied.required, 'operate');
    const unauthorized = d.daemon.events.filter((e) => e.event === 'http.unauthorized');
    assert.deepEqual(unauthorized.map((e) => e.reason).sort(), ['missing', 'unknown']);
    const log = JSON.stringify(d.daemon.events);
    assert.ok(!log.includes('not-a-configured-token-xyz'), 'a presented token is never logged');
    for (const t of Object.values(TOKENS)) assert.ok(!log.includes(t), 'no configured token in the log');
  });

  test('jobs: list, show with contract and next fires, edit, disable, enable; bad bodies name the field', async () => {
    const list = await d.call('GET', '/api/v1/jobs?all=true');
    assert.equal(list.status, 200);
    assert.deepEqual(
      (list.json.jobs as Array<{ name: string }>).map((j) => j.name),
      ['nightly-report'],
    );
    assert.equal(list.json.total, 1);

    const show = await d.call('GET', '/api/v1/jobs/nightly-report');
    assert.equal(show.status, 200);
    assert.ok((show.json.contract as string[]).length > 0);
    assert.equal((show.json.nextRuns as string[]).length, 5);
    assert.match((show.json.nextRuns as string[])[0]!, /T03:00:00\.000Z$/);

    const badCreate = await d.call('POST', '/api/v1/jobs', { body: { name: 42, schedule: {}, payload: {} } });
    assert.equal(badCreate.status, 400);
    assert.equal((badCreate.json.error as { field: string }).field, 'body.name');
    const badSchedule = await d.call('POST', '/api/v1/jobs', {
      body: { name: 'bad', schedule: { kind: 'cron', expr: '61 * * * *' }, payload: { command: 'true' } },
    });
    assert.equal(badSchedule.status, 400);
    assert.match((badSchedule.json.error as { message: string }).message, /^schedule/);
    const taken = await d.call('POST', '/api/v1/jobs', {
      body: {
        name: 'nightly-report',
        schedule: { kind: 'every', everyMs: '1h' },
        payload: { command: 'true' },
      },
    });
    assert.equal(taken.status, 409);

    const edit = await d.call('PATCH', '/api/v1/jobs/nightly-report', {
      body: { description: 'the report' },
    });
    assert.equal(edit.status, 200);
    assert.equal((edit.json.job as { description: string }).description, 'the report');
    const badEdit = await d.call('PATCH', '/api/v1/jobs/nightly-report', { body: { enabled: 'yes' } });
    assert.equal(badEdit.status, 400);
    assert.equal((badEdit.json.error as { field: string }).field, 'body.enabled');
    const empty = await d.call('PATCH', '/api/v1/jobs/nightly-report', { body: {} });
    assert.equal(empty.status, 400);

    const off = await d.call('POST', '/api/v1/jobs/nightly-report/disable');
    assert.equal((off.json.job as { enabled: boolean }).enabled, false);
    assert.equal((await d.call('GET', '/api/v1/jobs')).json.total, 0, 'disabled jobs only with all=true');
    const on = await d.call('POST', '/api/v1/jobs/nightly-report/enable');
    assert.equal((on.json.job as { enabled: boolean }).enabled, true);

    const missing = await d.call('GET', '/api/v1/jobs/no-such-job');
    assert.equal(missing.status, 404);
    assert.equal((missing.json.error as { code: string }).code, 'not_found');
  });

  test('chains: POST a chained job; DELETE of its predecessor is 409 naming it, force=true removes both', async () => {
    const prep = await d.call('POST', '/api/v1/jobs', {
      body: { name: 'h-prep', schedule: { kind: 'every', everyMs: '1h' }, payload: { command: 'true' } },
    });
    assert.equal(prep.status, 201, JSON.stringify(prep.json));
    const reset = await d.call('POST', '/api/v1/jobs', {
      body: { name: 'h-reset', schedule: { kind: 'after', after: 'h-prep' }, payload: { command: 'true' } },
    });
    assert.equal(reset.status, 201, JSON.stringify(reset.json));
    const blocked = await d.call('DELETE', '/api/v1/jobs/h-prep');
    assert.equal(blocked.status, 409, JSON.stringify(blocked.json));
    assert.match(JSON.stringify(blocked.json), /h-prep cannot be removed: h-reset runs after it/);
    assert.equal((await d.call('GET', '/api/v1/jobs/h-reset')).status, 200);
    const forced = await d.call('DELETE', '/api/v1/jobs/h-prep?force=true');
    assert.equal(forced.status, 200, JSON.stringify(forced.json));
    assert.deepEqual(forced.json.alsoRemoved, ['h-reset']);
    assert.equal((await d.call('GET', '/api/v1/jobs/h-reset')).status, 404);
  });

  test('run now: the daemon runs it at once; the event stream shows it; runs list and get show it', async () => {
    const ctrl = new AbortController();
    const res = await fetch(d.url + '/api/v1/events', {
      headers: { authorization: `Bearer ${TOKENS.read}` },
      signal: ctrl.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();

    const bad = await d.call('POST', `/api/v1/jobs/${jobId}/run`, {
      token: TOKENS.operate,
      body: { due: 'now' },
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.json.error as { field: string }).field, 'body.due');
    const run = await d.call('POST', `/api/v1/jobs/${jobId}/run`, { token: TOKENS.operate, body: {} });
    assert.equal(run.status, 202, JSON.stringify(run.json));
    assert.equal(run.json.enqueued, true);
    const runId = run.json.runId as string;

    let text = '';
    const deadline = Date.now() + 30_000;
    while (!new RegExp(`event: run.finished\\ndata: [^\\n]*"runId":"${runId}"`).test(text)) {
      assert.ok(Date.now() < deadline, `no run.finished event in: ${text}`);
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    ctrl.abort();
    assert.match(text, new RegExp(`event: run.started\\ndata: [^\\n]*"runId":"${runId}"`));
    const finished = JSON.parse(
      new RegExp(`event: run.finished\\ndata: ([^\\n]*"runId":"${runId}"[^\\n]*)`).exec(text)![1]!,
    ) as { status: string };
    assert.equal(finished.status, 'ok');

    const got = await d.call('GET', `/api/v1/runs/${runId}`, { token: TOKENS.read });
    assert.equal(got.status, 200);
    assert.equal(got.json.status, 'ok');
    assert.equal(got.json.jobName, 'nightly-report');
    assert.match(got.json.outputTail as string, /report-written/);
    assert.ok((got.json.evidence as unknown[]).length > 0);

    const list = await d.call('GET', `/api/v1/runs?job=nightly-report&status=ok&limit=5`);
    assert.equal(list.status, 200);
    assert.equal((list.json.entries as Array<{ runId: string }>)[0]!.runId, runId);
    const perJob = await d.call('GET', `/api/v1/jobs/nightly-report/runs?limit=1`);
    assert.equal((perJob.json.entries as unknown[]).length, 1);
    const badQuery = await d.call('GET', '/api/v1/runs?status=finished');
    assert.equal(badQuery.status, 400);
    assert.equal((badQuery.json.error as { field: string }).field, 'query.status');
    assert.equal((await d.call('GET', '/api/v1/runs/no-such-run')).status, 404);

    const timeline = await d.call('GET', '/api/v1/timeline?range=24h&buckets=24');
    assert.equal(timeline.status, 200);
    const row = (
      timeline.json.jobs as Array<{ buckets: Array<Record<string, number>>; recent: unknown[] }>
    )[0]!;
    assert.equal(row.buckets.length, 24);
    assert.equal(
      row.buckets.reduce((n, b) => n + (b.ok ?? 0), 0),
      1,
    );
    assert.equal(row.recent.length, 1);
    assert.equal((await d.call('GET', '/api/v1/timeline?range=1y')).status, 400);
  });

  test("a running run's output: the live tail and a follow stream see a line before the run ends", async () => {
    const gate = join(d.h.work, 'import-may-finish');
    const created = await d.call('POST', '/api/v1/jobs', {
      body: {
        name: 'slow-import',
        schedule: { kind: 'every', everyMs: '1d' },
        payload: {
          argv: [
            '/bin/sh',
            '-c',
            `echo 'imported 40 rows'; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo 'imported 80 rows'`,
          ],
        },
      },
    });
    assert.equal(created.status, 201);
    const run = await d.call('POST', '/api/v1/jobs/slow-import/run', { token: TOKENS.operate, body: {} });
    const runId = run.json.runId as string;
    const res = await fetch(`${d.url}/api/v1/runs/${runId}/output?follow=1`, {
      headers: { authorization: `Bearer ${TOKENS.read}` },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (re: RegExp): Promise<void> => {
      while (!re.test(text)) {
        const { value, done } = await reader.read();
        if (done) assert.fail(`the stream ended before ${re}: ${text}`);
        text += value;
      }
    };
    await readUntil(/imported 40 rows/);
    const tail = await d.call('GET', `/api/v1/runs/${runId}/output`, { token: TOKENS.read });
    assert.equal(tail.status, 200);
    assert.equal(tail.json.status, 'running');
    assert.equal(tail.json.source, 'live');
    assert.equal(tail.json.output, 'imported 40 rows\n');

    writeFileSync(join(d.h.work, 'import-may-finish'), '');
    await readUntil(/event: end\n/);
    assert.match(text, /event: line\ndata: \{"stream":"stdout","text":"imported 80 rows"\}/);
    const end = JSON.parse(/event: end\ndata: (.*)\n/.exec(text)![1]!) as {
      status: string;
      output: { output: string };
    };
    assert.equal(end.status, 'ok');
    assert.equal(end.output.output, 'imported 40 rows\nimported 80 rows\n');
    assert.equal((await reader.read()).done, true, 'the stream closes once the run has ended');

    const stored = await d.call('GET', `/api/v1/runs/${runId}/output`, { token: TOKENS.read });
    assert.equal(stored.json.source, 'stored');
    assert.equal(stored.json.status, 'ok');
    assert.equal(stored.json.output, 'imported 40 rows\nimported 80 rows\n');
    // A finished run followed: its output, then the end, then the stream closes.
    const again = await fetch(`${d.url}/api/v1/runs/${runId}/output?follow=1`, {
      headers: { authorization: `Bearer ${TOKENS.read}` },
    });
    assert.match(await again.text(), /event: output\n[\s\S]*event: end\n/);
    assert.equal((await d.call('GET', '/api/v1/runs/no-such-run/output')).status, 404);
    assert.equal((await d.call('GET', `/api/v1/runs/${runId}/output?follow=maybe`)).status, 400);
  });

  test('runs page by cursor: each page starts after the last, a bad cursor is a 400 naming it', async () => {
    const all = await d.call('GET', '/api/v1/runs?limit=500', { token: TOKENS.read });
    const ids = (all.json.entries as Array<{ runId: string }>).map((r) => r.runId);
    assert.ok(ids.length >= 2, 'earlier tests left runs');
    assert.equal(all.json.nextCursor, null);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await d.call('GET', `/api/v1/runs?limit=1${cursor ? `&cursor=${cursor}` : ''}`, {
        token: TOKENS.read,
      });
      assert.equal(page.status, 200, JSON.stringify(page.json));
      assert.equal(page.json.total, ids.length);
      seen.push(...(page.json.entries as Array<{ runId: string }>).map((r) => r.runId));
      cursor = page.json.nextCursor as string | null;
    } while (cursor);
    assert.deepEqual(seen, ids);
    const bad = await d.call('GET', '/api/v1/runs?cursor=not-a-cursor', { token: TOKENS.read });
    assert.equal(bad.status, 400);
    assert.match(
      (bad.json.error as { message: string }).message,
      /cursor: "not-a-cursor" is not a run list cursor/,
    );
  });

  test('status, backup profiles, sessions and alerts answer in the CLI shapes', async () => {
    const status = await d.call('GET', '/api/v1/status', { token: TOKENS.read });
    assert.equal(status.status, 200);
    assert.equal((status.json.daemon as { running: boolean }).running, true);
    assert.equal(status.json.scope, 'read');

    // The doctor's report, read-only: the running daemon is seen; an unknown job is a 404.
    const doctor = await d.call('GET', '/api/v1/doctor', { token: TOKENS.read });
    assert.equal(doctor.status, 200);
    const findings = doctor.json.findings as Array<{ check: string; level: string; message: string }>;
    assert.ok(
      findings.some((f) => f.check === 'daemon' && f.level === 'ok' && /^daemon pid \d+ on /.test(f.message)),
    );
    assert.equal((await d.call('GET', '/api/v1/doctor?job=nope', { token: TOKENS.read })).status, 404);

    const profiles = await d.call('GET', '/api/v1/backup/profiles');
    assert.deepEqual(profiles.json, { profiles: [] });
    const noProfile = await d.call('GET', '/api/v1/backup/profiles/nope/snapshots');
    assert.equal(noProfile.status, 404);
    const badCheck = await d.call('POST', '/api/v1/backup/profiles/nope/check', {
      token: TOKENS.operate,
      body: { readDataSubset: 5 },
    });
    assert.equal(badCheck.status, 400);
    assert.equal((badCheck.json.error as { field: string }).field, 'body.readDataSubset');
    const badDrill = await d.call('POST', '/api/v1/backup/profiles/nope/drill', {
      token: TOKENS.operate,
      body: { sampleFiles: 0 },
    });
    assert.equal(badDrill.status, 400);

    const sessions = await d.call('GET', '/api/v1/sessions');
    assert.deepEqual(sessions.json, { sessions: [] });
    assert.equal((await d.call('GET', '/api/v1/sessions/main')).status, 404);
    const alerts = await d.call('GET', '/api/v1/alerts');
    assert.equal(alerts.status, 200);
    assert.deepEqual(alerts.json.channels, []);
  });

  test('a body over 1 MiB is refused with 413, malformed JSON with 400, unknown paths with 404', async () => {
    const big = await d.call('POST', '/api/v1/jobs', {
      raw: JSON.stringify({ name: 'x'.repeat(1_100_000) }),
    });
    assert.equal(big.status, 413);
    assert.equal((big.json.error as { code: string }).code, 'too_large');
    const broken = await d.call('POST', '/api/v1/jobs', { raw: '{"name": ' });
    assert.equal(broken.status, 400);
    const unknown = await d.call('GET', '/api/v1/nothing');
    assert.equal(unknown.status, 404);
  });

  test('the OpenAPI document lists every endpoint with its scope and the body schema it validates with', async () => {
    const doc = await d.call('GET', '/api/v1/openapi.json', { token: null });
    assert.equal(doc.status, 200);
    assert.equal(doc.json.openapi, '3.1.0');
    const paths = doc.json.paths as Record<string, Record<string, Record<string, unknown>>>;
    for (const p of [
      '/api/v1/jobs',
      '/api/v1/jobs/{job}',
      '/api/v1/jobs/{job}/run',
      '/api/v1/runs',
      '/api/v1/runs/{runId}',
      '/api/v1/status',
      '/api/v1/doctor',
      '/api/v1/backup/profiles/{profile}/snapshots',
      '/api/v1/sessions',
      '/api/v1/alerts',
    ])
      assert.ok(paths[p], `${p} documented`);
    const create = paths['/api/v1/jobs']!.post!;
    assert.equal(create['x-required-scope'], 'admin');
    const schema = (create.requestBody as { content: Record<string, { schema: { required: string[] } }> })
      .content['application/json']!.schema;
    assert.deepEqual(schema.required.sort(), ['name', 'payload', 'schedule']);
  });

  test(
    '/metrics: Prometheus text that promtool accepts, with per-job series',
    { skip: !promtool && 'promtool not installed' },
    async () => {
      const res = await fetch(d.url + '/metrics');
      assert.equal(res.status, 200);
      const text = await res.text();
      for (const name of [
        'nightshift_up 1',
        'nightshift_job_last_success_timestamp_seconds{job="nightly-report"}',
        'nightshift_job_runs_total{job="nightly-report",status="ok"} 1',
        'nightshift_job_run_duration_seconds_bucket{le="0.1",job="nightly-report"}',
        'nightshift_job_consecutive_failures{job="nightly-report"} 0',
        'nightshift_store_latency_seconds',
        'nightshift_build_info{version=',
      ])
        assert.ok(text.includes(name), `${name} in /metrics`);
      const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
    },
  );

  test('`nightshift status` prints the daemon, its address and the dashboard URL', async () => {
    const r = await cli(d.h.home, ['status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^daemon: +running \(pid \d+/m);
    assert.ok(r.stdout.includes(`dashboard: ${d.url}/`), r.stdout);
    const j = await cli(d.h.home, ['status', '--json']);
    assert.deepEqual((JSON.parse(j.stdout) as { http: unknown }).http, {
      url: d.url,
      dashboard: `${d.url}/`,
    });
  });

  test('no response and no log line carries a token; http.json names the address', async () => {
    const all = d.seen.join('\n') + JSON.stringify(d.daemon.events);
    for (const t of Object.values(TOKENS)) assert.ok(!all.includes(t));
    const info = JSON.parse(readFileSync(join(d.h.home, 'http.json'), 'utf8')) as { url: string };
    assert.equal(info.url, d.url);
  });
});

test(
  'the example alert rules in docs/metrics.md pass promtool check rules',
  { skip: !promtool && 'promtool not installed' },
  () => {
    const doc = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
    const rules = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => m[1]!)
      .find((b) => b.includes('groups:'));
    assert.ok(rules, 'a rules block in docs/metrics.md');
    const dir = mkdtempSync(join(tmpdir(), 'ns-rules-'));
    try {
      const file = join(dir, 'nightshift.rules.yml');
      writeFileSync(file, rules);
      const check = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

describe('HTTP settings', () => {
  test('probesNeedToken: /metrics, /healthz and /readyz need a read token', async () => {
    const d = await startHttpDaemon({ http: { probesNeedToken: true } });
    try {
      assert.equal((await d.call('GET', '/metrics', { token: null })).status, 401);
      assert.equal((await d.call('GET', '/healthz', { token: null })).status, 401);
      assert.equal((await d.call('GET', '/readyz', { token: TOKENS.read })).status, 200);
    } finally {
      await d.stop();
    }
  });

  test('--http to a non-loopback address is refused unless the configuration allows it', async () => {
    const h = tempHome();
    try {
      const r = await cli(h.home, ['daemon', '--http', '0.0.0.0:0']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--http: 0\.0\.0\.0 is not a loopback address/);
      assert.match(r.stderr, /hint: .*allowRemote/);
    } finally {
      h.cleanup();
    }
  });
});
