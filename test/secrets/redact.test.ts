import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { REDACTED, Redactor } from '../../src/secrets/redact.ts';
import { Secret } from '../../src/secrets/secret.ts';

const SECRET = 'pa55/word+with spaces&"quotes"';

async function throughStream(r: Redactor, chunks: (string | Buffer)[]): Promise<string> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks, { objectMode: false }),
    r.stream(),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        out.push(Buffer.from(chunk));
        done();
      },
    }),
  );
  return Buffer.concat(out).toString('utf8');
}

describe('Redactor strings', () => {
  test('replaces the value and its base64, URL and JSON encodings', () => {
    const r = new Redactor();
    r.add(SECRET);
    const b64 = Buffer.from(SECRET).toString('base64');
    const text = [
      `plain ${SECRET}.`,
      `basic ${b64}`,
      `unpadded ${b64.replace(/=+$/, '')}`,
      `url64 ${Buffer.from(SECRET).toString('base64url')}`,
      `query ?p=${encodeURIComponent(SECRET)}`,
      `form p=${encodeURIComponent(SECRET).replace(/%20/g, '+')}`,
      `json ${JSON.stringify({ p: SECRET })}`,
    ].join('\n');
    const out = r.redact(text);
    assert.ok(!out.includes(SECRET));
    assert.ok(!out.includes(b64.replace(/=+$/, '')));
    assert.ok(!out.includes(encodeURIComponent(SECRET)));
    assert.ok(!out.includes('pa55/word'), out);
    assert.equal(out.split(REDACTED).length - 1, 7, out);
    assert.match(out, /^plain \[REDACTED\]\.$/m);
  });

  test('prefers the longer of two overlapping values and ignores values too short to matter', () => {
    const r = new Redactor();
    r.add('abcd');
    r.add('abcdefgh');
    r.add('xy');
    assert.equal(r.redact('abcdefgh abcd xy'), `${REDACTED} ${REDACTED} xy`);
    assert.equal(new Redactor().redact('nothing registered'), 'nothing registered');
  });

  test('catches a multi-line secret printed whole, trimmed, or line by line', () => {
    const r = new Redactor();
    const pem =
      '-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASCBKcwggSjAgEAAoIB\n-----END KEY-----\n';
    r.add(pem);
    assert.equal(r.redact(`key=${pem}`), `key=${REDACTED}`);
    assert.equal(r.redact(`"${pem.trim()}"`), `"${REDACTED}"`);
    const logged = 'line: MIIEvQIBADANBgkqhkiG9w0B\nline: AQEFAASCBKcwggSjAgEAAoIB\n';
    assert.equal(r.redact(logged), `line: ${REDACTED}\nline: ${REDACTED}\n`);
  });

  test('treats regex metacharacters in values literally', () => {
    const r = new Redactor();
    r.add('a.b*c(d)');
    assert.equal(r.redact('a.b*c(d) aXbbbcd'), `${REDACTED} aXbbbcd`);
  });
});

describe('Redactor objects', () => {
  test('deep-copies JSON-able values with strings and keys redacted, leaving the input intact', () => {
    const r = new Redactor();
    r.add('tok3n-value');
    const input = {
      run: { output: 'using tok3n-value now', exit: 0, ok: true, none: null },
      list: ['x', 'Bearer tok3n-value', 3],
      'tok3n-value': 'as a key',
      when: new Date(0),
      secret: new Secret('env:T', 'tok3n-value'),
      err: new Error('failed with tok3n-value'),
    };
    const out = r.redactValue(input);
    const json = JSON.stringify(out);
    assert.ok(!json.includes('tok3n-value'), json);
    assert.deepEqual(out.run, { output: `using ${REDACTED} now`, exit: 0, ok: true, none: null });
    assert.deepEqual(out.list, ['x', `Bearer ${REDACTED}`, 3]);
    assert.equal((out as Record<string, unknown>)[REDACTED], 'as a key');
    assert.equal(out.when as unknown, '1970-01-01T00:00:00.000Z');
    assert.equal(out.secret as unknown, '[secret env:T]');
    assert.deepEqual(out.err as unknown, { name: 'Error', message: `failed with ${REDACTED}` });
    assert.equal(input.run.output, 'using tok3n-value now', 'input is not mutated');
  });

  test('survives cycles', () => {
    const r = new Redactor();
    r.add('cyc1e-secret');
    const a: Record<string, unknown> = { v: 'cyc1e-secret' };
    a.self = a;
    assert.deepEqual(r.redactValue(a), { v: REDACTED, self: '[Circular]' });
  });
});

describe('Redactor streams', () => {
  test('redacts a value split at every possible chunk boundary', async () => {
    const r = new Redactor();
    r.add(SECRET);
    const text = `line one\nthe key is ${SECRET} and again ${SECRET}\nend`;
    for (let cut = 1; cut < text.length; cut++) {
      const out = await throughStream(r, [text.slice(0, cut), text.slice(cut)]);
      assert.equal(out, text.split(SECRET).join(REDACTED), `cut at ${cut}`);
    }
  });

  test('redacts across many one-byte chunks, including multi-byte UTF-8 split mid-character', async () => {
    const r = new Redactor();
    const secret = 'clé-secrète-ü€';
    r.add(secret);
    const bytes = Buffer.from(`avant ${secret} après ✓`);
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    assert.equal(await throughStream(r, chunks), `avant ${REDACTED} après ✓`);
  });

  test('passes text through unchanged when nothing is registered, and picks up values added mid-stream', async () => {
    const r = new Redactor();
    assert.equal(await throughStream(r, ['a', 'b', 'c']), 'abc');
    const s = r.stream();
    const out: string[] = [];
    s.on('data', (b: Buffer) => out.push(b.toString()));
    const ended = new Promise((resolve) => s.on('end', resolve));
    s.write('before late-secret ');
    r.add('late-secret');
    s.write('after late-secret');
    s.end();
    await ended;
    assert.equal(out.join(''), `before late-secret after ${REDACTED}`);
  });
});
