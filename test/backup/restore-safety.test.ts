import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { restore } from '../../src/backup/restorer.ts';
import { backup } from '../../src/backup/archiver.ts';
import type { Repo } from '../../src/backup/repository.ts';
import type { SnapshotMeta, TreeNode } from '../../src/backup/ports.ts';
import { newRepo, rmrf, saveRawTree, tmpDir } from './archiver-helpers.ts';

/** Builds a snapshot from raw tree JSON, bypassing the archiver's own checks, as an attacker could. */
async function craft(repo: Repo, build: (file: string) => Promise<string>): Promise<SnapshotMeta> {
  const data = await repo.saveBlob('data', Buffer.from('payload from a hostile snapshot'));
  const tree = await build(data.id);
  await repo.flush();
  return repo.saveSnapshot(
    { time: new Date().toISOString(), hostname: 'evil', paths: ['/'], tags: [], tree },
    [tree, data.id],
  );
}

const saveTree = saveRawTree;

function fileNode(name: string, id: string): Partial<TreeNode> {
  return { name, type: 'file', size: 31, content: [id] };
}

describe('restore never writes outside the target', () => {
  let work: string;
  let repo: Repo;
  let outside: string;
  before(async () => {
    work = tmpDir();
    repo = await newRepo(path.join(work, 'repo'));
  });
  after(async () => {
    await repo.close();
    rmrf(work);
  });

  function freshTargets(): { target: string; outside: string } {
    const t = fs.mkdtempSync(path.join(work, 't-'));
    outside = fs.mkdtempSync(path.join(work, 'outside-'));
    return { target: path.join(t, 'target'), outside };
  }

  const hostile: [string, (id: string) => Promise<string>][] = [
    ['a name with "../"', (id) => saveTree(repo, [fileNode('../x', id)])],
    ['an absolute name', (id) => saveTree(repo, [fileNode('/etc/x', id)])],
    [
      'a ".." directory',
      async (id) =>
        saveTree(repo, [
          { name: '..', type: 'dir', mode: 0o40755, subtree: await saveTree(repo, [fileNode('x', id)]) },
        ]),
    ],
    ['a "." entry', (id) => saveTree(repo, [fileNode('.', id)])],
    ['a NUL byte', (id) => saveTree(repo, [fileNode('a\0b', id)])],
    ['an empty name', (id) => saveTree(repo, [fileNode('', id)])],
  ];
  for (const [what, build] of hostile) {
    test(`refuses ${what}, naming the path`, async () => {
      const snap = await craft(repo, build);
      const { target } = freshTargets();
      await assert.rejects(restore(repo, snap, { target }), (err: Error) => {
        assert.match(err.message, /refusing to restore/);
        return true;
      });
      assert.deepEqual(fs.readdirSync(outside), []);
      assert.ok(!fs.existsSync(path.join(path.dirname(target), 'x')));
    });
  }

  test('refuses a symlink and a directory of the same name (a link smuggled in as a parent)', async () => {
    const { target, outside: out } = freshTargets();
    const snap = await craft(repo, async (id) =>
      saveTree(repo, [
        { name: 'd', type: 'symlink', mode: 0o120777, linkTarget: out },
        { name: 'd', type: 'dir', mode: 0o40755, subtree: await saveTree(repo, [fileNode('x', id)]) },
      ]),
    );
    await assert.rejects(restore(repo, snap, { target }), /"\/d".*appears twice/);
    assert.deepEqual(fs.readdirSync(out), []);
  });

  test('refuses to write through a symlinked directory already in the target', async () => {
    const { target, outside: out } = freshTargets();
    const snap = await craft(repo, async (id) =>
      saveTree(repo, [
        { name: 'home', type: 'dir', mode: 0o40755, subtree: await saveTree(repo, [fileNode('x', id)]) },
      ]),
    );
    fs.mkdirSync(target, { recursive: true });
    fs.symlinkSync(out, path.join(target, 'home'));
    await assert.rejects(restore(repo, snap, { target }), /refusing to restore "\/home".*symlink/);
    assert.deepEqual(fs.readdirSync(out), []);
  });

  test('replaces an existing symlink at a file path instead of following it', async () => {
    const { target, outside: out } = freshTargets();
    fs.writeFileSync(path.join(out, 'victim'), 'original');
    const snap = await craft(repo, async (id) => saveTree(repo, [fileNode('x', id)]));
    fs.mkdirSync(target, { recursive: true });
    fs.symlinkSync(path.join(out, 'victim'), path.join(target, 'x'));
    await restore(repo, snap, { target });
    assert.equal(fs.readFileSync(path.join(out, 'victim'), 'utf8'), 'original');
    assert.ok(fs.lstatSync(path.join(target, 'x')).isFile());
    assert.equal(fs.readFileSync(path.join(target, 'x'), 'utf8'), 'payload from a hostile snapshot');
  });

  test('symlinks in a snapshot are restored as links and never followed', async () => {
    const { target, outside: out } = freshTargets();
    const src = fs.mkdtempSync(path.join(work, 'src-'));
    fs.symlinkSync(out, path.join(src, 'escape'));
    fs.writeFileSync(path.join(src, 'file'), 'inside');
    const { snapshot } = await backup(repo, { paths: [src] });
    await restore(repo, snapshot, { target });
    const link = path.join(target, src, 'escape');
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.equal(fs.readlinkSync(link), out);
    assert.deepEqual(fs.readdirSync(out), []);
  });
});

describe('restore options', () => {
  let work: string;
  let repo: Repo;
  let snap: SnapshotMeta;
  let src: string;
  before(async () => {
    work = tmpDir();
    repo = await newRepo(path.join(work, 'repo'));
    src = path.join(work, 'src');
    fs.mkdirSync(path.join(src, 'keep/deep'), { recursive: true });
    fs.mkdirSync(path.join(src, 'other'), { recursive: true });
    fs.writeFileSync(path.join(src, 'keep/deep/a.txt'), 'a');
    fs.writeFileSync(path.join(src, 'keep/b.log'), 'b');
    fs.writeFileSync(path.join(src, 'other/c.txt'), 'c');
    snap = (await backup(repo, { paths: [src] })).snapshot;
  });
  after(async () => {
    await repo.close();
    rmrf(work);
  });

  test('include and exclude select what is restored; no stray directories', async () => {
    const target = path.join(work, 'inc');
    await restore(repo, snap, { target, include: [`${src}/keep`], exclude: ['*.log'] });
    assert.deepEqual(fs.readdirSync(path.join(target, src)), ['keep']);
    assert.deepEqual(fs.readdirSync(path.join(target, src, 'keep')), ['deep']);
    assert.equal(fs.readFileSync(path.join(target, src, 'keep/deep/a.txt'), 'utf8'), 'a');
  });

  test('overwrite never keeps existing files; always replaces them', async () => {
    const target = path.join(work, 'ow');
    const a = path.join(target, src, 'keep/deep/a.txt');
    fs.mkdirSync(path.dirname(a), { recursive: true });
    fs.writeFileSync(a, 'local edit');
    const s1 = await restore(repo, snap, { target, overwrite: 'never' });
    assert.equal(fs.readFileSync(a, 'utf8'), 'local edit');
    assert.equal(s1.skipped, 1);
    await restore(repo, snap, { target, overwrite: 'always' });
    assert.equal(fs.readFileSync(a, 'utf8'), 'a');
    const s3 = await restore(repo, snap, { target, overwrite: 'if-changed' });
    assert.equal(s3.skipped, 3, 'unchanged files (same size and mtime) are left alone');
  });
});
