/**
 * Backup profiles declared in job files (`kind: backup-profile`): applied beside the jobs that run
 * them, drift-checked field by field, pruned, exported and applied back; every refusal leaves the
 * store byte-identical. Real repositories on disk, a real home.
 */
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openApp } from '../../src/app/app.ts';
import type { App } from '../../src/app/app.ts';
import { applyJobFiles } from '../../src/app/apply-jobs.ts';
import type { ApplyOptions } from '../../src/app/apply-jobs.ts';
import { addProfile, editProfile, removeProfile } from '../../src/app/backup-profiles.ts';
import { exportJobs, fileNameFor } from '../../src/app/export-jobs.ts';
import { addJob, newJob } from '../../src/app/jobs.ts';
import { profileFromFields } from '../../src/app/profile-fields.ts';
import { UserError } from '../../src/domain/errors.ts';
import { jobFileJsonSchema } from '../../src/domain/profile-file.ts';
import { passphraseRepo } from '../backup-jobs/helpers.ts';

let root: string;
let dir: string;
let repo: string;
let app: App;

function write(name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

const apply = (opts: ApplyOptions = {}, paths = [dir]) => applyJobFiles(app, paths, opts);

/**
 * Jobs and profiles as stored, and the bytes of the store's files (the SQLite database and its
 * write-ahead log; the -shm index changes on reads), for "nothing changed" comparisons.
 */
async function snapshot(): Promise<string> {
  const files = readdirSync(join(root, 'home'))
    .filter((f) => f === 'nightshift.db' || f === 'nightshift.db-wal') // -shm is a reader's index, not data
    .sort()
    .map(
      (f) =>
        `${f}:${createHash('sha256')
          .update(readFileSync(join(root, 'home', f)))
          .digest('hex')}`,
    );
  return JSON.stringify([await app.store.listJobs(), await app.store.profiles.list(), files]);
}

async function refused(opts: ApplyOptions, ...parts: string[]): Promise<UserError> {
  const before = await snapshot();
  const err = await apply(opts).then(
    () => assert.fail('apply should have been refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UserError, String(err));
  for (const p of parts) assert.ok(err.message.includes(p), `"${p}" not in:\n${err.message}`);
  assert.match(err.message, /nothing was changed/);
  assert.equal(await snapshot(), before, 'the store changed after a refused apply');
  return err;
}

const profileDoc = (extra = ''): string =>
  `kind: backup-profile\nname: nightly\nrepo: ${repo}\npassword-ref: env:NS_TEST_BACKUP_PW\npath: ./data\nkeep-daily: 7\nmin-free: 2G\n${extra}`;
const BACKUP_JOB =
  'name: nightly-backup\ncron: "0 3 * * *"\nbackup: nightly\nalert-after: 1\nalert-max-repo-bytes: 500 GB\n';

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'ns-apply-profiles-'));
  dir = join(root, 'jobs');
  repo = join(root, 'repo');
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(root, 'home'));
  await passphraseRepo(repo);
  app = await openApp(join(root, 'home'));
});
afterEach(async () => {
  await app.close();
  rmSync(root, { recursive: true, force: true });
});

describe('backup profiles in job files', () => {
  test('a job runs a profile declared in the same apply; check, drift by field, update, export round trip', async () => {
    const pf = write('profile.yaml', profileDoc());
    write('backup.yaml', BACKUP_JOB);
    const first = await apply();
    assert.deepEqual(
      first.created.map((c) => [c.kind ?? 'job', c.name]),
      [
        ['backup-profile', 'nightly'],
        ['job', 'nightly-backup'],
      ],
    );
    const p = (await app.store.profiles.get('nightly'))!;
    assert.deepEqual(p.paths, [join(dir, 'data')], 'a relative path is taken against the file');
    assert.deepEqual(p.key, { kind: 'passphrase', ref: 'env:NS_TEST_BACKUP_PW' });
    assert.equal(p.minFreeBytes, 2 * 1024 ** 3);
    assert.deepEqual(p.source, { kind: 'file', path: pf });
    assert.equal((await app.store.findJob('nightly-backup'))!.alerts!.maxRepoBytes, 500 * 1024 ** 3);
    assert.equal((await apply({ check: true })).inSync, true);

    write('profile.yaml', profileDoc().replace('keep-daily: 7', 'keep-daily: 14'));
    const check = await apply({ check: true });
    assert.equal(check.inSync, false);
    assert.deepEqual(
      check.updated.map((u) => [u.kind, u.name, u.drift]),
      [['backup-profile', 'nightly', [{ path: 'retention.daily', file: 14, store: 7 }]]],
    );
    const created = p.createdAtMs;
    await apply();
    const after = (await app.store.profiles.get('nightly'))!;
    assert.equal(after.retention.daily, 14);
    assert.equal(after.createdAtMs, created);

    // Export, then apply --check on the export alone: no drift.
    rmSync(dir, { recursive: true });
    mkdirSync(dir);
    const exported = await exportJobs(app);
    assert.deepEqual(
      exported.map((e) => [e.kind ?? 'job', e.name]),
      [
        ['backup-profile', 'nightly'],
        ['job', 'nightly-backup'],
      ],
    );
    for (const e of exported) write(fileNameFor(e.name, e.kind), e.yaml);
    assert.ok(exported[0]!.yaml.includes('password-ref: env:NS_TEST_BACKUP_PW'));
    const round = await apply({ check: true });
    assert.deepEqual(round.updated, [], JSON.stringify(round.updated));
    assert.equal(round.inSync, true);
  });

  test('the same words as `backup profile add`: sources, retention, remote keys all round trip', async () => {
    write(
      'full.yaml',
      profileDoc(
        'postgres: [erp=postgresql://postgres@127.0.0.1:5432/erp]\ngit: repo=/srv/repo\n' +
          'command-source: "dump=echo hi"\noptional: dump\nsource-password-ref: erp=env:ERP_PW\n' +
          'exclude: ["*.tmp", cache]\ntag: [nightly]\nkeep-within: 1y6m\nkeep-tag: keep\n' +
          'prune-every: 7d\nverify-subset: 5%\nnice: true\ndrill-query: select 1\n',
      ),
    );
    await apply();
    const stored = (await app.store.profiles.get('nightly'))!;
    assert.deepEqual(
      stored.sources!.map((s) => [s.kind, s.name, s.optional ?? false, s.passwordRef ?? null]),
      [
        ['postgres', 'erp', false, 'env:ERP_PW'],
        ['git', 'repo', false, null],
        ['command', 'dump', true, null],
      ],
    );
    rmSync(dir, { recursive: true });
    mkdirSync(dir);
    for (const e of await exportJobs(app, { profiles: ['nightly'] }))
      write(fileNameFor(e.name, e.kind), e.yaml);
    assert.equal((await apply({ check: true })).inSync, true);
  });

  test('orphaned profiles are pruned after their jobs, with confirmation; one a kept job runs is refused', async () => {
    write('profile.yaml', profileDoc());
    const job = write('backup.yaml', BACKUP_JOB);
    await apply();
    unlinkSync(job);
    unlinkSync(join(dir, 'profile.yaml'));
    const check = await apply({ check: true });
    assert.deepEqual(
      check.orphans.map((o) => [o.kind, o.name]),
      [
        ['job', 'nightly-backup'],
        ['backup-profile', 'nightly'],
      ],
    );
    let asked: string[] = [];
    const pruned = await apply({
      prune: true,
      confirm: async (o) => {
        asked = o.map((x) => `${x.kind}:${x.name}`);
        return true;
      },
    });
    assert.deepEqual(asked, ['job:nightly-backup', 'backup-profile:nightly']);
    assert.deepEqual(pruned.removed, ['nightly-backup', 'nightly']);
    assert.equal(await app.store.profiles.get('nightly'), undefined);

    // A profile declared in files and run by a job made by hand stays until that job goes.
    write('profile.yaml', profileDoc());
    await apply();
    await addJob(
      app,
      newJob({
        name: 'by-hand',
        schedule: { kind: 'cron', expr: '0 5 * * *' },
        payload: { kind: 'backup', profile: 'nightly' },
      }),
    );
    unlinkSync(join(dir, 'profile.yaml'));
    write('other.yaml', 'name: other\nevery: 1h\ncommand: "true"\n');
    await refused(
      { prune: true, confirm: async () => true },
      'backup profile nightly is an orphan to prune, but by-hand still runs it',
    );
  });
});

describe('backup profiles: refusals leave the store byte-identical', () => {
  beforeEach(async () => {
    write('profile.yaml', profileDoc());
    write('backup.yaml', BACKUP_JOB);
    await apply();
  });

  test('no repository at repo, naming the file, line and key; the good job beside it is not written', async () => {
    write('new.yaml', 'name: fresh\nevery: 1h\ncommand: "true"\n');
    write(
      'more.yaml',
      `kind: backup-profile\nname: other\nrepo: ${join(root, 'nope')}\npassword-ref: env:X\npath: /tmp\n`,
    );
    await refused({}, 'more.yaml:3: repo: no repository at');
    assert.equal(await app.store.findJob('fresh'), undefined);
  });

  test('a literal passphrase, and a password key, are refused without echoing the value', async () => {
    write(
      'more.yaml',
      `kind: backup-profile\nname: other\nrepo: ${repo}\npassword-ref: hunter2secret\npath: /tmp\n`,
    );
    const err = await refused({}, 'more.yaml:4: password-ref: not a secret reference');
    assert.ok(!err.message.includes('hunter2secret'));
    write(
      'more.yaml',
      `kind: backup-profile\nname: other\nrepo: ${repo}\npassword: hunter2secret\npath: /tmp\n`,
    );
    const err2 = await refused({}, 'more.yaml:4: password: unknown key');
    assert.ok(!err2.message.includes('hunter2secret'));
    assert.match(err2.hint ?? '', /password-ref/);
  });

  test('a job naming a profile neither stored nor declared lists the known ones', async () => {
    write('b2.yaml', 'name: b2\ncron: "0 3 * * *"\nbackup: nightyl\n');
    const err = await refused({}, 'b2.yaml:3: backup: no backup profile named "nightyl"');
    assert.match(err.hint ?? '', /known: nightly/);
  });

  test('a profile of the same name made by a command (unless --adopt); a bad size; an unknown kind', async () => {
    await addProfile(app, 'handmade', () =>
      profileFromFields('handmade', { repo, passwordRef: 'env:X', path: ['/srv'] }, undefined, Date.now()),
    );
    write(
      'hm.yaml',
      `kind: backup-profile\nname: handmade\nrepo: ${repo}\npassword-ref: env:Y\npath: /srv\n`,
    );
    await refused(
      {},
      'hm.yaml:2: name: a backup profile named handmade already exists and was not made from files',
    );
    const adopted = await apply({ adopt: true });
    assert.equal(adopted.updated.find((u) => u.name === 'handmade')!.adopted, true);
    write('profile.yaml', profileDoc().replace('min-free: 2G', 'min-free: 2 gigs'));
    await refused({}, 'profile.yaml:7: min-free:');
    write('profile.yaml', profileDoc().replace('kind: backup-profile', 'kind: backup-profil'));
    await refused({}, 'profile.yaml:1: kind: must be job (the default) or backup-profile');
  });
});

test('the profile use cases keep where a profile was declared, and refuse removing one a job runs', async () => {
  write('profile.yaml', profileDoc());
  write('backup.yaml', BACKUP_JOB);
  await apply();
  const edited = await editProfile(app, 'nightly', (prev) =>
    profileFromFields('nightly', { keepDaily: '3' }, prev, Date.now()),
  );
  assert.equal(edited.source?.kind, 'file');
  const check = await apply({ check: true });
  assert.deepEqual(check.updated[0]!.drift, [{ path: 'retention.daily', file: 7, store: 3 }]);
  await assert.rejects(removeProfile(app, 'nightly'), /used by job nightly-backup/);
});

test('the JSON Schema describes both documents: a job, or with kind backup-profile a profile', () => {
  const s = jobFileJsonSchema() as {
    then: { properties: Record<string, unknown>; required: string[]; additionalProperties: unknown };
    else: { properties: Record<string, unknown> };
  };
  for (const k of ['repo', 'password-ref', 'path', 'keep-daily', 'min-free', 'postgres'])
    assert.ok(k in s.then.properties, k);
  assert.ok(!('password' in s.then.properties));
  assert.equal(s.then.additionalProperties, false);
  assert.deepEqual(s.then.required.sort(), ['kind', 'name', 'repo']);
  assert.ok('cron' in s.else.properties);
});
