/**
 * --limit-upload's token bucket, driven by the injected clock: writes wait until their bytes fit
 * the rate, however many run at once, and a rate of 0 or junk is refused with the accepted forms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ThrottledBlobStore, TokenBucket } from '../../../src/backup/backends/throttle.ts';
import { ManualClock } from '../../../src/domain/clock.ts';
import { parseRate } from '../../../src/domain/size.ts';
import { UserError } from '../../../src/domain/errors.ts';
import type { BlobStore } from '../../../src/backup/ports.ts';

/** Files in memory: writes land at once, so only the bucket decides when. */
function memoryStore(): BlobStore {
  const files = new Map<string, Uint8Array>();
  const get = async (p: string): Promise<Uint8Array> => {
    const f = files.get(p);
    if (!f) throw Object.assign(new Error(`${p} does not exist`), { code: 'ENOENT' });
    return f;
  };
  const under = (dir: string): string[] =>
    [...files.keys()].filter((k) => k.startsWith(`${dir}/`)).map((k) => k.slice(dir.length + 1));
  return {
    location: 'memory',
    write: async (p, d) => void files.set(p, d),
    read: get,
    readRange: async (p, o, l) => (await get(p)).subarray(o, o + l),
    exists: async (p) => files.has(p),
    list: async (dir) => under(dir),
    listSizes: async (dir) => under(dir).map((path) => ({ path, size: files.get(`${dir}/${path}`)!.length })),
    size: async (p) => (await get(p)).length,
    remove: async (p) => void files.delete(p),
  };
}

const KiB = 1024;

test('rates read as users write them: 2MiB/s, 500K, 1.5M/s, bare bytes', () => {
  assert.equal(parseRate('2MiB/s', '--limit-upload'), 2 * 1024 * 1024);
  assert.equal(parseRate('500K', '--limit-upload'), 500 * 1024);
  assert.equal(parseRate('1.5M/s', '--limit-upload'), 1.5 * 1024 * 1024);
  assert.equal(parseRate('1048576', '--limit-upload'), 1048576);
  for (const bad of ['fast', '0', '-1M', '2MiB/h'])
    assert.throws(
      () => parseRate(bad, '--limit-upload'),
      (e: unknown) =>
        e instanceof UserError && e.message.startsWith('--limit-upload:') && /2MiB\/s/.test(e.hint ?? ''),
      bad,
    );
});

test('a paced store sends 1 MiB at 256 KiB/s over 3 s of clock time (the first second is the burst)', async () => {
  const clock = new ManualClock(1_000_000);
  {
    const store = new ThrottledBlobStore(memoryStore(), new TokenBucket({ rate: 256 * KiB, clock }));
    const landed: number[] = [];
    // Four 256 KiB writes started together, as parallel pack uploads are.
    const writes = [0, 1, 2, 3].map((i) =>
      store.write(`data/p${i}`, new Uint8Array(256 * KiB)).then(() => landed.push(clock.now() - 1_000_000)),
    );
    const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
    await settle();
    await settle();
    assert.deepEqual(landed, [0], 'the first 256 KiB goes at once (one second of burst)');
    for (let t = 1; t <= 3; t++) {
      await clock.advance(999);
      await settle();
      assert.equal(landed.length, t, `nothing more before ${t} s`);
      await clock.advance(1);
      await settle();
      await settle();
      assert.equal(landed.length, t + 1, `the next 256 KiB at ${t} s`);
    }
    await Promise.all(writes);
    assert.deepEqual(landed, [0, 1000, 2000, 3000]);
    assert.equal(
      (await store.listSizes('data')).reduce((n, f) => n + f.size, 0),
      1024 * KiB,
    );
  }
});

test('an idle spell refills the bucket only up to the burst', async () => {
  const clock = new ManualClock(0);
  const bucket = new TokenBucket({ rate: 100, clock });
  await bucket.take(100);
  await clock.advance(60_000);
  // A minute idle buys one second's worth, not sixty.
  let done = false;
  const p = bucket.take(200).then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false);
  await clock.advance(1000);
  await p;
  assert.equal(done, true);
});
