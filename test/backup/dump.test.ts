import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { backup } from '../../src/backup/archiver.ts';
import { restore } from '../../src/backup/restorer.ts';
import { dump, encodeHeader, paxRecord } from '../../src/backup/tar.ts';
import type { Repo } from '../../src/backup/repository.ts';
import type { SnapshotMeta } from '../../src/backup/ports.ts';
import { describeTree, newRepo, rmrf, tmpDir } from './archiver-helpers.ts';

/** Pipes a dump into the system's GNU tar and waits for it to finish extracting. */
async function dumpIntoTar(
  repo: Repo,
  snap: SnapshotMeta,
  sub: string | undefined,
  dest: string,
): Promise<void> {
  fs.mkdirSync(dest, { recursive: true });
  const tar = spawn('tar', ['-x', '-f', '-', '-C', dest], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => tar.on('close', r));
  await dump(repo, snap, sub, tar.stdin);
  tar.stdin.end();
  assert.equal(await exited, 0, `tar failed: ${stderr}`);
  assert.equal(stderr, '');
}

describe('dump', () => {
  let work: string;
  let repo: Repo;
  let src: string;
  let snap: SnapshotMeta;
  before(async () => {
    work = tmpDir();
    src = path.join(work, 'src');
    const long = 'a-very-long-directory-name-that-goes-on-and-on-'.repeat(3);
    fs.mkdirSync(path.join(src, long, long, 'ünïcödé 日本'), { recursive: true });
    fs.writeFileSync(path.join(src, long, long, 'ünïcödé 日本', 'файл with a long name '.repeat(6)), 'deep');
    fs.writeFileSync(path.join(src, 'plain.txt'), 'plain\n');
    fs.writeFileSync(path.join(src, 'exec.sh'), '#!/bin/sh\n');
    fs.chmodSync(path.join(src, 'exec.sh'), 0o751);
    const big = Buffer.alloc(2_500_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    fs.writeFileSync(path.join(src, 'big.bin'), big);
    fs.writeFileSync(path.join(src, 'empty'), '');
    fs.mkdirSync(path.join(src, 'empty-dir'));
    fs.symlinkSync('plain.txt', path.join(src, 'link'));
    fs.symlinkSync('/' + 'x'.repeat(150), path.join(src, 'long-link'));
    fs.linkSync(path.join(src, 'plain.txt'), path.join(src, 'hard'));
    repo = await newRepo(path.join(work, 'repo'));
    snap = (await backup(repo, { paths: [src] })).snapshot;
  });
  after(async () => {
    await repo.close();
    rmrf(work);
  });

  test('GNU tar extracts the dump to exactly what restore writes', async () => {
    const viaTar = path.join(work, 'via-tar');
    const viaRestore = path.join(work, 'via-restore');
    await dumpIntoTar(repo, snap, undefined, viaTar);
    await restore(repo, snap, { target: viaRestore });
    // tar stores whole seconds; everything else must match exactly.
    const a = describeTree(path.join(viaTar, src), { mtimes: false });
    const b = describeTree(path.join(viaRestore, src), { mtimes: false });
    assert.deepEqual(a, b);
    assert.equal(Object.keys(a).length, 12);
    const st = fs.statSync(path.join(viaTar, src, 'hard'));
    assert.equal(st.ino, fs.statSync(path.join(viaTar, src, 'plain.txt')).ino, 'hardlinks survive');
    const mt = fs.statSync(path.join(viaTar, src, 'big.bin')).mtimeMs;
    assert.equal(Math.floor(mt / 1000), Math.floor(fs.statSync(path.join(src, 'big.bin')).mtimeMs / 1000));
  });

  test('dumping a directory inside the snapshot names entries from that directory', async () => {
    const dest = path.join(work, 'sub');
    await dumpIntoTar(repo, snap, src, dest);
    assert.deepEqual(fs.readdirSync(dest), ['src']);
    assert.equal(fs.readFileSync(path.join(dest, 'src/plain.txt'), 'utf8'), 'plain\n');
    await assert.rejects(
      dump(repo, snap, src + '/missing', fs.createWriteStream('/dev/null')),
      /not in snapshot/,
    );
  });

  test('headers: pax records carry sizes beyond 8 GiB and unicode names', () => {
    assert.equal(paxRecord('path', 'a'), '9 path=a\n');
    // The length counts its own digits: 98 bytes of record plus 3 digits is 101, not 100.
    assert.equal(paxRecord('k', 'x'.repeat(94)), '101 k=' + 'x'.repeat(94) + '\n');
    const h = encodeHeader({
      name: 'big.img',
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: 9 * 1024 ** 3,
      mtimeMs: 0,
    });
    assert.equal(h.length, 3 * 512);
    assert.match(h.subarray(512, 1024).toString('utf8'), /^\d+ size=9663676416\n/);
    // GNU tar reads the pax size and name (the content itself is left out: tar lists the header, then stops).
    const f = path.join(work, 'hdr.tar');
    fs.writeFileSync(f, Buffer.concat([h, Buffer.alloc(1024)]));
    assert.match(spawnSync('tar', ['-tvf', f], { encoding: 'utf8' }).stdout, /9663676416 .* big\.img/);
    const u = encodeHeader({
      name: 'dîr/ünï.txt',
      type: 'file',
      mode: 0o600,
      uid: 0,
      gid: 0,
      size: 0,
      mtimeMs: 0,
    });
    fs.writeFileSync(f, Buffer.concat([u, Buffer.alloc(1024)]));
    assert.equal(spawnSync('tar', ['-tf', f], { encoding: 'utf8' }).stdout, 'dîr/ünï.txt\n');
  });
});
