import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { initRepository, openRepository } from '../../../src/backup/repository.ts';
import { deriveBackupKeyAhead } from '../../../src/interfaces/cli/backup/key-ahead.ts';
import { FAST_SCRYPT, PASSWORD, tempDir } from '../../backup/repository-helpers.ts';

describe('backup commands start the key derivation as the process starts', () => {
  test('for a command that opens a local repository with its password, and for nothing else', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      const pwFile = join(t.dir, 'pw');
      writeFileSync(pwFile, `${PASSWORD}\n`);
      const env = { NIGHTSHIFT_PASSWORD: PASSWORD };
      const started = (argv: string[], e: NodeJS.ProcessEnv = env): number => deriveBackupKeyAhead(argv, e);

      assert.equal(started(['--home', '/h', 'backup', 'run', '--repo', dir, 'data']), 1);
      assert.equal(started(['backup', 'check', '-r', relative(process.cwd(), dir), '--read-data']), 1);
      assert.equal(started(['backup', 'snapshots', `--repo=${dir}`, `--password-file=${pwFile}`], {}), 1);
      assert.equal(
        started(['backup', 'restore', 'latest', '--target', '/t'], { ...env, NIGHTSHIFT_REPOSITORY: dir }),
        1,
      );

      // Help only prints; profiles, init and key management are left to the command; so are
      // remote repositories, missing passwords and unreadable password files.
      assert.equal(started(['backup', 'run', '--repo', dir, '--help']), 0);
      assert.equal(started(['backup', 'run', '--profile', 'home', '--repo', dir]), 0);
      assert.equal(started(['backup', 'init', '--repo', dir]), 0);
      assert.equal(started(['backup', 'keys', 'add', '--repo', dir]), 0);
      assert.equal(started(['cron', 'run', '--repo', dir]), 0);
      assert.equal(started(['backup', 'run', '--repo', 's3:https://127.0.0.1:1/b/p']), 0);
      assert.equal(started(['backup', 'run', '--repo', dir], {}), 0);
      assert.equal(started(['backup', 'run', '--repo', dir, '--password-file', join(t.dir, 'missing')]), 0);

      // The keks derived above are used or wasted, never wrong: the repository still opens.
      assert.ok((await openRepository(dir, { password: PASSWORD })).keyId);
    } finally {
      t.cleanup();
    }
  });
});
