/**
 * The S3 and SFTP backends against real servers on loopback: s3rver (the S3 protocol, spoken to
 * by the AWS SDK) and OpenSSH's sshd. The same store contract as the local backend, a whole
 * backup/check/restore through each, host-key refusal, outages retried, and an unreachable
 * repository failing with its reason.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backup } from '../../../src/backup/archiver.ts';
import { openBlobStore, type RemoteAccess } from '../../../src/backup/backends/open-store.ts';
import { check } from '../../../src/backup/check.ts';
import { restore } from '../../../src/backup/restorer.ts';
import type { BlobStore } from '../../../src/backup/ports.ts';
import { initRepository, openRepository } from '../../../src/backup/repository.ts';
import { UserError } from '../../../src/domain/errors.ts';
import { startS3Server } from '../../helpers/s3-server.ts';
import { startSshd, type SshServer } from '../../helpers/sshd.ts';
import { FAST_SCRYPT, PASSWORD, rmrf, tmpDir } from '../archiver-helpers.ts';

const QUICK_RETRY = { attempts: 3, baseMs: 20 };

let s3: Awaited<ReturnType<typeof startS3Server>>;
let sshd: SshServer;
let n = 0;

before(async () => {
  [s3, sshd] = await Promise.all([startS3Server(['repos']), startSshd()]);
});
after(async () => {
  await Promise.all([s3?.stop(), sshd?.stop()]);
});

function s3Access(): RemoteAccess {
  return {
    s3: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY },
    retry: QUICK_RETRY,
  };
}
function sftpAccess(): RemoteAccess {
  return { sshKey: sshd.key, knownHostsFile: sshd.knownHosts, retry: QUICK_RETRY };
}

const backends: { name: string; location: () => string; access: () => RemoteAccess }[] = [
  { name: 's3', location: () => `s3:${s3.endpoint}/repos/t${++n}/nested`, access: s3Access },
  {
    name: 'sftp',
    location: () => `sftp://${sshd.user}@127.0.0.1:${sshd.port}/${sshd.dir}/repo${++n}`,
    access: sftpAccess,
  },
];

for (const b of backends) {
  describe(`${b.name} blob store`, () => {
    test('writes, reads ranges, lists recursively, sizes and removes; a missing file is ENOENT', async () => {
      const s = openBlobStore(b.location(), b.access());
      try {
        await s.write('data/ab/abcd', Buffer.from('hello world'));
        await s.write('index/x', Buffer.from('idx'));
        await s.write('empty', new Uint8Array(0));
        assert.equal(Buffer.from(await s.read('data/ab/abcd')).toString(), 'hello world');
        assert.equal(Buffer.from(await s.readRange('data/ab/abcd', 6, 5)).toString(), 'world');
        await assert.rejects(s.readRange('data/ab/abcd', 6, 50), /shorter than expected|InvalidRange/);
        // Lent memory: SFTP reads into it; S3 may answer with its own, the bytes are the same.
        const into = new Uint8Array(16).fill(42);
        const lent = await s.readRange('data/ab/abcd', 6, 5, into);
        assert.equal(Buffer.from(lent).toString(), 'world');
        if (b.name === 'sftp') assert.equal(lent.buffer, into.buffer);
        assert.deepEqual(await s.list('data'), ['ab/abcd']);
        assert.deepEqual(await s.list('nothing-here'), []);
        assert.equal(await s.size('index/x'), 3);
        assert.equal((await s.read('empty')).length, 0);
        assert.equal(await s.exists('index/x'), true);
        await s.remove('index/x');
        assert.equal(await s.exists('index/x'), false);
        await assert.rejects(s.read('index/x'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
        await s.write('k', Buffer.from('first'));
        await s.write('k', Buffer.from('second'));
        assert.equal(
          Buffer.from(await s.read('k')).toString(),
          'first',
          'an existing file is never overwritten',
        );
      } finally {
        await s.close?.();
      }
    });

    test('--limit-upload paces real uploads: 512 KiB at 256 KiB/s takes at least 1 s; sizes come from the listing', async () => {
      const s = openBlobStore(b.location(), { ...b.access(), limitUploadBytesPerSec: 256 * 1024 });
      try {
        const started = performance.now();
        await Promise.all([0, 1, 2, 3].map((i) => s.write(`data/0${i}/p${i}`, randomBytes(128 * 1024 + i))));
        const elapsed = performance.now() - started;
        // 256 KiB of burst, then 256 KiB at the rate: 1 s at the least; the upper bound is generous.
        assert.ok(elapsed >= 950, `took ${elapsed.toFixed(0)} ms`);
        assert.ok(elapsed < 20_000, `took ${elapsed.toFixed(0)} ms`);
        const listed = await s.listSizes('data');
        assert.deepEqual(
          listed,
          [0, 1, 2, 3].map((i) => ({ path: `0${i}/p${i}`, size: 128 * 1024 + i })),
        );
        // Reads are not limited.
        const t = performance.now();
        for (const f of listed) await s.read(`data/${f.path}`);
        assert.ok(performance.now() - t < 5_000);
      } finally {
        await s.close?.();
      }
    });

    test('a multi-pack backup checks with --read-data and restores byte-exact', async () => {
      const src = tmpDir();
      const out = tmpDir();
      const location = b.location();
      try {
        // Incompressible data over two packs, plus many small files (a paginated listing on S3).
        writeFileSync(join(src, 'big.bin'), randomBytes(20 * 1024 * 1024));
        mkdirSync(join(src, 'small'));
        for (let i = 0; i < 30; i++)
          writeFileSync(join(src, 'small', `f${i}.txt`), `file ${i}\n`.repeat(i + 1));
        const store = (): BlobStore => openBlobStore(location, b.access());
        const { repo } = await initRepository(store(), { password: PASSWORD, scrypt: FAST_SCRYPT });
        const r = await backup(repo, { paths: [src], host: 'h', tags: [] });
        await repo.close();
        const again = await openRepository(store(), { password: PASSWORD });
        try {
          const report = await check(again, { readData: true });
          assert.deepEqual(report.errors, []);
          assert.ok(report.counts.packsRead >= 2, `read ${report.counts.packsRead} packs`);
          const snaps = await again.listSnapshots();
          assert.deepEqual(
            snaps.map((s) => s.id),
            [r.snapshot.id],
          );
          await restore(again, snaps[0]!, { target: out });
        } finally {
          await again.close();
        }
        const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
        const restored = join(out, src);
        assert.equal(sha(join(restored, 'big.bin')), sha(join(src, 'big.bin')));
        assert.equal(readdirSync(join(restored, 'small')).length, 30);
        assert.equal(readFileSync(join(restored, 'small', 'f7.txt'), 'utf8'), 'file 7\n'.repeat(8));
      } finally {
        rmrf(src, out);
      }
    });
  });
}

describe('sftp host keys', () => {
  test('a changed host key is refused, naming the host and how to fix it', async () => {
    const other = join(sshd.dir, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const pub = readFileSync(`${other}.pub`, 'utf8').split(' ');
    const kh = join(sshd.dir, 'known_hosts_changed');
    writeFileSync(kh, `[127.0.0.1]:${sshd.port} ${pub[0]} ${pub[1]}\n`);
    const s = openBlobStore(`sftp://${sshd.user}@127.0.0.1:${sshd.port}/${sshd.dir}/x`, {
      sshKey: sshd.key,
      knownHostsFile: kh,
      retry: QUICK_RETRY,
    });
    await assert.rejects(s.list('data'), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /host key of \[127\.0\.0\.1\]:\d+ \(SHA256:[^)]+\) does not match/);
      assert.match(e.hint ?? '', /ssh-keygen -R/);
      return true;
    });
    await s.close?.();
  });

  test('an unknown host is refused with the ssh-keyscan line to add it', async () => {
    const kh = join(sshd.dir, 'known_hosts_empty');
    writeFileSync(kh, '');
    const s2 = openBlobStore(`sftp://${sshd.user}@127.0.0.1:${sshd.port}/${sshd.dir}/x`, {
      sshKey: sshd.key,
      knownHostsFile: kh,
      retry: QUICK_RETRY,
    });
    await assert.rejects(s2.exists('config'), /is not in .*known_hosts_empty/);
    await s2.close?.();
  });

  test('a hashed known_hosts entry (ssh-keygen -H) is accepted', async () => {
    const kh = join(sshd.dir, 'known_hosts_hashed');
    writeFileSync(kh, readFileSync(sshd.knownHosts));
    execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
    assert.match(readFileSync(kh, 'utf8'), /^\|1\|/);
    const s = openBlobStore(`sftp://${sshd.user}@127.0.0.1:${sshd.port}/${sshd.dir}/hashed`, {
      sshKey: sshd.key,
      knownHostsFile: kh,
    });
    await s.write('config', Buffer.from('x'));
    assert.equal(await s.exists('config'), true);
    await s.close?.();
  });
});

describe('outages', () => {
  test('an S3 write during a short outage is retried and lands', async () => {
    const loc = `s3:${s3.endpoint}/repos/outage`;
    const s = openBlobStore(loc, { ...s3Access(), retry: { attempts: 6, baseMs: 100 } });
    await s.write('a', Buffer.from('before'));
    await s3.kill();
    const write = s.write('b', Buffer.from('during'));
    await new Promise((r) => setTimeout(r, 300));
    s3 = await startS3Server(['repos'], { dir: s3.dir, port: s3.port });
    await write;
    assert.equal(Buffer.from(await s.read('b')).toString(), 'during');
    await s.close?.();
  });

  test('a repository that cannot be reached fails with the reason, not "no repository"', async () => {
    for (const loc of [`s3:http://127.0.0.1:1/repos/x`, `sftp://${sshd.user}@127.0.0.1:1//tmp/x`]) {
      await assert.rejects(
        openRepository(openBlobStore(loc, { ...sftpAccess(), ...s3Access() }), { password: PASSWORD }),
        (e: unknown) => {
          assert.ok(e instanceof UserError);
          assert.match(e.message, /^cannot reach repository .*ECONNREFUSED/);
          return true;
        },
      );
    }
  });
});
