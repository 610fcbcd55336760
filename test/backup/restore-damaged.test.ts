/**
 * A restore that meets damaged data restores every file it can, never leaves a partial file at a
 * final name, names each file it could not restore, and (the CLI) exits non-zero.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backup } from '../../src/backup/archiver.ts';
import { restore } from '../../src/backup/restorer.ts';
import { packPath } from '../../src/backup/pack.ts';
import { PASSWORD, describeTree, newRepo, reopen, rmrf, tmpDir } from './archiver-helpers.ts';
import { noise } from './repository-helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/nightshift', import.meta.url));

/** Source tree: 40 small text files, two large incompressible ones, one of them the victim. */
function makeSource(src: string): void {
  fs.mkdirSync(path.join(src, 'notes'), { recursive: true });
  for (let i = 0; i < 40; i++)
    fs.writeFileSync(
      path.join(src, 'notes', `n${String(i).padStart(2, '0')}.txt`),
      `note ${i}\n`.repeat(200 + i),
    );
  fs.writeFileSync(path.join(src, 'big-a.bin'), noise('a', 300_000));
  fs.writeFileSync(path.join(src, 'victim.bin'), noise('v', 109_138));
}

/** Flips one byte inside the sealed blob that holds the start of `file` in the snapshot. */
async function damage(repoDir: string, file: string, src: string): Promise<void> {
  const repo = await reopen(repoDir);
  const snap = await repo.loadSnapshot('latest');
  // Find the file's first chunk id through the trees (path components below the snapshot root).
  let tree = snap.tree;
  const comps = path.join(src, file).split('/').filter(Boolean);
  let id: string | undefined;
  for (const [i, name] of comps.entries()) {
    const nodes = (
      JSON.parse(Buffer.from(await repo.loadBlob(tree)).toString()) as {
        nodes: { name: string; subtree?: string; content?: string[] }[];
      }
    ).nodes;
    const n = nodes.find((x) => x.name === name)!;
    if (i === comps.length - 1) id = n.content![0];
    else tree = n.subtree!;
  }
  const e = repo.index.get(id!)!;
  await repo.close();
  const p = path.join(repoDir, packPath(e.pack));
  const bytes = fs.readFileSync(p);
  bytes[e.offset + 40]! ^= 0x5a;
  fs.chmodSync(p, 0o600);
  fs.writeFileSync(p, bytes);
}

function leftovers(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((n) => n.includes('.ns-restore'));
}

describe('restore with damaged data', () => {
  const dirs: string[] = [];
  after(() => rmrf(...dirs));

  test('restores every intact file, leaves no partial file, and names the one it could not restore', async () => {
    const work = tmpDir();
    dirs.push(work);
    const src = path.join(work, 'src');
    makeSource(src);
    const repoDir = path.join(work, 'repo');
    const repo = await newRepo(repoDir);
    await backup(repo, { paths: [src] });
    await repo.close();
    await damage(repoDir, 'victim.bin', src);

    const target = path.join(work, 'target');
    const warnings: { path: string; message: string }[] = [];
    const r = await reopen(repoDir);
    const stats = await restore(r, await r.loadSnapshot('latest'), {
      target,
      onWarning: (w) => warnings.push(w),
    });
    await r.close();

    const victim = path.join(src, 'victim.bin');
    assert.equal(stats.failed, 1);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0]!.path, victim);
    assert.match(warnings[0]!.message, /^not restored: .*damaged.*blob [0-9a-f]{16}/);
    assert.equal(fs.existsSync(path.join(target, victim)), false, "no file at the damaged file's name");
    assert.deepEqual(leftovers(target), [], 'no temporary file is left');
    const expected = describeTree(src);
    delete expected['victim.bin'];
    assert.deepEqual(
      describeTree(path.join(target, src)),
      expected,
      'every other file is restored byte-exact',
    );
    assert.equal(stats.files, 41);
  });

  test('a missing pack: its files are listed, the files in other packs restored; the CLI exits non-zero', async () => {
    const work = tmpDir();
    dirs.push(work);
    const src = path.join(work, 'src');
    makeSource(src);
    const repoDir = path.join(work, 'repo');
    const repo = await newRepo(repoDir);
    await backup(repo, { paths: [src] });
    // A file larger than a pack: its first pack holds nothing else (trees go into the last one).
    fs.writeFileSync(path.join(src, 'later.bin'), randomBytes(40 * 1024 * 1024));
    await backup(repo, { paths: [src] });
    const laterPack = [...repo.index.packs.values()].find(
      (p) => p.blobs.length > 10 && p.blobs.every((b) => b.type === 'data'),
    )!.id;
    await repo.close();
    fs.rmSync(path.join(repoDir, packPath(laterPack)));

    const target = path.join(work, 'target');
    const res = spawnSync(
      process.execPath,
      [
        BIN,
        '--home',
        path.join(work, 'home'),
        'backup',
        'restore',
        'latest',
        '-r',
        repoDir,
        '--target',
        target,
      ],
      { env: { ...process.env, NIGHTSHIFT_PASSWORD: PASSWORD }, encoding: 'utf8' },
    );
    assert.notEqual(res.status, 0, res.stderr);
    assert.match(
      res.stderr,
      new RegExp(`${path.join(src, 'later.bin').replace(/[/.]/g, '\\$&')}: not restored: .*missing`),
    );
    assert.equal(fs.existsSync(path.join(target, src, 'later.bin')), false);
    assert.deepEqual(leftovers(target), []);
    assert.deepEqual(describeTree(path.join(target, src, 'notes')), describeTree(path.join(src, 'notes')));
    assert.equal(fs.readFileSync(path.join(target, src, 'victim.bin')).length, 109_138);
  });
});
