import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { backup } from '../../src/backup/archiver.ts';
import { diffAll, find, listAll, ls, permissionString } from '../../src/backup/browse.ts';
import { FilesCache } from '../../src/backup/files-cache.ts';
import { restore } from '../../src/backup/restorer.ts';
import { dump } from '../../src/backup/tar.ts';
import { keygen } from '../../src/backup/keys.ts';
import { initRepository, openRepository } from '../../src/backup/repository.ts';
import type { Repo } from '../../src/backup/repository.ts';
import type { SnapshotMeta } from '../../src/backup/ports.ts';
import { newRepo, rmrf, tmpDir } from './archiver-helpers.ts';

describe('ls, find and diff', () => {
  let work: string;
  let repo: Repo;
  let src: string;
  let s1: SnapshotMeta;
  let s2: SnapshotMeta;
  let aMtimeMs: number;
  before(async () => {
    work = tmpDir();
    src = path.join(work, 'src');
    fs.mkdirSync(path.join(src, 'dir/sub'), { recursive: true });
    fs.mkdirSync(path.join(src, 'gone'));
    fs.writeFileSync(path.join(src, 'gone/old.txt'), 'old');
    fs.writeFileSync(path.join(src, 'dir/a.txt'), 'a');
    fs.writeFileSync(path.join(src, 'dir/sub/b.txt'), 'b');
    fs.writeFileSync(path.join(src, 'mode.sh'), 'x');
    fs.writeFileSync(path.join(src, 'touched'), 'same');
    fs.symlinkSync('dir/a.txt', path.join(src, 'ln'));
    repo = await newRepo(path.join(work, 'repo'));
    aMtimeMs = fs.statSync(path.join(src, 'dir/a.txt')).mtimeMs;
    s1 = (await backup(repo, { paths: [src] })).snapshot;
    fs.rmSync(path.join(src, 'gone'), { recursive: true });
    fs.writeFileSync(path.join(src, 'dir/a.txt'), 'a, changed');
    fs.writeFileSync(path.join(src, 'dir/new.txt'), 'new');
    fs.chmodSync(path.join(src, 'mode.sh'), 0o755);
    fs.utimesSync(path.join(src, 'touched'), new Date('2021-01-01'), new Date('2021-01-01'));
    fs.rmSync(path.join(src, 'ln'));
    fs.symlinkSync('dir/new.txt', path.join(src, 'ln'));
    s2 = (await backup(repo, { paths: [src] })).snapshot;
  });
  after(async () => {
    await repo.close();
    rmrf(work);
  });

  test('ls lists a directory recursively with the metadata --json prints', async () => {
    const entries = await listAll(repo, s1, path.join(src, 'dir'));
    assert.deepEqual(
      entries.map((e) => [e.path, e.type]),
      [
        [`${src}/dir`, 'dir'],
        [`${src}/dir/a.txt`, 'file'],
        [`${src}/dir/sub`, 'dir'],
        [`${src}/dir/sub/b.txt`, 'file'],
      ],
    );
    const a = entries[1]!;
    assert.equal(a.size, 1);
    assert.equal(a.permissions, '-rw-r--r--');
    assert.equal(a.mtime, new Date(aMtimeMs).toISOString());
    const top: string[] = [];
    for await (const e of ls(repo, s1, src, { recursive: false })) top.push(e.name);
    assert.deepEqual(top, ['src', 'dir', 'gone', 'ln', 'mode.sh', 'touched']);
    await assert.rejects(listAll(repo, s1, '/no/such/path'), /not in snapshot/);
    assert.equal(permissionString({ type: 'dir', mode: 0o41777 }), 'drwxrwxrwt');
  });

  test('find matches patterns anywhere in the snapshot', async () => {
    const found: string[] = [];
    for await (const e of find(repo, s1, ['b.txt', '*/gone'])) found.push(e.path);
    assert.deepEqual(found, [`${src}/dir/sub/b.txt`, `${src}/gone`, `${src}/gone/old.txt`]);
  });

  test('diff reports added, removed, modified and metadata-only changes', async () => {
    const changes = await diffAll(repo, s1, s2);
    const byPath = Object.fromEntries(changes.map((c) => [c.path.slice(src.length), c.change]));
    assert.deepEqual(byPath, {
      '/dir/a.txt': 'modified',
      '/dir/new.txt': 'added',
      '/gone': 'removed',
      '/gone/old.txt': 'removed',
      '/ln': 'modified',
      '/mode.sh': 'metadata',
      '/touched': 'metadata',
    });
    assert.deepEqual(changes.find((c) => c.path.endsWith('/mode.sh'))!.fields, ['mode']);
    assert.deepEqual(await diffAll(repo, s2, s2), []);
  });
});

describe('recipients mode', () => {
  test('a writer-only host backs up incrementally but cannot restore, ls or dump', async () => {
    const work = tmpDir();
    try {
      const id = await keygen();
      const repoDir = path.join(work, 'repo');
      const { writerKey } = await initRepository(repoDir, { recipients: [id.recipient] });
      const writer = await openRepository(repoDir, { writerKey: writerKey! });
      assert.equal(writer.canRead, false);
      const src = path.join(work, 'src');
      fs.mkdirSync(src);
      fs.writeFileSync(path.join(src, 'secret-plan.txt'), 'the plan');
      const cache = FilesCache.open(path.join(work, 'cache'), { racyMs: 0 });
      const first = await backup(writer, { paths: [src], filesCache: cache });
      const second = await backup(writer, { paths: [src], filesCache: cache });
      cache.close();
      assert.equal(first.stats.bytesRead, 8);
      assert.equal(second.stats.bytesRead, 0, 'the host-local cache works without reading old trees');
      await assert.rejects(restore(writer, second.snapshot, { target: path.join(work, 't') }), /--identity/);
      await assert.rejects(listAll(writer, second.snapshot), /--identity/);
      await assert.rejects(
        dump(writer, second.snapshot, undefined, fs.createWriteStream('/dev/null')),
        /--identity/,
      );
      assert.ok(!fs.existsSync(path.join(work, 't', src)));
      await writer.close();

      const reader = await openRepository(repoDir, { identities: [id.identity] });
      await restore(reader, second.snapshot, { target: path.join(work, 't') });
      assert.equal(fs.readFileSync(path.join(work, 't', src, 'secret-plan.txt'), 'utf8'), 'the plan');
      await reader.close();
    } finally {
      rmrf(work);
    }
  });
});
