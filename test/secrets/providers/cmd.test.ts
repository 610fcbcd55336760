import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../../src/domain/errors.ts';
import { Redactor } from '../../../src/secrets/redact.ts';
import { SecretError, SecretResolver } from '../../../src/secrets/resolver.ts';

const dir = mkdtempSync(join(tmpdir(), 'ns-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function resolverFor(env: NodeJS.ProcessEnv = {}, timeoutMs?: number): SecretResolver {
  return new SecretResolver(timeoutMs ? { cmd: { timeoutMs } } : {}, {
    env: { PATH: process.env.PATH, ...env },
    redactor: new Redactor(),
  });
}

async function refusal(resolver: SecretResolver, ref: string): Promise<SecretError> {
  try {
    await resolver.resolve(ref);
  } catch (err) {
    assert.ok(err instanceof SecretError, String(err));
    return err;
  }
  assert.fail(`${ref} should have failed`);
}

describe('cmd: secrets', () => {
  test('a shell string: trimmed stdout is the value, the environment is passed on', async () => {
    const r = resolverFor({ STORE: 'from-env' });
    const s = await r.resolve('cmd:printf "  %s-%s\\n\\n" "$STORE" piped | tr a-z A-Z');
    assert.equal(s.reveal(), 'FROM-ENV-PIPED');
    assert.equal(String(s), '[secret cmd:printf "  %s-%s\\n\\n" "$STORE" piped | tr a-z A-Z]');
  });

  test('an argv JSON array runs the program directly, with no shell interpreting its arguments', async () => {
    const r = resolverFor();
    const s = await r.resolve('cmd:["printf","%s","$HOME; echo not-run"]');
    assert.equal(s.reveal(), '$HOME; echo not-run');
  });

  test('a non-zero exit fails with the stderr tail, redacting the value it printed and known secrets', async () => {
    const r = resolverFor({ KNOWN: 'known-secret-1234' });
    await r.resolve('env:KNOWN');
    const err = await refusal(
      r,
      'cmd:echo half-printed-secret; echo "vault: token known-secret-1234 expired (half-printed-secret)" >&2; exit 4',
    );
    assert.match(
      err.message,
      /the command exited with status 4: vault: token \[REDACTED\] expired \(\[REDACTED\]\)/,
    );
    assert.ok(!err.message.includes('known-secret-1234'));
    assert.ok(!err.message.includes('half-printed-secret') || err.message.includes('cmd:echo half-printed'));
    // The reference itself is shown; only the stderr tail is scrubbed.
    const tail = err.message.slice(err.message.indexOf('status 4'));
    assert.ok(!tail.includes('half-printed-secret'), tail);
    assert.match(err.hint ?? '', /run the command by hand/);
  });

  test('a command that is not found, prints nothing, or outlives its timeout fails clearly', async () => {
    const r = resolverFor({}, 500);
    const missing = await refusal(r, 'cmd:["/nonexistent/pass","show"]');
    assert.match(missing.message, /command not found: \/nonexistent\/pass/);
    assert.equal(missing.exitCode, EXIT.notFound);
    assert.match((await refusal(r, 'cmd:true')).message, /printed nothing on stdout/);

    // The grandchild must die with the group: it would otherwise write the marker after 1.5 s.
    const marker = join(dir, 'survived');
    const started = Date.now();
    const slow = await refusal(r, `cmd:(sleep 1.5; touch ${marker}) & sleep 30`);
    assert.match(slow.message, /did not finish within 0.5 s and was killed/);
    assert.match(slow.hint ?? '', /secrets\.cmd\.timeoutMs/);
    assert.ok(Date.now() - started < 20_000, 'the timeout fired long before sleep 30 ended');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(existsSync(marker), false, 'the whole process group was killed');
  });

  test('a command waiting for input gets a closed stdin instead of hanging', async () => {
    const r = resolverFor();
    // `cat` with a closed stdin returns at once instead of hanging until the timeout.
    const err = await refusal(r, 'cmd:cat');
    assert.match(err.message, /printed nothing/);
  });
});
