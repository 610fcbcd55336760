/**
 * `nightshift backup copy` and `backup restore-source` as a user runs them: snapshots copied
 * between two repositories with different passwords, a repeated copy adding nothing, and a
 * source name the snapshot does not hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempHome } from './cli-harness.ts';

test('backup copy re-encrypts into another repository and is idempotent; restore-source names a missing source', async () => {
  const t = tempHome();
  try {
    const a = join(t.work, 'a');
    const b = join(t.work, 'b');
    const data = join(t.work, 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'notes.txt'), 'remember the milk\n');
    const envA = { NIGHTSHIFT_PASSWORD: 'pw-a' };
    const envB = { NIGHTSHIFT_PASSWORD: 'pw-b' };
    const [ia, ib] = await Promise.all([
      cli(t.home, ['backup', 'init', '--repo', a], { env: envA }),
      cli(t.home, ['backup', 'init', '--repo', b], { env: envB }),
    ]);
    assert.equal(ia.code, 0, ia.stderr);
    assert.equal(ib.code, 0, ib.stderr);
    const run = await cli(t.home, ['backup', 'run', '--repo', a, data], { env: envA });
    assert.equal(run.code, 0, run.stderr);

    const envCopy = { NIGHTSHIFT_FROM_PASSWORD: 'pw-a', NIGHTSHIFT_PASSWORD: 'pw-b' };
    const first = await cli(t.home, ['--json', 'backup', 'copy', '--from', a, '--to', b], { env: envCopy });
    assert.equal(first.code, 0, first.stderr);
    const r1 = JSON.parse(first.stdout) as { copied: unknown[]; skipped: unknown[]; blobsNew: number };
    assert.equal(r1.copied.length, 1);
    assert.ok(r1.blobsNew > 0);
    const again = await cli(t.home, ['--json', 'backup', 'copy', '--from', a, '--to', b], { env: envCopy });
    const r2 = JSON.parse(again.stdout) as { copied: unknown[]; skipped: unknown[]; blobsNew: number };
    assert.deepEqual([r2.copied.length, r2.skipped.length, r2.blobsNew], [0, 1, 0]);
    // The copy is readable with the destination's password only.
    const dump = await cli(t.home, ['backup', 'dump', 'latest', join(data, 'notes.txt'), '--repo', b], {
      env: envB,
    });
    assert.equal(dump.code, 0, dump.stderr);
    assert.match(dump.stdout, /remember the milk/);
    const wrong = await cli(t.home, ['backup', 'snapshots', '--repo', b], { env: envA });
    assert.equal(wrong.code, 5);

    // No such source: named, with what the snapshot holds.
    const none = await cli(t.home, ['backup', 'restore-source', 'latest', 'erp', '--repo', a], { env: envA });
    assert.equal(none.code, 3, none.stderr);
    assert.match(none.stderr, /has no source named "erp"/);
  } finally {
    t.cleanup();
  }
});
