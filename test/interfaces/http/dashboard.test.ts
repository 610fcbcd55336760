/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against a real
 * daemon: sign in with a token, see the jobs, click "Run now", watch the run reach `ok`, and open
 * every page. A screenshot of each page is kept in test-artifacts/dashboard/ (not committed).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { cli } from '../cli/cli-harness.ts';
import { startHttpDaemon, TOKENS } from './http-harness.ts';
import type { HttpDaemon } from './http-harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/dashboard/', import.meta.url));

describe('the dashboard in Chromium', { skip: !existsSync(CHROMIUM) && 'no /usr/bin/chromium' }, () => {
  let d: HttpDaemon;
  let browser: Browser;
  let page: Page;

  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    d = await startHttpDaemon();
    // A backup profile with a job (quickstart), and two ordinary jobs, one of them failing.
    const data = join(d.h.work, 'data');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'notes.txt'), 'agent state\n'.repeat(1000));
    const qs = await cli(d.h.home, [
      'backup',
      'quickstart',
      '--path',
      data,
      '--name',
      'agent-state',
      '--no-run',
    ]);
    assert.equal(qs.code, 0, qs.stderr);
    for (const body of [
      {
        name: 'inbox-sweep',
        schedule: { kind: 'every', everyMs: '15m' },
        payload: { argv: ['/bin/sh', '-c', 'echo swept 3 messages'] },
      },
      {
        name: 'flaky-sync',
        schedule: { kind: 'cron', expr: '*/30 * * * *' },
        payload: { argv: ['/bin/sh', '-c', 'echo remote unreachable >&2; exit 3'] },
      },
    ])
      assert.equal((await d.call('POST', '/api/v1/jobs', { body })).status, 201);
    for (const job of ['flaky-sync', 'agent-state', 'inbox-sweep']) {
      const r = await d.call('POST', `/api/v1/jobs/${job}/run`, { body: {} });
      await d.daemon.waitFor(
        (e) => e.event === 'run.finished' && e.runId === r.json.runId,
        `${job} to finish`,
        120_000,
      );
    }
    // A second backup, so the charts have two points.
    const again = await d.call('POST', '/api/v1/jobs/agent-state/run', { body: {} });
    await d.daemon.waitFor(
      (e) => e.event === 'run.finished' && e.runId === again.json.runId,
      'backup',
      120_000,
    );

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });

  after(async () => {
    await browser?.close();
    await d?.stop();
  });

  test('asks for a token, refuses a wrong one, and keeps a good one in the tab only', async () => {
    await page.goto(d.url + '/');
    await page.waitForSelector('#login-form');
    await shot('login');
    await page.fill('#token', 'this-is-not-a-valid-token');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login-error:not([hidden])');
    assert.match((await page.textContent('#login-error')) ?? '', /unknown bearer token/);

    await page.fill('#token', TOKENS.operate);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('tr[data-job-row="inbox-sweep"]');
    assert.equal(await page.evaluate(() => document.cookie), '', 'no cookie is set');
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing outlives the tab');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('nightshift.token')), TOKENS.operate);
    assert.match((await page.textContent('#who')) ?? '', /scope: operate/);
  });

  test('the jobs page shows status, last result, sparkline and timeline; operate sees Run now but not Disable', async () => {
    const row = page.locator('tr[data-job-row="flaky-sync"]');
    assert.match((await row.textContent()) ?? '', /error/);
    assert.equal((await row.locator('svg.timeline rect').count()) > 1, true, 'the timeline has a run');
    assert.equal(await row.locator('button[data-act="run"]').count(), 1);
    assert.equal(await row.locator('button[data-act="disable"]').count(), 0, 'disable needs admin');
    await shot('jobs');
  });

  test('clicking Run now opens the run, which reaches ok', async () => {
    await page.locator('tr[data-job-row="inbox-sweep"] button[data-act="run"]').click();
    await page.waitForURL(/#\/run\//);
    await page.waitForSelector('h1 .badge.s-ok', { timeout: 30_000 });
    assert.match((await page.textContent('#output')) ?? '', /swept 3 messages/);
    await shot('run');
    await page.click('h1 + .grid a');
    await page.waitForSelector('ul.contract li');
    await shot('job');
  });

  test("a running run's output appears on its page line by line, before the run ends", async () => {
    const gate = join(d.h.work, 'export-may-finish');
    const body = {
      name: 'slow-export',
      schedule: { kind: 'every', everyMs: '1d' },
      payload: {
        argv: [
          '/bin/sh',
          '-c',
          `echo 'exported batch 1 of 2'; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo 'exported batch 2 of 2'`,
        ],
      },
    };
    assert.equal((await d.call('POST', '/api/v1/jobs', { body })).status, 201);
    const r = await d.call('POST', '/api/v1/jobs/slow-export/run', { body: {} });
    await page.goto(`${d.url}/#/run/${encodeURIComponent(r.json.runId as string)}`);
    await page.waitForFunction(
      () => /exported batch 1 of 2/.test(document.getElementById('output')?.textContent ?? ''),
      undefined,
      { timeout: 30_000 },
    );
    assert.equal(await page.locator('h1 .badge.s-running').count(), 1, 'the run is still running');
    assert.doesNotMatch((await page.textContent('#output')) ?? '', /batch 2/);
    await shot('run-live');
    writeFileSync(gate, '');
    await page.waitForSelector('h1 .badge.s-ok', { timeout: 30_000 });
    assert.match((await page.textContent('#output')) ?? '', /exported batch 1 of 2\nexported batch 2 of 2/);
  });

  test('runs, backups and alerts pages render', async () => {
    await page.goto(d.url + '/#/runs');
    await page.waitForSelector('table .badge');
    await shot('runs');
    await page.goto(d.url + '/#/backups');
    await page.waitForSelector('[data-profile="agent-state"] svg.chart rect');
    const card = (await page.textContent('[data-profile="agent-state"]')) ?? '';
    assert.match(card, /Snapshots \(2\)/);
    assert.match(card, /last 7|last/);
    await shot('backups');
    await page.goto(d.url + '/#/alerts');
    await page.waitForSelector('h2');
    await shot('alerts');
  });

  test('an admin token gets Disable; clicking it disables the job', async () => {
    await page.evaluate((t) => sessionStorage.setItem('nightshift.token', t), TOKENS.admin);
    await page.goto(d.url + '/#/jobs');
    await page.reload();
    const button = page.locator('tr[data-job-row="flaky-sync"] button[data-act="disable"]');
    await button.click();
    await page.waitForSelector('tr[data-job-row="flaky-sync"] button[data-act="enable"]');
    const job = await d.call('GET', '/api/v1/jobs/flaky-sync');
    assert.equal(job.json.enabled, false);
  });

  test('usable on a phone: no horizontal scrolling on the jobs page', async () => {
    const phone = await browser.newPage({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    try {
      await phone.goto(d.url + '/');
      await phone.evaluate((t) => sessionStorage.setItem('nightshift.token', t), TOKENS.read);
      await phone.reload();
      await phone.waitForSelector('tr[data-job-row="inbox-sweep"]');
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
      await phone.screenshot({ path: join(ARTIFACTS, 'jobs-phone.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  });
});
