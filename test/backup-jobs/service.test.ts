/**
 * The service functions the MCP tools call, on real repositories; and profile validation.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDrill } from '../../src/backup-jobs/drill.ts';
import { runProfileBackup } from '../../src/backup-jobs/profile-backup.ts';
import { checkProfile, listProfileSnapshots } from '../../src/backup-jobs/profile-snapshots.ts';
import { buildProfile, parseSubset, type ProfileInput } from '../../src/domain/backup-profile.ts';
import { parseSize } from '../../src/domain/size.ts';
import { UserError } from '../../src/domain/errors.ts';
import { addProfile, recipientsRepo, world } from './helpers.ts';

function packs(repo: string): string[] {
  const out: string[] = [];
  for (const d of readdirSync(join(repo, 'data')))
    for (const f of readdirSync(join(repo, 'data', d))) out.push(join(repo, 'data', d, f));
  return out.sort((a, b) => statSync(b).size - statSync(a).size);
}

describe('service', () => {
  test('checkProfile with only the writer key hashes the sampled packs and finds a flipped byte', async () => {
    const w = await world();
    try {
      const repo = join(w.root, 'repo');
      await recipientsRepo(w, repo);
      await addProfile(w, { name: 'w', repository: repo, key: { kind: 'recipients' }, paths: [w.src] });
      const profile = (await w.app.store.profiles.get('w'))!;
      const r = await runProfileBackup(w.app, profile, { clock: w.clock });
      assert.ok(
        r.evidence.every((e) => e.ok),
        JSON.stringify(r.evidence),
      );
      assert.equal((await listProfileSnapshots(w.app, 'w')).length, 1);

      const clean = await checkProfile(w.app, 'w', { readDataSubset: '100%' });
      assert.equal(clean.ok, true, JSON.stringify(clean.errors));
      assert.ok(clean.counts.packsRead >= 1);

      const p = packs(repo)[0]!;
      const bytes = readFileSync(p);
      bytes[10]! ^= 0x01;
      writeFileSync(p, bytes);
      const damaged = await checkProfile(w.app, 'w', { readDataSubset: '100%' });
      assert.equal(damaged.ok, false);
      assert.match(damaged.errors.map((e) => e.message).join('\n'), /does not match its name/);
      // Reading needs the identity, and the error says how to give it.
      await assert.rejects(
        runDrill(w.app, 'w'),
        (err: unknown) =>
          err instanceof UserError &&
          /no identity reference/.test(err.message) &&
          /--identity-ref/.test(err.hint ?? ''),
      );
    } finally {
      await w.close();
    }
  });

  test('unknown profiles are named, with the ones there are', async () => {
    const w = await world();
    try {
      await assert.rejects(listProfileSnapshots(w.app, 'nope'), /no backup profile named "nope"/);
    } finally {
      await w.close();
    }
  });
});

describe('profile validation', () => {
  const base: ProfileInput = {
    name: 'ok',
    repository: '/srv/repo',
    key: { kind: 'passphrase', ref: 'env:PW' },
    paths: ['/srv/data'],
  };
  const refused = (input: Partial<ProfileInput>, re: RegExp): void => {
    assert.throws(
      () => buildProfile({ ...base, ...input } as ProfileInput, 0),
      (err: unknown) => err instanceof UserError && re.test(err.message),
    );
  };

  test('a valid profile gets defaults', () => {
    const p = buildProfile(base, 5);
    assert.deepEqual(p, { ...base, excludes: [], tags: [], retention: {}, createdAtMs: 5, updatedAtMs: 5 });
  });

  test('refusals name the flag', () => {
    refused({ name: 'bad name' }, /^NAME: "bad name" is not a valid profile name/);
    refused({ repository: 'relative/repo' }, /^--repo: must be an absolute path/);
    refused({ key: { kind: 'passphrase', ref: 'hunter2' } }, /^--password-ref: is not a secret reference/);
    refused({ key: { kind: 'recipients', identityRef: 'AGE-SECRET-KEY-1XYZ' } }, /^--identity-ref: /);
    refused({ paths: [] }, /^--path: at least one path/);
    refused({ paths: ['rel'] }, /^--path: must be an absolute path/);
    refused({ retention: { last: Infinity } }, /^--keep-last: "unlimited" is not supported/);
    refused({ retention: { last: -1 } }, /keep-last must be a whole number/);
    refused({ pruneEveryMs: 0 }, /^--prune-every: must be a positive duration/);
    refused({ verifySubset: '0%' }, /^--verify-subset: invalid subset/);
    refused({ minFreeBytes: -5 }, /^--min-free: /);
    refused({ tags: ['a,b'] }, /^--tag: invalid tag/);
    // A literal passphrase is never echoed back.
    assert.throws(
      () => buildProfile({ ...base, key: { kind: 'passphrase', ref: 'hunter2' } }, 0),
      (err: unknown) => err instanceof Error && !err.message.includes('hunter2'),
    );
  });

  test('sizes and subsets', () => {
    assert.equal(parseSize('2G', '--min-free'), 2 * 1024 ** 3);
    assert.equal(parseSize('500MiB', '--min-free'), 500 * 1024 ** 2);
    assert.equal(parseSize('1048576', '--min-free'), 1048576);
    assert.throws(() => parseSize('lots', '--min-free'), /--min-free: cannot read "lots"/);
    assert.equal(parseSubset('5%'), 5);
    assert.equal(parseSubset('1/10'), 10);
    assert.throws(() => parseSubset('150%'), /invalid subset/);
  });
});
