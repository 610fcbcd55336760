import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { backup, type Progress } from '../../src/backup/archiver.ts';
import { restore } from '../../src/backup/restorer.ts';
import { describeTree, newRepo, reopen, rmrf, tmpDir } from './archiver-helpers.ts';

describe('backup and restore round trip', () => {
  const dirs: string[] = [];
  after(() => rmrf(...dirs));

  test('restores content and metadata byte-exact', async () => {
    const work = tmpDir();
    dirs.push(work);
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'hello.txt'), 'hello world\n');
    fs.writeFileSync(path.join(src, 'empty'), '');
    fs.mkdirSync(path.join(src, 'empty-dir'));
    fs.mkdirSync(path.join(src, 'sub/deeper'), { recursive: true });
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    fs.writeFileSync(path.join(src, 'sub/deeper/big.bin'), big);
    fs.writeFileSync(path.join(src, 'sub/script.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    fs.chmodSync(path.join(src, 'sub/script.sh'), 0o750);
    fs.writeFileSync(path.join(src, 'sub/private'), 'secret', { mode: 0o600 });
    fs.chmodSync(path.join(src, 'sub/private'), 0o400);
    fs.writeFileSync(path.join(src, 'naïve — 日本語 🎉.txt'), 'unicode name');
    fs.symlinkSync('hello.txt', path.join(src, 'link-rel'));
    fs.symlinkSync('/nonexistent/target', path.join(src, 'link-dangling'));
    fs.writeFileSync(path.join(src, 'hard-a'), 'shared inode');
    fs.linkSync(path.join(src, 'hard-a'), path.join(src, 'sub/hard-b'));
    const old = new Date('2020-02-03T04:05:06.789Z');
    fs.utimesSync(path.join(src, 'hello.txt'), old, old);
    fs.utimesSync(path.join(src, 'empty-dir'), old, old);
    fs.chmodSync(path.join(src, 'empty-dir'), 0o750);

    const repoDir = path.join(work, 'repo');
    const repo = await newRepo(repoDir);
    const progress: Progress[] = [];
    const { snapshot, stats } = await backup(repo, {
      paths: [src],
      tags: ['t1'],
      host: 'host-a',
      onProgress: (p) => progress.push(p),
    });
    const last = progress.at(-1)!;
    assert.equal(last.files, 8);
    assert.equal(last.bytesDone, stats.bytesTotal);
    if (last.totalFiles !== undefined) assert.equal(last.totalFiles, 8, 'the estimate counts every file');
    assert.deepEqual(snapshot.paths, [src]);
    assert.deepEqual(snapshot.tags, ['t1']);
    assert.equal(snapshot.hostname, 'host-a');
    assert.equal(stats.files, 8);
    assert.equal(stats.errors, 0);
    assert.ok(stats.bytesRead >= big.length);
    await repo.close();

    const again = await reopen(repoDir);
    const snap = await again.loadSnapshot(snapshot.id);
    const target = path.join(work, 'target');
    const rs = await restore(again, snap, { target, verify: true });
    assert.equal(rs.verified, 7); // the second name of the hardlink is linked, not written
    const restored = path.join(target, src);
    assert.deepEqual(describeTree(restored), describeTree(src));
    const a = fs.statSync(path.join(restored, 'hard-a'));
    const b = fs.statSync(path.join(restored, 'sub/hard-b'));
    assert.equal(a.ino, b.ino, 'hardlinks are relinked');
    assert.equal(fs.statSync(path.join(restored, 'hello.txt')).mtime.toISOString(), old.toISOString());
    await again.close();
  });

  test('excludes, exclude files and marker files leave things out; bad input is refused before writing', async () => {
    const work = tmpDir();
    dirs.push(work);
    const src = path.join(work, 'src');
    fs.mkdirSync(path.join(src, 'node_modules/pkg'), { recursive: true });
    fs.mkdirSync(path.join(src, 'cache'));
    fs.mkdirSync(path.join(src, 'keep'));
    fs.writeFileSync(path.join(src, 'node_modules/pkg/index.js'), 'x');
    fs.writeFileSync(path.join(src, 'cache/.nobackup'), '');
    fs.writeFileSync(path.join(src, 'cache/big'), 'x');
    fs.writeFileSync(path.join(src, 'keep/app.log'), 'x');
    fs.writeFileSync(path.join(src, 'keep/app.ts'), 'x');
    const excludeFile = path.join(work, 'excludes.txt');
    fs.writeFileSync(excludeFile, '# generated\nnode_modules\n');
    const repo = await newRepo(path.join(work, 'repo'));
    const { snapshot, stats } = await backup(repo, {
      paths: [src],
      excludes: ['*.log'],
      excludeFiles: [excludeFile],
      excludeIfPresent: ['.nobackup'],
    });
    assert.equal(stats.files, 1);
    const target = path.join(work, 'target');
    await restore(repo, snapshot, { target });
    assert.deepEqual(Object.keys(describeTree(path.join(target, src))), ['keep', 'keep/app.ts']);
    await assert.rejects(
      backup(repo, { paths: [src], excludeFiles: [path.join(work, 'nope')] }),
      /cannot read exclude file/,
    );
    await assert.rejects(backup(repo, { paths: [src], excludes: ['[oops'] }), /unclosed/);
    await assert.rejects(backup(repo, { paths: [src], excludeIfPresent: ['a/b'] }), /exclude-if-present/);
    assert.equal((await repo.listSnapshots()).length, 1, 'refused runs write no snapshot');
    await repo.close();
  });
});
