import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { backup } from '../../src/backup/archiver.ts';
import { restore } from '../../src/backup/restorer.ts';
import { newRepo, rmrf, tmpDir } from './archiver-helpers.ts';

const GiB = 1024 ** 3;

describe('files over 4 GiB', () => {
  const dirs: string[] = [];
  after(() => rmrf(...dirs));

  test('a 4.5 GiB sparse file round-trips exactly and restores sparse', { timeout: 180_000 }, async () => {
    const work = tmpDir();
    dirs.push(work);
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    const file = path.join(src, 'disk.img');
    const size = 4.5 * GiB + 123;
    const marks: [number, string][] = [
      [0, 'start of the image'],
      [3 * GiB + 7, 'past 3 GiB'],
      [4 * GiB + 4096, 'beyond the 32-bit boundary'],
      [size - 5, 'end!!'],
    ];
    const fd = fs.openSync(file, 'w');
    fs.ftruncateSync(fd, size);
    for (const [off, text] of marks) fs.writeSync(fd, text, off);
    fs.closeSync(fd);

    const repo = await newRepo(path.join(work, 'repo'));
    const t0 = Date.now();
    const { snapshot, stats } = await backup(repo, { paths: [src] });
    const backupMs = Date.now() - t0;
    assert.equal(stats.bytesRead, size);
    assert.ok(
      stats.bytesNew < 20 * 1024 * 1024,
      `zero regions are stored once (${stats.bytesNew} new bytes)`,
    );

    const target = path.join(work, 'target');
    const t1 = Date.now();
    await restore(repo, snapshot, { target });
    const restoreMs = Date.now() - t1;
    const out = path.join(target, file);
    const st = fs.statSync(out);
    assert.equal(st.size, size);
    assert.ok(st.blocks * 512 < 64 * 1024 * 1024, `restored sparse (${st.blocks * 512} bytes allocated)`);
    const rfd = fs.openSync(out, 'r');
    for (const [off, text] of marks) {
      const buf = Buffer.alloc(text.length + 8);
      const n = fs.readSync(rfd, buf, 0, buf.length, Math.max(0, off - 4));
      const expected = Buffer.alloc(buf.length);
      Buffer.from(text).copy(expected, off - Math.max(0, off - 4));
      assert.deepEqual(buf.subarray(0, n), expected.subarray(0, n), `bytes around ${off}`);
    }
    fs.closeSync(rfd);
    await repo.close();
    process.stderr.write(`# sparse 4.5 GiB: backup ${backupMs} ms, restore ${restoreMs} ms\n`);
  });
});
