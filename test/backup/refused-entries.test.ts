/**
 * One rule for a snapshot tree, wherever it is read: what a restore refuses (an unsafe name, or
 * one name twice in a directory, such as a symlink and a directory), `dump` refuses too (tar
 * would extract it), and `check` reports.
 */
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { check } from '../../src/backup/check.ts';
import { dump } from '../../src/backup/tar.ts';
import type { Repo } from '../../src/backup/repository.ts';
import type { SnapshotMeta } from '../../src/backup/ports.ts';
import { UserError } from '../../src/domain/errors.ts';
import { newRepo, rmrf, saveRawTree, tmpDir } from './archiver-helpers.ts';

const saveTree = saveRawTree;

async function snapshotOf(repo: Repo, build: (data: string) => Promise<string[]>): Promise<SnapshotMeta> {
  const data = await repo.saveBlob('data', Buffer.from('payload'));
  const trees = await build(data.id);
  await repo.flush();
  return repo.saveSnapshot(
    { time: new Date().toISOString(), hostname: 'h', paths: ['/'], tags: [], tree: trees[0]! },
    [...trees, data.id],
  );
}

/** A symlink `d` and a directory `d` holding a file, under `parent` when given. */
async function linkAndDir(repo: Repo, parent?: string): Promise<SnapshotMeta> {
  return snapshotOf(repo, async (data) => {
    const inner = await saveTree(repo, [{ name: 'x', size: 7, content: [data] }]);
    const dup = await saveTree(repo, [
      { name: 'd', type: 'symlink', mode: 0o120777, linkTarget: '/tmp' },
      { name: 'd', type: 'dir', mode: 0o40755, subtree: inner },
    ]);
    if (!parent) return [dup, inner];
    const root = await saveTree(repo, [{ name: parent, type: 'dir', mode: 0o40755, subtree: dup }]);
    return [root, dup, inner];
  });
}

describe('a tree restore refuses is refused by dump and reported by check', () => {
  let work: string;
  let repo: Repo;
  before(async () => {
    work = tmpDir();
    repo = await newRepo(path.join(work, 'repo'));
  });
  after(async () => {
    await repo.close();
    rmrf(work);
  });

  test('dump refuses a symlink and a directory of the same name, at the top and below', async () => {
    for (const [parent, shown] of [
      [undefined, '"d"'],
      ['home', '"home/d"'],
    ] as const) {
      const snap = await linkAndDir(repo, parent);
      const out = new PassThrough();
      out.resume();
      await assert.rejects(dump(repo, snap, undefined, out), (err: unknown) => {
        assert.ok(err instanceof UserError);
        assert.equal(err.message, `refusing to dump ${shown}: it appears twice in one directory`);
        assert.equal(err.code, 'unsafe_path');
        assert.equal(err.exitCode, 1);
        assert.match(err.hint ?? '', /restore refuses this snapshot tree too/);
        return true;
      });
    }
  });

  test('check reports the entry by its path and fails', async () => {
    // A repository of its own: check names a tree by the first path it reaches it by.
    const own = await newRepo(path.join(work, 'own'));
    const snap = await linkAndDir(own, 'srv');
    const report = await check(own);
    await own.close();
    assert.equal(report.ok, false);
    const hit = report.errors.find((e) => e.message.includes('"/srv/d"'));
    assert.ok(hit, JSON.stringify(report.errors));
    assert.match(
      hit.message,
      new RegExp(
        `snapshot ${snap.id.slice(0, 12)} holds "/srv/d", which restore and dump refuse: it appears twice`,
      ),
    );
  });
});
