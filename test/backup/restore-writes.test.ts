/**
 * What a restore writes through the blob workers (restore-writer.ts): many small files, some the
 * same content under several names, empty and all-zero files, and a file of several chunks whose
 * chunks are written next to each other, all come back byte-exact with their modes and mtimes,
 * and the restore over an existing tree replaces what is there instead of writing through it.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { backup } from '../../src/backup/archiver.ts';
import { restore } from '../../src/backup/restorer.ts';
import { newRepo, rmrf, tmpDir } from './archiver-helpers.ts';

describe('restore writes', () => {
  const dirs: string[] = [];
  after(() => rmrf(...dirs));

  test('small, duplicate, empty, zero and multi-chunk files restore exactly, twice over', async () => {
    const work = tmpDir();
    dirs.push(work);
    const src = path.join(work, 'src');
    const expect = new Map<string, { data: Buffer; mode: number; mtime: number }>();
    const shared = randomBytes(3000);
    const put = (rel: string, data: Buffer, mode: number, i: number): void => {
      const p = path.join(src, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, data);
      fs.chmodSync(p, mode);
      const mtime = 1_600_000_000 + i * 61;
      fs.utimesSync(p, mtime, mtime);
      expect.set(rel, { data, mode, mtime });
    };
    let i = 0;
    for (let d = 0; d < 5; d++) {
      for (let f = 0; f < 40; f++, i++) {
        const data = f % 4 === 0 ? shared : randomBytes(1 + ((f * 997) % 20000));
        put(`d${d}/f${f}.txt`, data, f % 3 === 0 ? 0o600 : 0o644, i);
      }
    }
    put('empty', Buffer.alloc(0), 0o640, i++);
    put('zeros.bin', Buffer.alloc(100_000), 0o644, i++);
    put('big.bin', randomBytes(9 * 1024 * 1024), 0o755, i++);

    const repo = await newRepo(path.join(work, 'repo'));
    const { snapshot } = await backup(repo, { paths: [src] });
    const target = path.join(work, 'target');
    for (let round = 0; round < 2; round++) {
      if (round === 1) {
        // The second restore replaces a changed file and a symlink planted at a file's name.
        fs.writeFileSync(path.join(target, src, 'd0/f1.txt'), 'changed');
        fs.rmSync(path.join(target, src, 'd1/f2.txt'));
        fs.symlinkSync(path.join(work, 'elsewhere'), path.join(target, src, 'd1/f2.txt'));
      }
      const stats = await restore(repo, snapshot, { target });
      assert.equal(stats.failed, 0);
      for (const [rel, e] of expect) {
        const p = path.join(target, src, rel);
        const st = fs.lstatSync(p);
        assert.ok(st.isFile(), `${rel} is a file`);
        assert.ok(fs.readFileSync(p).equals(e.data), `${rel} content (round ${round})`);
        assert.equal(st.mode & 0o7777, e.mode, `${rel} mode`);
        assert.equal(Math.round(st.mtimeMs / 1000), e.mtime, `${rel} mtime`);
      }
      assert.equal(fs.existsSync(path.join(work, 'elsewhere')), false, 'nothing written through the symlink');
      const left = fs.readdirSync(path.join(target, src), { recursive: true }).map(String);
      assert.deepEqual(
        left.filter((n) => n.endsWith('.ns-restore')),
        [],
        'no temporary file left',
      );
    }
    await repo.close();
  });
});
