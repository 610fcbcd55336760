import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PathPattern, PatternSet, parsePatternFile } from '../../src/backup/patterns.ts';
import { normaliseRoots, walk } from '../../src/backup/walker.ts';
import type { SourceEntry } from '../../src/backup/ports.ts';
import { rmrf, tmpDir } from './archiver-helpers.ts';

async function collect(
  opts: Parameters<typeof walk>[0],
): Promise<{ entries: SourceEntry[]; warnings: string[] }> {
  const entries: SourceEntry[] = [];
  const warnings: string[] = [];
  for await (const e of walk(opts, { warn: (p) => warnings.push(p) })) entries.push(e);
  return { entries, warnings };
}

describe('path patterns', () => {
  test('unanchored patterns match at any depth, anchored ones from the root', () => {
    const log = new PathPattern('*.log');
    assert.ok(log.matches('/var/app/x.log'));
    assert.ok(!log.matches('/var/app/x.log.txt'));
    const anchored = new PathPattern('/home/*/cache');
    assert.ok(anchored.matches('/home/ann/cache'));
    assert.ok(anchored.matches('/home/ann/cache/deep/file'), 'a matched directory covers its contents');
    assert.ok(!anchored.matches('/x/home/ann/cache'));
    const nested = new PathPattern('cache/tmp');
    assert.ok(nested.matches('/a/b/cache/tmp/f'));
    assert.ok(!nested.matches('/a/b/cache/tmpx'));
    const globstar = new PathPattern('/srv/**/secret-?.[ab]');
    assert.ok(globstar.matches('/srv/secret-1.a'));
    assert.ok(globstar.matches('/srv/x/y/secret-2.b'));
    assert.ok(!globstar.matches('/srv/x/secret-2.c'));
  });

  test('mayMatchBelow tells a walk which directories can hold a match', () => {
    const p = new PathPattern('/home/ann/notes');
    assert.ok(p.mayMatchBelow('/home'));
    assert.ok(p.mayMatchBelow('/home/ann'));
    assert.ok(!p.mayMatchBelow('/etc'));
    assert.ok(new PatternSet(['*.txt']).mayMatchBelow('/anything'));
  });

  test('bad patterns are refused with a clear message', () => {
    assert.throws(() => new PathPattern(''), /invalid path pattern/);
    assert.throws(() => new PathPattern('a[b'), /unclosed/);
  });

  test('pattern files skip comments and blank lines', () => {
    assert.deepEqual(parsePatternFile('# comment\n\n*.tmp\r\n  /cache  \n'), ['*.tmp', '/cache']);
  });
});

describe('walker', () => {
  const dirs: string[] = [];
  after(() => rmrf(...dirs));

  test('normalises roots: absolute, de-duplicated, nested paths dropped', () => {
    assert.deepEqual(normaliseRoots(['/a/b/', '/a/b/c', '/a/./b', '/x', '/a/bb']), ['/a/b', '/a/bb', '/x']);
    assert.deepEqual(normaliseRoots(['/', '/etc']), ['/']);
  });

  test('yields parents first, depth-first, in name order, with excludes and markers applied', async () => {
    const root = tmpDir();
    dirs.push(root);
    fs.mkdirSync(path.join(root, 'a/sub'), { recursive: true });
    fs.mkdirSync(path.join(root, 'b'));
    fs.mkdirSync(path.join(root, 'skipme'));
    fs.writeFileSync(path.join(root, 'skipme/.nobackup'), '');
    fs.writeFileSync(path.join(root, 'skipme/data'), 'x');
    fs.writeFileSync(path.join(root, 'a/sub/f.txt'), 'x');
    fs.writeFileSync(path.join(root, 'a/g.log'), 'x');
    fs.writeFileSync(path.join(root, 'b/h'), 'x');
    fs.symlinkSync('b/h', path.join(root, 'ln'));
    const { entries, warnings } = await collect({
      paths: [path.join(root, 'b'), path.join(root, 'a'), path.join(root, 'ln')],
      excludes: new PatternSet(['*.log']),
      excludeIfPresent: ['.nobackup'],
    });
    assert.deepEqual(warnings, []);
    const rel = entries.map((e) => '/' + e.path.join('/'));
    const parents = path.dirname(root).split('/').filter(Boolean).length + 1;
    assert.deepEqual(rel.slice(parents), [
      `${root}/a`,
      `${root}/a/sub`,
      `${root}/a/sub/f.txt`,
      `${root}/b`,
      `${root}/b/h`,
      `${root}/ln`,
    ]);
    const ln = entries.find((e) => e.path.at(-1) === 'ln')!;
    assert.equal(ln.node.type, 'symlink');
    assert.equal(ln.node.linkTarget, 'b/h');

    const marker = await collect({ paths: [root], excludeIfPresent: ['.nobackup'] });
    assert.ok(!marker.entries.some((e) => e.path.includes('skipme')), 'a marked directory is left out');
  });

  test('a wide tree walks in order while directories are opened ahead, and can be stopped', async () => {
    const root = tmpDir();
    dirs.push(root);
    // 700 names: lstat batches of 256 split the top directory in three; every seventh is a directory.
    const expected: string[] = [];
    for (let i = 0; i < 700; i++) {
      const name = `e${String(i).padStart(3, '0')}`;
      const p = path.join(root, name);
      expected.push(p);
      if (i % 7 !== 0) {
        fs.writeFileSync(p, name);
        continue;
      }
      fs.mkdirSync(path.join(p, 'inner'), { recursive: true });
      if (i % 49 === 0) fs.writeFileSync(path.join(p, '.nobackup'), '');
      fs.writeFileSync(path.join(p, 'inner', 'f'), 'x');
      fs.writeFileSync(path.join(p, 'z'), 'x');
      if (i % 49 === 0) {
        expected.pop(); // excluded by its marker file
        continue;
      }
      expected.push(path.join(p, 'inner'), path.join(p, 'inner', 'f'), path.join(p, 'z'));
    }
    const { entries, warnings } = await collect({ paths: [root], excludeIfPresent: ['.nobackup'] });
    assert.deepEqual(warnings, []);
    const rel = entries.map((e) => '/' + e.path.join('/')).filter((p) => p.startsWith(root + '/'));
    assert.deepEqual(rel, expected);

    // A consumer that stops early leaves nothing behind that fails later.
    let n = 0;
    for await (const e of walk({ paths: [root] }, { warn: () => undefined })) {
      if (e.path.length > 0 && ++n === 40) break;
    }
    assert.equal(n, 40);
  });
});
