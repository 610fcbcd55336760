import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  checkEvidence,
  evidenceFailure,
  formatAge,
  MTIME_TOLERANCE_MS,
} from '../../src/payloads/evidence.ts';

describe('evidence', () => {
  let dir: string;
  const HOUR = 3_600_000;
  let start: number;

  function writeAt(rel: string, bytes: number, mtimeMs: number): string {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, Buffer.alloc(bytes, 1));
    fs.utimesSync(p, mtimeMs / 1000, mtimeMs / 1000);
    return p;
  }

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
    start = Date.now();
    writeAt('backups/2027-01-01.tar.gz', 5000, start - 3 * HOUR);
    writeAt('backups/2027-01-02.tar.gz', 10, start + 500);
    writeAt('backups/2027-01-03.tar.gz', 3000, start + 1000);
    writeAt('stale/only.tar.gz', 5000, start - 26 * HOUR);
    writeAt('edge/just-before.txt', 1, start - MTIME_TOLERANCE_MS / 2);
    fs.mkdirSync(path.join(dir, 'dironly', 'x.tar.gz'), { recursive: true });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (output = '') => ({ startedAtMs: start, output, cwd: dir, nowMs: start + 2000 });

  test('no expectations: nothing to check', async () => {
    assert.deepEqual(await checkEvidence({}, run()), []);
  });

  test('a fresh match passes; relative globs resolve against the cwd, absolute ones as given', async () => {
    for (const pattern of [
      'backups/*.tar.gz',
      path.join(dir, 'backups', '*.tar.gz'),
      '**/2027-01-03.tar.gz',
    ]) {
      const res = await checkEvidence({ expectFile: pattern }, run());
      assert.equal(res.length, 1);
      assert.equal(res[0]?.ok, true, pattern);
      assert.match(res[0]?.detail ?? '', /2027-01-03\.tar\.gz was written during the run \(3000 bytes\)/);
    }
  });

  test('only old matches: the reason says how old the newest is', async () => {
    const res = await checkEvidence({ expectFile: 'stale/*.tar.gz' }, run());
    assert.equal(
      evidenceFailure(res),
      `expected a file matching stale/*.tar.gz modified during the run; newest match is 26h old (${path.join(dir, 'stale', 'only.tar.gz')})`,
    );
  });

  test('no match at all, and a directory does not count as a file', async () => {
    let res = await checkEvidence({ expectFile: 'missing/*.tar.gz' }, run());
    assert.equal(evidenceFailure(res), 'expected a file matching missing/*.tar.gz; none exists');
    res = await checkEvidence({ expectFile: 'dironly/*.tar.gz' }, run());
    assert.equal(evidenceFailure(res), 'expected a file matching dironly/*.tar.gz; none exists');
  });

  test('mtime tolerance: a file stamped just before the start (coarse clocks) still counts', async () => {
    const res = await checkEvidence({ expectFile: 'edge/*.txt' }, run());
    assert.equal(res[0]?.ok, true);
  });

  test('min bytes: one fresh file must satisfy both; the old big one does not help', async () => {
    let res = await checkEvidence({ expectFile: 'backups/*.tar.gz', expectMinBytes: 2000 }, run());
    assert.deepEqual(
      res.map((r) => r.ok),
      [true, true],
    );
    res = await checkEvidence({ expectFile: 'backups/*.tar.gz', expectMinBytes: 4000 }, run());
    assert.equal(
      evidenceFailure(res),
      `expected a file matching backups/*.tar.gz of at least 4000 bytes; the largest written during the run has 3000 bytes (${path.join(dir, 'backups', '2027-01-03.tar.gz')})`,
    );
    res = await checkEvidence({ expectFile: 'stale/*.tar.gz', expectMinBytes: 10 }, run());
    assert.equal(res.length, 2);
    assert.match(res[1]?.detail ?? '', /of at least 10 bytes written during the run; there is none/);
  });

  test('output regex: match, miss with the last line shown, empty output, bad pattern', async () => {
    let res = await checkEvidence({ expectOutput: '^done: \\d+ files$' }, run('start\ndone: 12 files\n'));
    assert.equal(res[0]?.ok, true);
    res = await checkEvidence({ expectOutput: 'done' }, run('start\nfailed halfway\n'));
    assert.equal(
      evidenceFailure(res),
      'expected the output to match /done/; it did not (last line: "failed halfway")',
    );
    res = await checkEvidence({ expectOutput: 'done' }, run(''));
    assert.equal(evidenceFailure(res), 'expected the output to match /done/; the run printed nothing');
    res = await checkEvidence({ expectOutput: '(' }, run('x'));
    assert.match(evidenceFailure(res) ?? '', /not a valid regular expression/);
  });

  test('several failures are all named', async () => {
    const res = await checkEvidence({ expectFile: 'missing/*', expectOutput: 'ok' }, run('nope'));
    assert.equal(res.length, 2);
    assert.match(evidenceFailure(res) ?? '', /none exists; expected the output to match \/ok\//);
  });

  test('ages read naturally', () => {
    assert.equal(formatAge(40_000), '40s');
    assert.equal(formatAge(12 * 60_000), '12m');
    assert.equal(formatAge(3 * HOUR), '3h');
    assert.equal(formatAge(72 * HOUR), '3d');
  });
});
