import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSize } from '../../src/domain/size.ts';
import { profileFromFields } from '../../src/app/profile-fields.ts';
import { jobDocumentSchema } from '../../src/domain/job-file-schema.ts';
import { PROFILE_FILE_KEYS } from '../../src/domain/profile-file.ts';
import { UserError } from '../../src/domain/errors.ts';

test('sizes read with and without units, spaces and case, all powers of 1024', () => {
  for (const [text, bytes] of [
    ['3', 3],
    ['4M', 4 * 1024 ** 2],
    ['4MiB', 4 * 1024 ** 2],
    ['4 mb', 4 * 1024 ** 2],
    ['500 GB', 500 * 1024 ** 3],
    ['1.5T', 1.5 * 1024 ** 4],
    ['16k', 16384],
  ] as const)
    assert.equal(parseSize(text, '--x'), bytes, text);
  // The backup profile flags read sizes the same way.
  const p = profileFromFields(
    'p',
    { repo: '/r', passwordRef: 'env:X', path: ['/a'], minFree: '500 GB' },
    undefined,
    0,
  );
  assert.equal(p.minFreeBytes, 500 * 1024 ** 3);
});

test('the file schemas take the same sizes, and refuse what the size reader refuses', () => {
  const job = (v: unknown) => jobDocumentSchema.safeParse({ name: 'j', 'output-tail-bytes': v }).success;
  for (const ok of ['4M', '4MiB', '500 GB', '1.5T', 16384]) assert.ok(job(ok), String(ok));
  for (const bad of ['4X', 'lots', '-1', -1]) assert.ok(!job(bad), String(bad));
  assert.ok(PROFILE_FILE_KEYS['min-free'].safeParse('2G').success);
  assert.ok(!PROFILE_FILE_KEYS['min-free'].safeParse('2 gigs').success);
});

test('a bad size names the field and shows the accepted forms', () => {
  for (const text of ['4X', 'lots', '-1', '']) {
    assert.throws(
      () => parseSize(text, '--alert-max-repo-bytes'),
      (e: unknown) =>
        e instanceof UserError &&
        e.message.startsWith('--alert-max-repo-bytes: cannot read') &&
        /4M, 4MiB, 500 GB/.test(e.hint ?? ''),
    );
  }
});
