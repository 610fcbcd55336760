/**
 * A MariaDB source against the real MariaDB on this machine (root, no password): the backup job
 * streams a consistent `mariadb-dump` into the snapshot, the live database is dropped and
 * restored from it with equal rows, and a drill restores into a scratch database on the same
 * server, runs the check query and drops the scratch database again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { openRepository } from '../../src/backup/repository.ts';
import { restoreSource } from '../../src/backup-jobs/restore-source.ts';
import { addProfile, passphraseRepo, PASSWORD, world, type World } from './helpers.ts';

const db = `ns_my_${randomBytes(4).toString('hex')}`;
const url = `mysql://root@127.0.0.1:3306/${db}`;

function sql(text: string, database?: string): string {
  return execFileSync(
    'mariadb',
    ['--user=root', '--host=127.0.0.1', '-N', '-B', '-e', text, ...(database ? [database] : [])],
    { encoding: 'utf8' },
  ).trim();
}

let w: World;
let repoDir: string;

before(async () => {
  sql(`CREATE DATABASE \`${db}\``);
  sql(
    'CREATE TABLE invoices (id INT AUTO_INCREMENT PRIMARY KEY, amount INT, note VARCHAR(40)) ENGINE=InnoDB',
    db,
  );
  const values = Array.from({ length: 400 }, (_, i) => `(${i + 1}, 'inv ''${i}''')`).join(',');
  sql(`INSERT INTO invoices (amount, note) VALUES ${values}`, db);
  w = await world();
  repoDir = join(w.root, 'repo');
  await passphraseRepo(repoDir);
});

after(async () => {
  await w?.close();
  sql(`DROP DATABASE IF EXISTS \`${db}\``);
});

describe('MariaDB source', () => {
  test('backup, drop, restore-source with equal rows; a drill with --drill-query on a scratch database', async () => {
    await addProfile(w, {
      name: 'shop',
      repository: repoDir,
      key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
      paths: [],
      sources: [{ kind: 'mysql', name: 'shop', target: url }],
      drillQuery: 'select count(*) from invoices',
    });
    await w.addJob('shop-backup', { kind: 'backup', profile: 'shop' });
    await w.addJob('shop-drill', { kind: 'drill', profile: 'shop' });

    const r = await w.run('shop-backup');
    assert.equal(r.status, 'ok', `${r.error}\n${r.outputTail}`);
    const ev = r.evidence?.find((e) => e.check === 'source shop');
    assert.match(ev?.detail ?? '', /exit status 0/);
    const rec = r.details?.backup?.sources?.[0];
    assert.equal(rec?.path, '/databases/mysql/shop.sql');
    assert.ok((rec?.bytes ?? 0) > 5000, `dump of ${rec?.bytes} bytes`);

    const d = await w.run('shop-drill');
    assert.equal(d.status, 'ok', `${d.error}\n${d.outputTail}`);
    const dbEv = d.evidence?.find((e) => e.check === 'database shop');
    assert.match(
      dbEv?.detail ?? '',
      /restored into scratch database nightshift_drill_[0-9a-f]+ \(dropped after\); "select count\(\*\) from invoices" returned 1 row/,
    );
    const scratch = d.details!.drill!.databases![0]!.scratch;
    assert.equal(sql(`SHOW DATABASES LIKE '${scratch}'`), '', 'the scratch database is dropped');

    // Drop the live database; restore it from the snapshot: every row is back, byte for byte.
    const before = sql('SELECT count(*), sum(amount), md5(group_concat(note ORDER BY id)) FROM invoices', db);
    sql(`DROP DATABASE \`${db}\``);
    const repo = await openRepository(repoDir, { password: PASSWORD });
    try {
      const snap = await repo.loadSnapshot(r.details!.backup!.snapshotId!);
      const said = await restoreSource(repo, snap, 'shop', { into: url });
      assert.equal(said, `restored shop into MariaDB database ${db}`);
    } finally {
      await repo.close();
    }
    assert.equal(
      sql('SELECT count(*), sum(amount), md5(group_concat(note ORDER BY id)) FROM invoices', db),
      before,
    );
    assert.match(before, /^400\t80200\t/);
  });

  test('a drill query that finds nothing fails the drill, and the scratch database is still dropped', async () => {
    await addProfile(w, {
      name: 'shop-empty',
      repository: repoDir,
      key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
      paths: [],
      sources: [{ kind: 'mysql', name: 'shop2', target: url }],
      drillQuery: 'select id from invoices where amount < 0',
    });
    await w.addJob('shop2-backup', { kind: 'backup', profile: 'shop-empty' });
    await w.addJob('shop2-drill', { kind: 'drill', profile: 'shop-empty' });
    assert.equal((await w.run('shop2-backup')).status, 'ok');
    const d = await w.run('shop2-drill');
    assert.equal(d.status, 'error');
    assert.match(d.error ?? '', /the check query returned no rows/);
    const scratch = d.details!.drill!.databases![0]!.scratch;
    assert.equal(sql(`SHOW DATABASES LIKE '${scratch}'`), '');
  });
});
