import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { EXIT } from '../../../src/domain/errors.ts';
import { Redactor } from '../../../src/secrets/redact.ts';
import { SecretError, SecretResolver } from '../../../src/secrets/resolver.ts';

const dir = mkdtempSync(join(tmpdir(), 'ns-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const resolver = new SecretResolver({}, { env: {}, redactor: new Redactor() });

function secretFile(name: string, content: string, mode: number): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

async function refusal(ref: string): Promise<SecretError> {
  try {
    await resolver.resolve(ref);
  } catch (err) {
    assert.ok(err instanceof SecretError, String(err));
    return err;
  }
  assert.fail(`${ref} should have been refused`);
}

describe('file: secrets', () => {
  test('reads a 0600 file and drops exactly one trailing newline', async () => {
    const p = secretFile('key', '  passphrase with spaces  \n\n', 0o600);
    assert.equal((await resolver.resolve(`file:${p}`)).reveal(), '  passphrase with spaces  \n');
    const crlf = secretFile('crlf', 'windows-line\r\n', 0o400);
    assert.equal((await resolver.resolve(`file:${crlf}`)).reveal(), 'windows-line');
  });

  test('refuses a 0644 file, naming the file, its mode and the chmod fix, without reading it', async () => {
    const p = secretFile('open', 'world-readable-secret\n', 0o644);
    const err = await refusal(`file:${p}`);
    assert.match(err.message, new RegExp(`${p} has mode 0644`));
    assert.match(err.message, /0600 or stricter/);
    assert.equal(err.hint, `chmod 600 ${p}`);
    assert.equal(err.exitCode, EXIT.usage);
    assert.ok(!err.message.includes('world-readable-secret'));
    for (const mode of [0o640, 0o604, 0o660, 0o602]) {
      chmodSync(p, mode);
      assert.match((await refusal(`file:${p}`)).message, new RegExp(`mode 0${mode.toString(8)}`));
    }
    chmodSync(p, 0o600);
    assert.equal((await resolver.resolve(`file:${p}`)).reveal(), 'world-readable-secret');
  });

  test('checks the target of a symlink, not the link', async () => {
    const target = secretFile('target', 'via-link\n', 0o644);
    const link = join(dir, 'link');
    symlinkSync(target, link);
    assert.match((await refusal(`file:${link}`)).message, /mode 0644/);
    chmodSync(target, 0o600);
    assert.equal((await resolver.resolve(`file:${link}`)).reveal(), 'via-link');
  });

  test(
    'refuses a file owned by another user',
    { skip: process.getuid?.() !== 0 && 'needs root to chown' },
    async () => {
      const p = secretFile('theirs', 'someone-elses\n', 0o600);
      chownSync(p, 65534, 65534);
      const err = await refusal(`file:${p}`);
      assert.match(err.message, /owned by uid 65534, not by the current user \(uid 0\)/);
      assert.match(err.hint ?? '', /chown 0 .* && chmod 600/);
    },
  );

  test('a missing, empty, directory or FIFO target is a clear error', async () => {
    const missing = await refusal(`file:${join(dir, 'nope')}`);
    assert.match(missing.message, /nope does not exist/);
    assert.match(missing.hint ?? '', /umask 077/);
    assert.equal(missing.exitCode, EXIT.notFound);
    assert.match((await refusal(`file:${secretFile('empty', '\n', 0o600)}`)).message, /is empty/);
    const sub = join(dir, 'sub');
    mkdirSync(sub, { mode: 0o700 });
    assert.match((await refusal(`file:${sub}`)).message, /not a regular file/);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    assert.match((await refusal(`file:${fifo}`)).message, /not a regular file/);
  });
});
