/**
 * Faults of the repository's place get errors naming the problem and the fix, not an internal
 * error with an errno: a file where the repository directory should be, an existing repository,
 * a full disk (a real tmpfs of 256 KiB, mounted in a user namespace).
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initRepository } from '../../src/backup/repository.ts';
import { EXIT, UserError } from '../../src/domain/errors.ts';
import { FAST_SCRYPT, PASSWORD, newRepo, rmrf, tmpDir } from './archiver-helpers.ts';

const work = tmpDir();
after(() => rmrf(work));

/** Every file under `dir` with its size: what "unchanged" is compared by. */
function listing(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map((f) => {
      const st = fs.statSync(path.join(dir, f));
      return `${f}:${st.isDirectory() ? 'dir' : st.size}`;
    })
    .sort();
}

describe('backup init on a place that cannot hold a repository', () => {
  test('a path that is a file (or below one) is refused naming the file; the file is untouched', async () => {
    const file = path.join(work, 'notes.txt');
    fs.writeFileSync(file, 'keep me');
    for (const location of [file, path.join(file, 'repo')]) {
      await assert.rejects(
        initRepository(location, { password: PASSWORD, scrypt: FAST_SCRYPT }),
        (err: unknown) => {
          assert.ok(err instanceof UserError, String(err));
          assert.equal(
            err.message,
            `${location} cannot hold a repository: ${file} is a file, not a directory`,
          );
          assert.equal(err.code, 'not_a_directory');
          assert.equal(err.exitCode, EXIT.usage);
          assert.match(err.hint ?? '', /directory path/);
          return true;
        },
      );
    }
    assert.equal(fs.readFileSync(file, 'utf8'), 'keep me');
  });

  test('an existing repository has its own exit code (6), and stays as it was', async () => {
    const dir = path.join(work, 'repo');
    const repo = await newRepo(dir);
    await repo.close();
    const before = listing(dir);
    await assert.rejects(initRepository(dir, { password: 'other', scrypt: FAST_SCRYPT }), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /a repository already exists at/);
      assert.equal(err.exitCode, EXIT.exists);
      assert.equal(err.exitCode, 6);
      assert.equal(err.code, 'exists');
      return true;
    });
    assert.deepEqual(listing(dir), before);
  });
});

describe('a full disk', () => {
  test('a write that runs out of space names the disk and the fix, and leaves no partial file', (t) => {
    const mnt = path.join(work, 'small');
    fs.mkdirSync(mnt);
    const local = fileURLToPath(new URL('../../src/backup/backends/local.ts', import.meta.url));
    const script = `
      const { LocalBlobStore } = await import(${JSON.stringify(local)});
      const { randomBytes } = await import('node:crypto');
      const { readdirSync } = await import('node:fs');
      const store = new LocalBlobStore(process.argv[1]);
      let out;
      await store.write('data/aa/first', randomBytes(100 * 1024));
      try { await store.write('data/ab/pack', randomBytes(1024 * 1024)); out = { written: true }; }
      catch (err) { out = { message: err.message, hint: err.hint, code: err.code, exitCode: err.exitCode, name: err.name }; }
      out.left = readdirSync(process.argv[1], { recursive: true });
      // A pack written through a sink, as a backup writes them: the same error at its commit.
      const sink = store.openSink('data');
      for (let i = 0; i < 4; i++) await sink.append(randomBytes(256 * 1024));
      try { await sink.commit('data/ac/pack'); out.sink = { written: true }; }
      catch (err) { out.sink = { message: err.message, code: err.code }; }
      out.leftAfterSink = readdirSync(process.argv[1], { recursive: true });
      console.log(JSON.stringify(out));`;
    const r = spawnSync(
      'unshare',
      [
        '-rm',
        'sh',
        '-c',
        'mount -t tmpfs -o size=256k tmpfs "$1" && exec "$2" --import tsx --input-type=module -e "$3" "$1"',
        'sh',
        mnt,
        process.execPath,
        script,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    if (r.status !== 0 && /mount|unshare|Operation not permitted/.test(r.stderr + (r.error?.message ?? ''))) {
      t.skip(`cannot mount a small tmpfs here: ${(r.stderr || r.error?.message || '').trim()}`);
      return;
    }
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out.name, 'UserError', JSON.stringify(out));
    assert.equal(out.message, `no space left on the repository's disk (${mnt})`);
    assert.equal(out.code, 'no_space');
    assert.equal(out.exitCode, EXIT.failed);
    assert.match(
      String(out.hint),
      /free space on that disk.*this command wrote 0\.1 MiB of packs before the disk filled.*`nightshift backup prune` removes them/,
    );
    assert.deepEqual(
      (out.left as string[]).sort(),
      ['data', 'data/aa', 'data/aa/first', 'data/ab'],
      'no temporary or partial file is left',
    );
    assert.deepEqual(out.sink, {
      message: `no space left on the repository's disk (${mnt})`,
      code: 'no_space',
    });
    assert.deepEqual((out.leftAfterSink as string[]).sort(), ['data', 'data/aa', 'data/aa/first', 'data/ab']);
  });
});
