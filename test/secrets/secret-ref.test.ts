import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/domain/errors.ts';
import { parseSecretRef } from '../../src/secrets/secret-ref.ts';

function refusal(text: string): UserError {
  try {
    parseSecretRef(text);
  } catch (err) {
    assert.ok(err instanceof UserError);
    return err;
  }
  assert.fail(`expected ${text} to be refused`);
}

describe('parseSecretRef', () => {
  test('parses each scheme into its parts', () => {
    assert.deepEqual(parseSecretRef('env:BACKUP_PASSPHRASE'), {
      scheme: 'env',
      text: 'env:BACKUP_PASSPHRASE',
      name: 'BACKUP_PASSPHRASE',
    });
    assert.deepEqual(parseSecretRef('file:/etc/nightshift/key'), {
      scheme: 'file',
      text: 'file:/etc/nightshift/key',
      path: '/etc/nightshift/key',
    });
    assert.deepEqual(parseSecretRef('cmd:pass show backup | head -1'), {
      scheme: 'cmd',
      text: 'cmd:pass show backup | head -1',
      shell: 'pass show backup | head -1',
    });
    assert.deepEqual(parseSecretRef('cmd:["pass","show","backup key"]'), {
      scheme: 'cmd',
      text: 'cmd:["pass","show","backup key"]',
      argv: ['pass', 'show', 'backup key'],
    });
    assert.deepEqual(parseSecretRef('vault:secret/nightshift/backup#passphrase'), {
      scheme: 'vault',
      text: 'vault:secret/nightshift/backup#passphrase',
      mount: 'secret',
      path: 'nightshift/backup',
      field: 'passphrase',
    });
    assert.deepEqual(parseSecretRef('mcp:secure-backup/get_secret?key_id=3f2a&env=prod'), {
      scheme: 'mcp',
      text: 'mcp:secure-backup/get_secret?key_id=3f2a&env=prod',
      server: 'secure-backup',
      tool: 'get_secret',
      args: { key_id: '3f2a', env: 'prod' },
    });
  });

  test('expands ~/ in file references to the home directory', () => {
    const ref = parseSecretRef('file:~/.config/nightshift/backup.key');
    assert.equal(ref.scheme === 'file' && ref.path, join(homedir(), '.config/nightshift/backup.key'));
  });

  test('refuses a bare value without echoing it, with a hint to store a reference', () => {
    for (const bare of ['hunter2-correct-horse', 'AKIA0123:abcdef', 'password:s3cr3t', '']) {
      const err = refusal(bare);
      assert.match(err.message, /not a secret reference/);
      assert.match(err.hint ?? '', /env:BACKUP_PASSPHRASE/);
      if (bare !== '') {
        assert.ok(!err.message.includes(bare), 'message must not echo the value');
        assert.ok(!(err.hint ?? '').includes(bare), 'hint must not echo the value');
      }
      for (const part of bare.split(':').filter((p) => p.length > 3)) assert.ok(!err.message.includes(part));
    }
  });

  test('refuses malformed references with the expected syntax in the hint', () => {
    const cases: [string, RegExp, RegExp][] = [
      ['env:BAD-NAME', /environment variable name/, /env:NAME/],
      ['file:relative/key', /absolute/, /file:\/absolute\/path/],
      ['cmd:', /no command/, /cmd:pass show/],
      ['cmd:["pass", 3]', /non-empty JSON array of strings/, /cmd:\["program"/],
      ['cmd:[not json', /not valid JSON/, /double-quoted/],
      ['vault:secret/backup', /no #field/, /vault:<mount>\/<path>#<field>/],
      ['vault:secret#passphrase', /mount and a path/, /vault:<mount>/],
      ['vault:secret//x#f', /path segment/, /vault:<mount>/],
      ['vault:secret/x#', /#field is empty/, /vault:<mount>/],
      ['mcp:server-only', /<server>\/<tool>/, /mcp:<server>\/<tool>/],
      ['mcp:/tool', /server name/, /mcp:<server>/],
    ];
    for (const [text, message, hint] of cases) {
      const err = refusal(text);
      assert.match(err.message, message, text);
      assert.ok(err.message.includes(text), `a malformed reference is shown back: ${err.message}`);
      assert.match(err.hint ?? '', hint, text);
    }
  });
});
