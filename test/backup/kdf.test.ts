import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { deriveKeksAhead } from '../../src/backup/kdf.ts';
import { addKey } from '../../src/backup/keys.ts';
import { initRepository, openRepository } from '../../src/backup/repository.ts';
import { UserError } from '../../src/domain/errors.ts';
import { FAST_SCRYPT, PASSWORD, tempDir } from './repository-helpers.ts';

describe('key derivation ahead of opening', () => {
  test('keks derived ahead open the repository with the same keys, once; a wrong password ahead changes nothing', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      await addKey(repo, 'second', { scrypt: FAST_SCRYPT });
      const fresh = await openRepository(dir, { password: PASSWORD });

      // One derivation per key file.
      assert.equal(deriveKeksAhead(dir, PASSWORD), 2);
      const ahead = await openRepository(dir, { password: PASSWORD });
      assert.equal(ahead.keyId, fresh.keyId);
      assert.deepEqual(ahead.keys, fresh.keys);
      // Used up: the next open derives again, to the same keys.
      assert.deepEqual((await openRepository(dir, { password: PASSWORD })).keys, fresh.keys);

      // Derived ahead for one password, opened with another: each opens only as itself.
      assert.equal(deriveKeksAhead(dir, 'not the password'), 2);
      assert.deepEqual((await openRepository(dir, { password: PASSWORD })).keys, fresh.keys);
      assert.equal(deriveKeksAhead(dir, PASSWORD), 2);
      await assert.rejects(
        openRepository(dir, { password: 'not the password' }),
        (e: unknown) => e instanceof UserError && /password/.test(e.message),
      );
    } finally {
      t.cleanup();
    }
  });

  test('nothing is started for a directory that is not a repository, or without a password', () => {
    const t = tempDir();
    try {
      assert.equal(deriveKeksAhead(join(t.dir, 'nothing'), PASSWORD), 0);
      assert.equal(deriveKeksAhead(t.dir, PASSWORD), 0);
      assert.equal(deriveKeksAhead(t.dir, ''), 0);
    } finally {
      t.cleanup();
    }
  });
});
