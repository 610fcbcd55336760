import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { mtimeMsOf, sameMtime, utimeSecondsOf } from '../../src/backup/mtime.ts';

describe('modification times from a backup to a restore', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-mtime-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Nanosecond times a file system gives, with the millisecond and second boundaries where a
  // rounding error shows as a different millisecond (or second) after a restore.
  const times = [
    '1796634875.449000000',
    '1796634875.449000001',
    '1796634875.448999999',
    '1796634875.448999000',
    '1796634875.000000000',
    '1796634875.999999999',
    '1580702706.789000000',
    '4102444800.000001000',
    '0.000001000',
    '1234567890.123456789',
  ];
  for (let i = 0; i < 200; i++) {
    const sec = 1_500_000_000 + Math.floor(Math.random() * 400_000_000);
    const ms = Math.floor(Math.random() * 1000);
    // Half exactly on a millisecond (coarse file-system clocks), half anywhere in it.
    const ns = i % 2 === 0 ? ms * 1e6 : ms * 1e6 + Math.floor(Math.random() * 1e6);
    times.push(`${sec}.${String(ns).padStart(9, '0')}`);
  }

  it('a restored file has the original time to the microsecond (and so the same millisecond and second)', () => {
    const src = path.join(dir, 'src');
    const dest = path.join(dir, 'dest');
    fs.writeFileSync(src, 'x');
    fs.writeFileSync(dest, 'y');
    for (const t of times) {
      execFileSync('touch', ['-m', '-d', `@${t}`, src]);
      const original = fs.lstatSync(src, { bigint: true }).mtimeNs;
      assert.equal(original, BigInt(t.replace('.', '')), `the file system keeps ${t}`);
      const stored = JSON.parse(JSON.stringify({ mtimeMs: mtimeMsOf(original) })).mtimeMs as number;
      const s = utimeSecondsOf(stored);
      fs.utimesSync(dest, s, s);
      const restored = fs.lstatSync(dest, { bigint: true }).mtimeNs;
      assert.equal(restored, (original / 1000n) * 1000n, `restored time for ${t}`);
    }
  });

  it('times before 1970 round-trip too', () => {
    const f = path.join(dir, 'old');
    fs.writeFileSync(f, 'x');
    for (const ns of [-1_500_000n, -1_000_000_000n, -86_400_123_456_000n]) {
      const s = utimeSecondsOf(mtimeMsOf(ns));
      fs.utimesSync(f, s, s);
      assert.equal(fs.lstatSync(f, { bigint: true }).mtimeNs, ns);
    }
  });

  it('a time stored by an older snapshot, with sub-microsecond noise, lands within a microsecond', () => {
    const f = path.join(dir, 'legacy');
    fs.writeFileSync(f, 'x');
    const ns = 1796634875449000000n;
    const s = utimeSecondsOf(Number(ns) / 1e6);
    fs.utimesSync(f, s, s);
    assert.equal(fs.lstatSync(f, { bigint: true }).mtimeNs, ns);
  });
});

describe('an untouched file against its snapshot', () => {
  it('matches what this version stores and what earlier versions stored; a changed time does not', () => {
    const ns = 1796634875448999999n;
    assert.ok(sameMtime(ns, mtimeMsOf(ns)));
    assert.ok(sameMtime(ns, Number(ns) / 1e6), 'a snapshot written before whole microseconds');
    assert.ok(!sameMtime(ns + 1000n, mtimeMsOf(ns)));
    assert.ok(!sameMtime(ns - 1_000_000n, Number(ns) / 1e6));
  });
});
