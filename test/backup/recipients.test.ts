import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keygen } from '../../src/backup/keys.ts';
import { initRepository, openRepository, READ_NEEDS_IDENTITY } from '../../src/backup/repository.ts';
import { check } from '../../src/backup/check.ts';
import { prune, forgetSnapshots } from '../../src/backup/prune.ts';
import { decodeSnapshot } from '../../src/backup/snapshot-file.ts';
import { EXIT, UserError } from '../../src/domain/errors.ts';
import { noise, snapshotOf, tempDir } from './repository-helpers.ts';

function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...allFiles(p));
    else out.push(p);
  }
  return out;
}

const hasAge = spawnSync('age', ['--version']).status === 0;

describe('recipients mode', () => {
  test('the writer backs up and deduplicates but cannot read; the identity reads everything', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const id = await keygen();
      const writerKeyPath = join(t.dir, 'writer.key');
      const { writerKey } = await initRepository(dir, { recipients: [id.recipient], writerKeyPath });
      assert.equal(statSync(writerKeyPath).mode & 0o777, 0o600);
      assert.equal(readFileSync(writerKeyPath, 'utf8'), writerKey);

      const secretName = 'quarterly-salaries-Zebulon.xlsx';
      const content = Buffer.from(`CONFIDENTIAL-PAYLOAD-${'Zebulon earns a lot; '.repeat(3000)}`);
      const rnd = noise('media', 100_000);
      const writer = await openRepository(dir, { writerKeyFile: writerKeyPath });
      assert.equal(writer.canRead, false);
      const treeJson = Buffer.from(JSON.stringify({ nodes: [{ name: secretName, type: 'file' }] }));
      const c = await writer.saveBlob('data', content);
      const r = await writer.saveBlob('data', rnd);
      const tr = await writer.saveBlob('tree', treeJson);
      await writer.saveSnapshot(
        {
          time: new Date().toISOString(),
          hostname: 'agent-host',
          paths: [`/srv/${secretName}`],
          tags: ['t1'],
          tree: tr.id,
        },
        [c.id, r.id, tr.id],
      );
      // dedup works with the writer key alone
      assert.equal((await writer.saveBlob('data', content)).isNew, false);

      await assert.rejects(writer.loadBlob(c.id), (e: unknown) => {
        return e instanceof UserError && e.message === READ_NEEDS_IDENTITY && e.exitCode === EXIT.auth;
      });
      const listed = await writer.listSnapshots();
      assert.equal(listed.length, 1);
      assert.deepEqual(listed[0]!.paths, []);
      assert.equal(listed[0]!.pathsHidden, true);
      assert.equal(listed[0]!.hostname, 'agent-host');
      await assert.rejects(
        check(writer, { readData: true }),
        (e: unknown) => e instanceof UserError && e.message === READ_NEEDS_IDENTITY,
      );
      assert.equal((await check(writer)).ok, true);

      // No repository byte holds a file name or content in the clear.
      const needles = [secretName, 'Zebulon', 'CONFIDENTIAL', '/srv/'].map((s) => Buffer.from(s));
      const files = allFiles(dir);
      assert.ok(files.length >= 5);
      for (const f of files) {
        const bytes = readFileSync(f);
        for (const n of needles) assert.equal(bytes.includes(n), false, `${f} contains ${n.toString()}`);
        assert.equal(bytes.includes(rnd.subarray(0, 32)), false, `${f} contains raw file content`);
      }

      const reader = await openRepository(dir, { identities: [id.identity] });
      assert.equal(reader.canRead, true);
      assert.deepEqual(Buffer.from(await reader.loadBlob(c.id)), content);
      assert.deepEqual(Buffer.from(await reader.loadBlob(tr.id)), treeJson);
      assert.deepEqual((await reader.listSnapshots())[0]!.paths, [`/srv/${secretName}`]);

      const idFile = join(t.dir, 'id.txt');
      writeFileSync(idFile, id.fileText, { mode: 0o600 });
      const fromFile = await openRepository(dir, { identityFile: idFile });
      assert.deepEqual(Buffer.from(await fromFile.loadBlob(r.id)), rnd);

      const stranger = await keygen();
      await assert.rejects(openRepository(dir, { identities: [stranger.identity] }), (e: unknown) => {
        return e instanceof UserError && e.exitCode === EXIT.auth;
      });
      await assert.rejects(
        openRepository(dir, {}),
        (e: unknown) => e instanceof UserError && e.exitCode === EXIT.auth,
      );
    } finally {
      t.cleanup();
    }
  });

  test('a writer key of another repository is refused', async () => {
    const t = tempDir();
    try {
      const id = await keygen();
      await initRepository(join(t.dir, 'a'), { recipients: [id.recipient] });
      const { writerKey } = await initRepository(join(t.dir, 'b'), { recipients: [id.recipient] });
      await assert.rejects(openRepository(join(t.dir, 'a'), { writerKey: writerKey! }), /does not belong/);
      await assert.rejects(
        openRepository(join(t.dir, 'a'), { writerKey: 'garbage' }),
        /not a nightshift writer key/,
      );
    } finally {
      t.cleanup();
    }
  });

  test('the writer can forget and prune; the identity still restores what is kept', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const id = await keygen();
      const { writerKey } = await initRepository(dir, { recipients: [id.recipient] });
      const writer = await openRepository(dir, { writerKey: writerKey! });
      const keepData = noise('keep', 300_000);
      const s1 = await snapshotOf(writer, [keepData, noise('gone1', 3_000_000)]);
      const s2 = await snapshotOf(writer, [keepData, noise('gone2', 200_000)]);
      await forgetSnapshots(writer, [s1.id]);
      const rep = await prune(writer, { repackThreshold: 0 });
      assert.ok(rep.bytesFreed >= 3_000_000, `freed ${rep.bytesFreed}`);
      assert.equal(rep.packsRepacked, 1);
      const reader = await openRepository(dir, { identities: [id.identity] });
      assert.deepEqual(Buffer.from(await reader.loadBlob(s2.ids[0]!)), keepData);
      const report = await check(reader, { readData: true });
      assert.deepEqual(report.errors, []);
      assert.equal(report.counts.snapshots, 1);
    } finally {
      t.cleanup();
    }
  });

  test(
    'the real age CLI accepts the identity and decrypts snapshot paths and pack keys',
    { skip: !hasAge && 'age CLI not installed' },
    async () => {
      const t = tempDir();
      try {
        const dir = join(t.dir, 'repo');
        const idFile = join(t.dir, 'identity.txt');
        const id = await keygen();
        writeFileSync(idFile, id.fileText, { mode: 0o600 });
        // the identity file is what age-keygen writes: age -y derives the same recipient
        assert.equal(execFileSync('age-keygen', ['-y', idFile], { encoding: 'utf8' }).trim(), id.recipient);
        const { writerKey } = await initRepository(dir, { recipients: [id.recipient] });
        const writer = await openRepository(dir, { writerKey: writerKey! });
        const snap = await snapshotOf(writer, [noise('x', 1000)], { paths: ['/home/ann/notes'] });

        const { json } = decodeSnapshot(writer.snapshotKey, readFileSync(join(dir, 'snapshots', snap.id)));
        const agePaths = join(t.dir, 'paths.age');
        writeFileSync(agePaths, Buffer.from(json.sealedPaths!, 'base64'));
        const out = execFileSync('age', ['-d', '-i', idFile, agePaths], { encoding: 'utf8' });
        assert.deepEqual(JSON.parse(out), { paths: ['/home/ann/notes'] });

        const entry = writer.index.get(snap.ids[0]!)!;
        const header = await writer.readPackHeader(entry.pack);
        const slotFile = join(t.dir, 'slot.age');
        writeFileSync(slotFile, Buffer.from(header.slots[0]!.k, 'base64'));
        const key = execFileSync('age', ['-d', '-i', idFile, slotFile]);
        assert.equal(key.length, 32);
      } finally {
        t.cleanup();
      }
    },
  );
});
