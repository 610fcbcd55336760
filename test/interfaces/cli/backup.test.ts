/**
 * `nightshift backup …` end to end: the real binary, a temporary home and repository, real files.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireLock } from '../../../src/backup/lock.ts';
import { LocalBlobStore } from '../../../src/backup/backends/local.ts';

const BIN = fileURLToPath(new URL('../../../bin/nightshift', import.meta.url));
const PASSWORD = 'pw-' + randomBytes(6).toString('hex');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

function ns(
  args: string[],
  opts: { env?: Record<string, string | undefined>; input?: Buffer } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NIGHTSHIFT_PASSWORD: undefined,
      NIGHTSHIFT_REPOSITORY: undefined,
    };
    for (const [k, v] of Object.entries(opts.env ?? {})) env[k] = v;
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code: code ?? -1,
        stdout: stdoutBytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBytes,
      });
    });
    child.stdin.end(opts.input ?? Buffer.alloc(0));
  });
}

/** Everything under `dir` a restore must reproduce: type, mode, size, content hash, link target, mtime. */
function describeTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(dir, r);
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[r] = `link ${fs.readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        walk(r);
      } else
        out[r] =
          `file ${mode} ${st.size} ${fs.lstatSync(p, { bigint: true }).mtimeNs / 1_000_000n} ` +
          createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk('');
  return out;
}

function makeData(dir: string): void {
  fs.mkdirSync(path.join(dir, 'docs', 'empty-dir'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'docs', 'notes.txt'), 'remember the milk\n'.repeat(100));
  fs.writeFileSync(path.join(dir, 'docs', 'grüße-📦.md'), 'unicode name\n');
  fs.writeFileSync(path.join(dir, 'empty'), '');
  fs.writeFileSync(path.join(dir, 'big.bin'), randomBytes(3 * 1024 * 1024));
  fs.chmodSync(path.join(dir, 'docs', 'notes.txt'), 0o640);
  fs.symlinkSync('docs/notes.txt', path.join(dir, 'link'));
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
const home = path.join(tmp, 'home');
const data = path.join(tmp, 'data');
const repo = path.join(tmp, 'repo');
const pwFile = path.join(tmp, 'pw');
const g = ['--home', home];

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('backup CLI, passphrase repository', { timeout: 300_000 }, () => {
  const snaps: string[] = [];

  before(async () => {
    makeData(data);
    // Files changed within a second of a backup's start are re-read by design (timestamps that
    // coarse cannot prove a file unchanged), so the data must be older than that before the
    // first run for the second run to skip it. ctime cannot be set back: let the second pass.
    await new Promise((r) => setTimeout(r, 1100));
    fs.writeFileSync(pwFile, PASSWORD + '\n', { mode: 0o600 });
    const init = await ns([...g, 'backup', 'init', '--repo', repo, '--password-file', pwFile]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /created passphrase repository [0-9a-f]+/);
  });

  test('run --json prints the snapshot id and stats; a second run reads only what changed', async () => {
    const env = { NIGHTSHIFT_PASSWORD: PASSWORD };
    const first = await ns([...g, '--json', 'backup', 'run', '--repo', repo, '--tag', 'first', data], {
      env,
    });
    assert.equal(first.code, 0, first.stderr);
    const j1 = JSON.parse(first.stdout) as { snapshotId: string; stats: Record<string, number | undefined> };
    assert.match(j1.snapshotId, /^[0-9a-f]{64}$/);
    for (const k of ['files', 'dirs', 'bytesRead', 'bytesNew', 'chunksNew', 'durationMs'])
      assert.equal(typeof j1.stats[k], 'number', k);
    assert.equal(j1.stats.files, 4);
    assert.ok(j1.stats.bytesRead! >= 3 * 1024 * 1024);
    assert.equal(first.stderr, '', 'no progress drawing when stderr is not a terminal');
    snaps.push(j1.snapshotId);

    fs.appendFileSync(path.join(data, 'docs', 'notes.txt'), 'and the eggs\n');
    const second = await ns([...g, '--json', 'backup', 'run', '-r', repo, data], { env });
    assert.equal(second.code, 0, second.stderr);
    const j2 = JSON.parse(second.stdout) as {
      snapshotId: string;
      parent: string;
      stats: Record<string, number>;
    };
    assert.equal(j2.parent, j1.snapshotId);
    assert.ok(j2.stats.bytesRead! < 10_000, `only the changed file is read, read ${j2.stats.bytesRead}`);
    assert.ok(j2.stats.bytesNew! < 10_000, 'the big file is deduplicated');
    snaps.push(j2.snapshotId);
  });

  test('snapshots, ls and diff, in text and JSON', async () => {
    const env = { NIGHTSHIFT_REPOSITORY: repo, NIGHTSHIFT_PASSWORD: PASSWORD };
    const list = await ns([...g, '--json', 'backup', 'snapshots'], { env });
    assert.equal(list.code, 0, list.stderr);
    const metas = JSON.parse(list.stdout) as { id: string; tags: string[]; paths: string[] }[];
    assert.deepEqual(
      metas.map((m) => m.id),
      snaps,
    );
    assert.deepEqual(metas[0]!.tags, ['first']);
    assert.deepEqual(metas[0]!.paths, [data]);
    const text = await ns([...g, 'backup', 'snapshots', '--tag', 'first'], { env });
    assert.match(text.stdout, new RegExp(snaps[0]!.slice(0, 8)));
    assert.doesNotMatch(text.stdout, new RegExp(snaps[1]!.slice(0, 8)));

    const ls = await ns([...g, '--json', 'backup', 'ls', snaps[0]!.slice(0, 10), path.join(data, 'docs')], {
      env,
    });
    assert.equal(ls.code, 0, ls.stderr);
    const entries = (JSON.parse(ls.stdout) as { entries: { path: string; type: string }[] }).entries;
    assert.deepEqual(entries.map((e) => [path.relative(data, e.path), e.type]).sort(), [
      ['docs', 'dir'],
      ['docs/empty-dir', 'dir'],
      ['docs/grüße-📦.md', 'file'],
      ['docs/notes.txt', 'file'],
    ]);

    const diff = await ns([...g, '--json', 'backup', 'diff', snaps[0]!, 'latest'], { env });
    assert.equal(diff.code, 0, diff.stderr);
    const d = JSON.parse(diff.stdout) as { changes: { path: string; change: string }[] };
    assert.deepEqual(
      d.changes.map((c) => [c.path, c.change]),
      [[path.join(data, 'docs', 'notes.txt'), 'modified']],
    );
  });

  test('restore --overwrite never counts files written apart from files kept, with the reason', async () => {
    const env = { NIGHTSHIFT_PASSWORD: PASSWORD };
    const target = path.join(tmp, 'restored-twice');
    const first = await ns([...g, 'backup', 'restore', 'latest', '-r', repo, '--target', target], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /: 4 files written, \d+ dirs/);
    const notes = path.join(target, data, 'docs', 'notes.txt');
    fs.rmSync(notes);
    const kept = path.join(target, data, 'docs', 'grüße-📦.md');
    fs.writeFileSync(kept, 'edited locally');
    const r = await ns(
      [...g, '--json', 'backup', 'restore', 'latest', '-r', repo, '--target', target, '--overwrite', 'never'],
      {
        env,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { written: number; skipped: { count: number; reason: string } };
    assert.equal(out.written, 1);
    assert.equal(out.skipped.count, 4, 'three files and the symlink were already there');
    assert.match(out.skipped.reason, /already present/);
    assert.equal(fs.readFileSync(kept, 'utf8'), 'edited locally', 'a kept file is not touched');
    assert.deepEqual(fs.readFileSync(notes), fs.readFileSync(path.join(data, 'docs', 'notes.txt')));

    const again = await ns([...g, 'backup', 'restore', 'latest', '-r', repo, '--target', target], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /: 1 file written, 3 kept \(unchanged \(same size and mtime/);
  });

  test('restore --verify and dump | tar reproduce the files byte for byte', async () => {
    const env = { NIGHTSHIFT_PASSWORD: PASSWORD };
    const target = path.join(tmp, 'restored');
    const r = await ns([...g, 'backup', 'restore', 'latest', '-r', repo, '--target', target, '--verify'], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /restored snapshot .* 4 verified/);
    assert.deepEqual(describeTree(path.join(target, data)), describeTree(data));

    const d = await ns([...g, 'backup', 'dump', 'latest', path.join(data, 'docs'), '-r', repo], { env });
    assert.equal(d.code, 0, d.stderr);
    const untar = path.join(tmp, 'untar');
    fs.mkdirSync(untar);
    const tar = spawn('tar', ['-xf', '-', '-C', untar], { stdio: ['pipe', 'inherit', 'inherit'] });
    tar.stdin.end(d.stdoutBytes);
    assert.equal(await new Promise((res) => tar.on('close', res)), 0);
    const docs = fs.readdirSync(untar, { recursive: true }).map(String);
    const notes = docs.find((p) => p.endsWith('notes.txt'))!;
    assert.ok(notes, `notes.txt in ${docs.join(', ')}`);
    assert.deepEqual(
      fs.readFileSync(path.join(untar, notes)),
      fs.readFileSync(path.join(data, 'docs', 'notes.txt')),
    );
  });

  test('forget --dry-run explains each decision and removes nothing; forget --prune removes', async () => {
    const env = { NIGHTSHIFT_PASSWORD: PASSWORD, NIGHTSHIFT_REPOSITORY: repo };
    const dry = await ns([...g, '--json', 'backup', 'forget', '--keep-last', '1', '--dry-run'], { env });
    assert.equal(dry.code, 0, dry.stderr);
    const plan = JSON.parse(dry.stdout) as {
      dryRun: boolean;
      groups: {
        key: string;
        keep: { id: string; time: string; reasons: string[] }[];
        remove: { id: string; reason: string }[];
      }[];
      removed: string[];
    };
    assert.equal(plan.dryRun, true);
    assert.equal(plan.groups.length, 1);
    assert.match(plan.groups[0]!.key, /^host .*, paths \[/);
    assert.deepEqual(plan.groups[0]!.keep, [
      { id: snaps[1], time: plan.groups[0]!.keep[0]!.time, reasons: ['last snapshot'] },
    ]);
    assert.equal(plan.groups[0]!.remove[0]!.id, snaps[0]);
    assert.match(plan.groups[0]!.remove[0]!.reason, /last 1 already used/);
    assert.deepEqual(plan.removed, []);

    const text = await ns([...g, 'backup', 'forget', '--keep-last', '1', '--dry-run'], { env });
    assert.match(text.stdout, /keep\s+\w{8} .* last snapshot/);
    assert.match(text.stdout, /dry run: 1 snapshot would be removed/);
    const still = await ns([...g, '--json', 'backup', 'snapshots'], { env });
    assert.equal((JSON.parse(still.stdout) as unknown[]).length, 2);

    const none = await ns([...g, 'backup', 'forget'], { env });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no retention rule/);

    const real = await ns([...g, '--json', 'backup', 'forget', '--keep-last', '1', '--prune'], { env });
    assert.equal(real.code, 0, real.stderr);
    const done = JSON.parse(real.stdout) as { removed: string[]; prune: { dryRun: boolean } };
    assert.deepEqual(done.removed, [snaps[0]]);
    assert.equal(done.prune.dryRun, false);
    const after = await ns([...g, '--json', 'backup', 'snapshots'], { env });
    assert.deepEqual(
      (JSON.parse(after.stdout) as { id: string }[]).map((s) => s.id),
      [snaps[1]],
    );
  });

  test('check passes, and finds a flipped byte in a pack (exit 1)', async () => {
    const env = { NIGHTSHIFT_PASSWORD: PASSWORD, NIGHTSHIFT_REPOSITORY: repo };
    const ok = await ns([...g, 'backup', 'check', '--read-data'], { env });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /no errors were found/);

    const packs = fs.readdirSync(path.join(repo, 'data'), { recursive: true }).map(String);
    const pack = packs
      .map((p) => path.join(repo, 'data', p))
      .filter((p) => fs.statSync(p).isFile())
      .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!;
    const bytes = fs.readFileSync(pack);
    const copy = Buffer.from(bytes);
    copy[Math.floor(copy.length / 3)]! ^= 0x01;
    fs.chmodSync(pack, 0o600);
    fs.writeFileSync(pack, copy);
    try {
      const bad = await ns([...g, '--json', 'backup', 'check', '--read-data'], { env });
      assert.equal(bad.code, 1, bad.stderr);
      const report = JSON.parse(bad.stdout) as { ok: boolean; errors: { file?: string; message: string }[] };
      assert.equal(report.ok, false);
      assert.ok(report.errors.length > 0);
      assert.match(JSON.stringify(report.errors), new RegExp(path.basename(pack).slice(0, 16)));
      const subset = await ns([...g, 'backup', 'check', '--read-data-subset', '150%'], { env });
      assert.equal(subset.code, 2);
      assert.match(subset.stderr, /--read-data-subset/);
    } finally {
      fs.writeFileSync(pack, bytes);
    }
  });

  test('wrong password exits 5; passwords are never taken from argv nor echoed', async () => {
    const [wrong, argv, none, missing] = await Promise.all([
      ns([...g, 'backup', 'snapshots', '-r', repo], { env: { NIGHTSHIFT_PASSWORD: 'not-it' } }),
      ns([...g, 'backup', 'snapshots', '-r', repo, `--password=${PASSWORD}`]),
      ns([...g, 'backup', 'snapshots', '-r', repo]),
      ns([...g, 'backup', 'snapshots', '-r', repo, '--password-file', path.join(tmp, 'nope')]),
    ]);
    assert.equal(wrong.code, 5);
    assert.match(wrong.stderr, /wrong password/);
    assert.doesNotMatch(wrong.stderr, /not-it/);

    assert.equal(argv.code, 2);
    assert.match(argv.stderr, /command line/);
    assert.ok(!argv.stderr.includes(PASSWORD) && !argv.stdout.includes(PASSWORD));

    assert.equal(none.code, 5);
    assert.match(none.stderr, /needs its password/);

    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the password file .*nope/);
  });

  test('bad flags and missing things get clear errors and their exit codes', async () => {
    const env = { NIGHTSHIFT_PASSWORD: PASSWORD };
    const cases: [string[], number, RegExp][] = [
      [['backup', 'snapshots'], 2, /no repository given/],
      [['backup', 'snapshots', '-r', path.join(tmp, 'nowhere')], 3, /no repository at/],
      [['backup', 'forget', '-r', repo, '--keep-daily', 'seven'], 2, /--keep-daily must be a whole number/],
      [['backup', 'forget', '-r', repo, '--keep-within', '2 weeks'], 2, /--keep-within: invalid duration/],
      [
        ['backup', 'forget', '-r', repo, '--keep-last', '1', '--group-by', 'colour'],
        2,
        /unknown field "colour"/,
      ],
      [['backup', 'run', '-r', repo], 2, /no paths to back up/],
      [['backup', 'run', '-r', repo, '--stdin'], 2, /--stdin needs --stdin-name/],
      [['backup', 'restore', 'latest', '-r', repo], 2, /needs --target/],
      [['backup', 'ls', 'zzzz', '-r', repo], 2, /invalid snapshot id/],
      [['backup', 'ls', 'abcdef12', '-r', repo], 3, /no snapshot abcdef12/],
      [['backup', 'run', '-r', repo, '--frobnicate', data], 2, /unknown option/],
    ];
    // Independent commands: run side by side to keep the suite quick.
    const results = await Promise.all(cases.map(([args]) => ns([...g, ...args], { env })));
    cases.forEach(([args, code, re], i) => {
      const r = results[i]!;
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
    });
  });

  test('a conflicting lock exits 4 and names unlock; --stdin backs up a stream', async () => {
    const env = { NIGHTSHIFT_PASSWORD: PASSWORD };
    const lock = await acquireLock(new LocalBlobStore(repo), { exclusive: true });
    try {
      const r = await ns([...g, 'backup', 'run', '-r', repo, data], { env });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /locked/);
      assert.match(r.stderr, /unlock/);
    } finally {
      await lock.release();
    }
    const stream = randomBytes(100_000);
    const s = await ns([...g, '--json', 'backup', 'run', '-r', repo, '--stdin', '--stdin-name', 'db.sql'], {
      env,
      input: stream,
    });
    assert.equal(s.code, 0, s.stderr);
    const id = (JSON.parse(s.stdout) as { snapshotId: string }).snapshotId;
    const d = await ns([...g, 'backup', 'dump', id, '/db.sql', '-r', repo], { env });
    assert.equal(d.code, 0, d.stderr);
    // A single-file tar: 512-byte header, then the content.
    assert.deepEqual(d.stdoutBytes.subarray(512, 512 + stream.length), stream);
  });

  test('keys add, list and remove: a second password opens the repository, a removed one no longer does', async () => {
    const env = { NIGHTSHIFT_PASSWORD: PASSWORD, NIGHTSHIFT_REPOSITORY: repo };
    const second = 'second-' + randomBytes(4).toString('hex');
    const add = await ns([...g, '--json', 'backup', 'keys', 'add'], {
      env: { ...env, NIGHTSHIFT_NEW_PASSWORD: second },
    });
    assert.equal(add.code, 0, add.stderr);
    assert.ok(!add.stdout.includes(second));
    const list = await ns([...g, '--json', 'backup', 'keys', 'list'], { env });
    const keys = JSON.parse(list.stdout) as { id: string; current: boolean }[];
    assert.equal(keys.length, 2);
    const original = keys.find((k) => k.current)!;
    const inUse = await ns([...g, 'backup', 'keys', 'remove', original.id.slice(0, 8)], { env });
    assert.equal(inUse.code, 4, inUse.stderr);
    const removed = await ns([...g, 'backup', 'keys', 'remove', original.id.slice(0, 8)], {
      env: { ...env, NIGHTSHIFT_PASSWORD: second },
    });
    assert.equal(removed.code, 0, removed.stderr);
    const [oldPw, newPw] = await Promise.all([
      ns([...g, 'backup', 'snapshots'], { env }),
      ns([...g, 'backup', 'snapshots'], { env: { ...env, NIGHTSHIFT_PASSWORD: second } }),
    ]);
    assert.equal(oldPw.code, 5);
    assert.equal(newPw.code, 0, newPw.stderr);
  });
});

describe('backup CLI, recipients repository', { timeout: 300_000 }, () => {
  const rhome = path.join(tmp, 'rhome');
  const rrepo = path.join(tmp, 'rrepo');
  const idFile = path.join(tmp, 'identity.txt');
  const rg = ['--home', rhome];

  test('keygen, init --recipient, back up without being able to read, restore with --identity', async () => {
    const kg = await ns([...rg, '--json', 'backup', 'keygen', '--out', idFile]);
    assert.equal(kg.code, 0, kg.stderr);
    const { recipient } = JSON.parse(kg.stdout) as { recipient: string };
    assert.match(recipient, /^age1[0-9a-z]{58}$/);
    assert.equal(fs.statSync(idFile).mode & 0o777, 0o600);
    assert.ok(!kg.stdout.includes('AGE-SECRET-KEY'), 'the identity is never printed');
    const again = await ns([...rg, 'backup', 'keygen', '--out', idFile]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists/);

    const init = await ns([...rg, '--json', 'backup', 'init', '-r', rrepo, '--recipient', recipient]);
    assert.equal(init.code, 0, init.stderr);
    const info = JSON.parse(init.stdout) as { id: string; mode: string; writerKey: string };
    assert.equal(info.mode, 'recipients');
    assert.equal(info.writerKey, path.join(rhome, 'backup-keys', `${info.id}.key`));
    assert.equal(fs.statSync(info.writerKey).mode & 0o777, 0o600);

    const run = await ns([...rg, '--json', 'backup', 'run', '-r', rrepo, data]);
    assert.equal(run.code, 0, run.stderr);

    const list = await ns([...rg, 'backup', 'snapshots', '-r', rrepo]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /\(encrypted\)/);

    const deniedArgs = [
      ['restore', 'latest', '--target', path.join(tmp, 'r-denied')],
      ['ls', 'latest'],
      ['check', '--read-data'],
    ];
    const denied = await Promise.all(deniedArgs.map((args) => ns([...rg, 'backup', ...args, '-r', rrepo])));
    denied.forEach((r, i) => {
      assert.equal(r.code, 5, `${deniedArgs[i]![0]}: ${r.stderr}`);
      assert.match(r.stderr, /--identity/);
    });
    assert.ok(!fs.existsSync(path.join(tmp, 'r-denied')), 'nothing is written when reading is refused');

    const target = path.join(tmp, 'r-restored');
    const ok = await ns([
      ...rg,
      'backup',
      'restore',
      'latest',
      '-r',
      rrepo,
      '--target',
      target,
      '--identity',
      idFile,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(describeTree(path.join(target, data)), describeTree(data));

    const otherHome = await ns(['--home', path.join(tmp, 'elsewhere'), 'backup', 'run', '-r', rrepo, data]);
    assert.equal(otherHome.code, 5);
    assert.match(otherHome.stderr, /no writer key for repository/);
  });
});
