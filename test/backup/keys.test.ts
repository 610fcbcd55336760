import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { addKey, keygen, listKeys, parseIdentities, removeKey } from '../../src/backup/keys.ts';
import { initRepository, openRepository } from '../../src/backup/repository.ts';
import { EXIT, UserError } from '../../src/domain/errors.ts';
import { FAST_SCRYPT, PASSWORD, tempDir } from './repository-helpers.ts';

describe('keys', () => {
  test('default scrypt parameters are stored in the key file and the password opens it', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      await initRepository(dir, { password: PASSWORD });
      const [name] = readdirSync(join(dir, 'keys'));
      const file = JSON.parse(readFileSync(join(dir, 'keys', name!), 'utf8')) as {
        kdf: { N: number; r: number; p: number };
      };
      // As much memory as restic's scrypt (it caps its own at 60 MiB), the work of N=2^16.
      assert.equal(128 * file.kdf.N * file.kdf.r, 32 * 1024 * 1024, 'scrypt uses 32 MiB');
      assert.equal(file.kdf.N * file.kdf.p, 1 << 16, 'scrypt does the work of N=2^16');
      assert.ok(!readFileSync(join(dir, 'keys', name!), 'utf8').includes(PASSWORD));
      const repo = await openRepository(dir, { password: PASSWORD });
      assert.equal(repo.keyId, name);
    } finally {
      t.cleanup();
    }
  });

  test('a key file made with the earlier default (N=2^16, p=1) still opens', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      await initRepository(dir, { password: PASSWORD, scrypt: { N: 1 << 16, r: 8, p: 1 } });
      const repo = await openRepository(dir, { password: PASSWORD });
      assert.ok(repo.keyId);
    } finally {
      t.cleanup();
    }
  });

  test('several passwords: add, list, open with either, remove; the last and current key are kept', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT, hostname: 'h1' });
      const added = await addKey(repo, 'second', { scrypt: FAST_SCRYPT, hostname: 'h2' });
      const keys = await listKeys(repo);
      assert.equal(keys.length, 2);
      assert.deepEqual(
        keys.filter((k) => k.current).map((k) => k.hostname),
        ['h1'],
      );
      const viaSecond = await openRepository(dir, { password: 'second' });
      assert.equal(viaSecond.keyId, added.id);

      await assert.rejects(removeKey(viaSecond, added.id), (e: unknown) => {
        return (
          e instanceof UserError &&
          e.exitCode === EXIT.conflict &&
          /opened the repository with/.test(e.message)
        );
      });
      await removeKey(viaSecond, repo.keyId.slice(0, 8));
      await assert.rejects(openRepository(dir, { password: PASSWORD }), /wrong password/);
      assert.equal((await openRepository(dir, { password: 'second' })).keyId, added.id);
      // the remaining key is both current and last
      await assert.rejects(removeKey(viaSecond, added.id), UserError);
      await assert.rejects(
        removeKey(viaSecond, 'ffff'),
        (e: unknown) => e instanceof UserError && e.exitCode === EXIT.notFound,
      );
    } finally {
      t.cleanup();
    }
  });

  test('the last key cannot be removed even from another session', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      const second = await addKey(repo, 'second', { scrypt: FAST_SCRYPT });
      const other = await openRepository(dir, { password: 'second' });
      await removeKey(repo, second.id);
      await assert.rejects(removeKey(other, repo.keyId), /last key/);
    } finally {
      t.cleanup();
    }
  });

  test('keygen writes an age identity file whose recipient it returns', async () => {
    const k = await keygen(new Date('2026-01-02T03:04:05.678Z'));
    assert.match(k.recipient, /^age1[0-9a-z]{58}$/);
    assert.match(k.identity, /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    assert.equal(
      k.fileText,
      `# created: 2026-01-02T03:04:05Z\n# public key: ${k.recipient}\n${k.identity}\n`,
    );
    assert.deepEqual(parseIdentities(k.fileText, 'f'), [k.identity]);
    assert.throws(() => parseIdentities('hello\n', 'id.txt'), /id.txt is not an age identity file/);
  });

  test('recipients repositories have no password keys to add', async () => {
    const t = tempDir();
    try {
      const k = await keygen();
      const { repo } = await initRepository(join(t.dir, 'r'), { recipients: [k.recipient] });
      await assert.rejects(addKey(repo, 'pw'), /only passphrase repositories/);
      assert.deepEqual(
        (await listKeys(repo)).map((x) => x.kind),
        ['recipients'],
      );
    } finally {
      t.cleanup();
    }
  });
});
