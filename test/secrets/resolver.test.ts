import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { EXIT, UserError } from '../../src/domain/errors.ts';
import { defaultRedactor, Redactor } from '../../src/secrets/redact.ts';
import { SecretError, SecretResolver } from '../../src/secrets/resolver.ts';
import type { SecretProvider } from '../../src/secrets/resolver.ts';

describe('SecretResolver with env:', () => {
  test('resolves a variable into a Secret that prints as its reference', async () => {
    const resolver = new SecretResolver(
      {},
      { env: { BACKUP_PASSPHRASE: 'correct horse battery' }, redactor: new Redactor() },
    );
    const secret = await resolver.resolve('env:BACKUP_PASSPHRASE');
    assert.equal(secret.reveal(), 'correct horse battery');
    assert.equal(String(secret), '[secret env:BACKUP_PASSPHRASE]');
    assert.equal(`${secret}`, '[secret env:BACKUP_PASSPHRASE]');
    assert.equal(JSON.stringify({ secret }), '{"secret":"[secret env:BACKUP_PASSPHRASE]"}');
    assert.equal(inspect({ secret }), '{ secret: [secret env:BACKUP_PASSPHRASE] }');
    assert.ok(!inspect(secret, { showHidden: true, depth: 5 }).includes('horse'));
    assert.deepEqual(Object.keys(secret), ['ref']);
  });

  test('registers the value with the redactor it was given, and with the process-wide one by default', async () => {
    const own = new Redactor();
    await new SecretResolver({}, { env: { A: 'value-for-own' }, redactor: own }).resolve('env:A');
    assert.equal(own.redact('x value-for-own'), 'x [REDACTED]');
    assert.equal(
      defaultRedactor.redact('value-for-own'),
      'value-for-own',
      'an explicit redactor replaces the default',
    );
    await new SecretResolver({}, { env: { B: 'value-for-default' } }).resolve('env:B');
    assert.equal(defaultRedactor.redact('value-for-default'), '[REDACTED]');
  });

  test('an unset or empty variable is a clear error naming the variable and where to set it', async () => {
    const resolver = new SecretResolver({}, { env: { EMPTY: '' }, redactor: new Redactor() });
    await assert.rejects(resolver.resolve('env:MISSING'), (err: unknown) => {
      assert.ok(err instanceof SecretError);
      assert.equal(err.message, 'cannot resolve secret env:MISSING: environment variable MISSING is not set');
      assert.match(err.hint ?? '', /daemon's environment/);
      assert.equal(err.exitCode, EXIT.notFound);
      assert.equal(err.code, 'secret_unresolved');
      return true;
    });
    await assert.rejects(resolver.resolve('env:EMPTY'), /EMPTY is empty/);
  });

  test('refuses a bare value passed where a reference belongs', async () => {
    const resolver = new SecretResolver({}, { env: {}, redactor: new Redactor() });
    await assert.rejects(resolver.resolve('my-actual-password'), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.ok(!err.message.includes('my-actual-password'));
      return true;
    });
  });

  test('redacts known values from errors thrown by any provider, including foreign ones', async () => {
    const redactor = new Redactor();
    const leaky: SecretProvider = {
      scheme: 'env',
      async resolve(ref) {
        if (ref.scheme === 'env' && ref.name === 'LEAKY')
          throw new Error('upstream said: first-secret-value is wrong');
        return 'first-secret-value';
      },
    };
    const resolver = new SecretResolver({}, { env: {}, redactor, providers: [leaky] });
    await resolver.resolve('env:FIRST');
    await assert.rejects(resolver.resolve('env:LEAKY'), (err: unknown) => {
      assert.ok(err instanceof SecretError);
      assert.equal(err.message, 'cannot resolve secret env:LEAKY: upstream said: [REDACTED] is wrong');
      return true;
    });
  });

  test('a reference that loops back on itself is refused', async () => {
    const resolver = new SecretResolver(
      { vault: { address: 'http://127.0.0.1:9', token: 'vault:secret/token#t' } },
      { env: {}, redactor: new Redactor() },
    );
    await assert.rejects(resolver.resolve('vault:secret/token#t'), /loop back on themselves/);
  });
});
