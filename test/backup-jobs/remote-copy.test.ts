/**
 * A profile that backs up to an SFTP repository (a real sshd) and copies every snapshot to an
 * S3 repository (s3rver, the real AWS SDK), with tiered retention applied to both: each run is
 * ok with evidence for the backup and for the copy, and the copy restores byte-exact.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBlobStore } from '../../src/backup/backends/open-store.ts';
import { check } from '../../src/backup/check.ts';
import { fileContent } from '../../src/backup/file-content.ts';
import { initRepository, openRepository } from '../../src/backup/repository.ts';
import { startS3Server } from '../helpers/s3-server.ts';
import { startSshd, type SshServer } from '../helpers/sshd.ts';
import { FAST_SCRYPT } from '../backup/repository-helpers.ts';
import { addProfile, HOUR, PASSWORD, world, type World } from './helpers.ts';

let s3: Awaited<ReturnType<typeof startS3Server>>;
let sshd: SshServer;
let w: World;
const saved: Record<string, string | undefined> = {};

before(async () => {
  [s3, sshd] = await Promise.all([startS3Server(['copies']), startSshd()]);
  // The daemon's environment: S3 keys by the conventional variables, the SSH key by reference.
  for (const [k, v] of Object.entries({ ...s3.env, NIGHTSHIFT_KNOWN_HOSTS: sshd.knownHosts })) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  w = await world();
});
after(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await w?.close();
  await Promise.all([s3?.stop(), sshd?.stop()]);
});

describe('remote repositories in backup jobs', () => {
  test('SFTP with --copy-to S3 and tiered retention: ok with evidence for every destination; the copy restores', async () => {
    const primary = `sftp://${sshd.user}@127.0.0.1:${sshd.port}/${sshd.dir}/repo`;
    const copy = `s3:${s3.endpoint}/copies/host1`;
    const sshAccess = { sshKey: sshd.key, knownHostsFile: sshd.knownHosts };
    for (const [loc, access] of [
      [primary, sshAccess],
      [copy, {}],
    ] as const) {
      const { repo } = await initRepository(openBlobStore(loc, access), {
        password: PASSWORD,
        scrypt: FAST_SCRYPT,
      });
      await repo.close();
    }
    await addProfile(w, {
      name: 'offsite',
      repository: primary,
      key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
      remote: { sshKeyRef: `file:${sshd.keyFile}`, knownHostsFile: sshd.knownHosts },
      paths: [w.src],
      copyTo: [copy],
      // Paced well above what this test sends: the limit is on the path and nothing breaks.
      limitUploadBytesPerSec: 64 * 1024 * 1024,
      retention: { within: { years: 0, months: 0, days: 7, hours: 0 }, weekly: 4, monthly: 12 },
    });
    await w.addJob('offsite-backup', { kind: 'backup', profile: 'offsite' });
    const runs = [];
    for (let i = 0; i < 3; i++) {
      writeFileSync(join(w.src, `run-${i}.txt`), `run ${i}\n`);
      runs.push(await w.run('offsite-backup'));
      await w.clock.advance(2 * HOUR);
    }
    for (const r of runs) {
      assert.equal(r.status, 'ok', `${r.error}\n${r.outputTail}`);
      const ev = Object.fromEntries((r.evidence ?? []).map((e) => [e.check, e]));
      assert.equal(ev['snapshot listed']?.ok, true);
      assert.equal(ev['retention']?.ok, true);
      assert.equal(ev[`copy to ${copy}`]?.ok, true, ev[`copy to ${copy}`]?.detail);
      assert.equal(r.details?.backup?.copies?.[0]?.ok, true);
      assert.equal(
        r.details?.backup?.repoDiskUsedPercent,
        undefined,
        'no filesystem usage for a remote repository',
      );
    }
    // --alert-max-repo-bytes on SFTP: the size the run recorded is the repository's files on the server.
    const onServer = (dir: string): number =>
      readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0);
    const repoDir = join(sshd.dir, 'repo');
    const expected =
      ['data', 'index', 'snapshots', 'keys'].reduce((n, d) => n + onServer(join(repoDir, d)), 0) +
      statSync(join(repoDir, 'config')).size;
    assert.equal(runs.at(-1)!.details?.backup?.repoBytes, expected);
    // The S3 copy holds the snapshots, checks clean reading all data, and restores a file exactly.
    const repo = await openRepository(openBlobStore(copy), { password: PASSWORD });
    try {
      const snaps = await repo.listSnapshots();
      assert.equal(snaps.length, 3);
      const report = await check(repo, { readData: true });
      assert.deepEqual(report.errors, []);
      const parts: Uint8Array[] = [];
      for await (const c of fileContent(repo, snaps.at(-1)!, join(w.src, 'sub', 'b.bin'))) parts.push(c);
      assert.deepEqual(Buffer.concat(parts), readFileSync(join(w.src, 'sub', 'b.bin')));
    } finally {
      await repo.close();
    }
  });

  test('a copy destination that cannot be reached fails the run, naming it and why', async () => {
    const dead = `s3:http://127.0.0.1:1/copies/x`;
    await addProfile(w, {
      name: 'deadcopy',
      repository: `sftp://${sshd.user}@127.0.0.1:${sshd.port}/${sshd.dir}/repo`,
      key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
      remote: { sshKeyRef: `file:${sshd.keyFile}` },
      paths: [w.src],
      copyTo: [dead],
    });
    await w.addJob('deadcopy-backup', { kind: 'backup', profile: 'deadcopy' });
    const r = await w.run('deadcopy-backup');
    assert.equal(r.status, 'error');
    assert.match(
      r.error ?? '',
      new RegExp(`copy to ${dead.replace(/[.:/]/g, '\\$&')}: copy failed: cannot reach repository`),
    );
  });
});
