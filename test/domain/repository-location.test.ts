import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRepositoryLocation } from '../../src/domain/repository-location.ts';
import { buildProfile } from '../../src/domain/backup-profile.ts';
import { UserError } from '../../src/domain/errors.ts';

test('restic spellings of repository locations', () => {
  assert.deepEqual(parseRepositoryLocation('/srv/backup'), { kind: 'local', path: '/srv/backup' });
  assert.deepEqual(parseRepositoryLocation('s3:http://127.0.0.1:9000/bucket/a/b'), {
    kind: 's3',
    endpoint: 'http://127.0.0.1:9000',
    bucket: 'bucket',
    prefix: 'a/b',
  });
  assert.deepEqual(parseRepositoryLocation('s3:s3.amazonaws.com/my-bucket'), {
    kind: 's3',
    endpoint: 'https://s3.amazonaws.com',
    bucket: 'my-bucket',
    prefix: '',
  });
  assert.deepEqual(parseRepositoryLocation('sftp:backup@nas.local:/srv/restic'), {
    kind: 'sftp',
    user: 'backup',
    host: 'nas.local',
    port: 22,
    path: '/srv/restic',
  });
  // As in restic: after host:port/ the path is relative to the login directory, `//` makes it absolute.
  assert.deepEqual(parseRepositoryLocation('sftp://backup@[::1]:2222//srv/restic'), {
    kind: 'sftp',
    user: 'backup',
    host: '::1',
    port: 2222,
    path: '/srv/restic',
  });
  assert.equal((parseRepositoryLocation('sftp://nas:2222/repo') as { path: string }).path, 'repo');
});

test('bad locations name the problem and the spelling; credentials in a location are refused', () => {
  const refuse = (text: string, re: RegExp): void =>
    assert.throws(
      () => parseRepositoryLocation(text),
      (e: unknown) => e instanceof UserError && re.test(e.message) && (e.hint ?? '') !== '',
    );
  refuse('s3:https://AKIA:secret@s3.amazonaws.com/b/p', /has credentials in it/);
  refuse('sftp://u:pw@host//x', /has a password in it/);
  refuse('s3:http://127.0.0.1:9000/', /names no bucket/);
  refuse('s3:http://127.0.0.1:9000/Bad_Bucket', /not a valid bucket name/);
  refuse('sftp:host-without-path', /not of the form sftp:user@host:\/path/);
  refuse('ftp://host/x', /not supported/);
  // Secrets in a refused location are not echoed by the profile validation either.
  assert.throws(
    () =>
      buildProfile(
        { name: 'p', repository: 'relative/dir', key: { kind: 'passphrase', ref: 'env:X' }, paths: ['/a'] },
        0,
      ),
    /--repo: must be an absolute path/,
  );
});

test('profiles take remote repositories with their logins as references', () => {
  const p = buildProfile(
    {
      name: 'p',
      repository: 's3:http://127.0.0.1:9000/bkt/host1',
      key: { kind: 'passphrase', ref: 'env:X' },
      remote: { s3AccessKeyRef: 'env:AK', s3SecretKeyRef: 'file:/root/sk' },
      paths: ['/a'],
    },
    0,
  );
  assert.equal(p.repository, 's3:http://127.0.0.1:9000/bkt/host1');
  const base = { name: 'p', key: { kind: 'passphrase' as const, ref: 'env:X' }, paths: ['/a'] };
  assert.throws(
    () => buildProfile({ ...base, repository: 's3:http://h/bkt', remote: { s3AccessKeyRef: 'env:AK' } }, 0),
    /give both --s3-access-key-ref and --s3-secret-key-ref/,
  );
  assert.throws(
    () => buildProfile({ ...base, repository: '/srv/r', remote: { sshKeyRef: 'file:/k' } }, 0),
    /--ssh-key-ref: only for an sftp: repository/,
  );
  assert.throws(
    () =>
      buildProfile(
        { ...base, repository: 'sftp:u@h:/r', remote: { sshKeyRef: '-----BEGIN OPENSSH PRIVATE KEY-----' } },
        0,
      ),
    (e: unknown) =>
      e instanceof Error &&
      /--ssh-key-ref: is not a secret reference/.test(e.message) &&
      !/BEGIN/.test(e.message),
  );
});
