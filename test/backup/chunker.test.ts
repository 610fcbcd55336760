import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Chunker, chunkStream, deriveGearTable, validateChunkerParams } from '../../src/backup/chunker.ts';
import { UserError } from '../../src/domain/errors.ts';

const PARAMS = { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const seed = Buffer.alloc(32, 1);

function chunkAll(data: Uint8Array, pieces: number[] = [data.length], s: Uint8Array = seed): Uint8Array[] {
  const c = new Chunker(PARAMS, deriveGearTable(s));
  const out: Uint8Array[] = [];
  let off = 0;
  let i = 0;
  while (off < data.length) {
    const n = pieces[i++ % pieces.length]!;
    out.push(...c.push(data.subarray(off, off + n)));
    off += n;
  }
  out.push(...c.finish());
  return out;
}

const h = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Deterministic bytes (xorshift32) with a zero run and a repeated line, for known answers. */
function knownInput(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  out.fill(0, 1_000_000, 1_700_000);
  const text = Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(20000));
  out.set(text.subarray(0, 600_000), 2_500_000);
  return out;
}

describe('chunker', () => {
  const data = randomBytes(8 * 1024 * 1024);

  test('cuts where format v1 always cut (known answer): existing repositories keep deduplicating', () => {
    // Lengths from the chunker as first released (the gear loop in JavaScript), default parameters.
    const want = [
      156084, 147782, 170803, 135057, 137767, 64668, 149734, 524288, 291224, 131078, 152747, 226258, 139875,
      524288, 190252, 210439, 147344, 135913, 134998, 44531, 196302, 195217,
    ];
    const c = new Chunker({ min: 32 * 1024, avg: 128 * 1024, max: 512 * 1024 }, deriveGearTable(seed));
    const d = knownInput(4 * 1024 * 1024 + 12345);
    const got: number[] = [];
    for (let off = 0; off < d.length; off += 100_000)
      for (const ch of c.push(d.subarray(off, off + 100_000))) got.push(ch.length);
    for (const ch of c.finish()) got.push(ch.length);
    assert.deepEqual(got, want);
  });

  test('chunks reassemble to the input and respect min/max', () => {
    const chunks = chunkAll(data);
    assert.deepEqual(Buffer.concat(chunks), data);
    for (const c of chunks.slice(0, -1)) {
      assert.ok(c.length >= PARAMS.min && c.length <= PARAMS.max, `chunk of ${c.length} bytes`);
    }
    const mean = data.length / chunks.length;
    assert.ok(mean > PARAMS.avg / 2 && mean < PARAMS.avg * 2, `mean chunk ${mean}`);
  });

  test('boundaries do not depend on how the stream is split into buffers', () => {
    const whole = chunkAll(data).map(h);
    assert.deepEqual(chunkAll(data, [1000, 77777, 4096, 1]).map(h), whole);
    assert.deepEqual(chunkAll(data, [PARAMS.max + 3]).map(h), whole);
  });

  test('an insert in the middle dirties only the chunks around it', () => {
    const before = chunkAll(data);
    const edited = Buffer.concat([
      data.subarray(0, 3_000_000),
      Buffer.from('inserted bytes'),
      data.subarray(3_000_000),
    ]);
    const after = chunkAll(edited);
    const old = new Set(before.map(h));
    const fresh = after.filter((c) => !old.has(h(c)));
    assert.ok(fresh.length <= 3, `${fresh.length} new chunks of ${after.length}`);
    assert.ok(after.length - fresh.length >= before.length - 3);
  });

  test('a different repository seed gives different boundaries', () => {
    const a = chunkAll(data).map((c) => c.length);
    const b = chunkAll(data, [data.length], Buffer.alloc(32, 2)).map((c) => c.length);
    assert.notDeepEqual(a, b);
  });

  test('zero-filled input is cut at max', () => {
    const chunks = chunkAll(new Uint8Array(PARAMS.max * 3 + 5));
    assert.deepEqual(
      chunks.map((c) => c.length),
      [PARAMS.max, PARAMS.max, PARAMS.max, 5],
    );
  });

  test('small input is a single chunk; empty input none', () => {
    assert.equal(chunkAll(data.subarray(0, 100)).length, 1);
    const c = new Chunker(PARAMS, deriveGearTable(seed));
    assert.deepEqual(c.finish(), []);
  });

  test('chunkStream yields the same chunks as push/finish', async () => {
    async function* src(): AsyncGenerator<Uint8Array> {
      for (let o = 0; o < data.length; o += 300_000) yield data.subarray(o, o + 300_000);
    }
    const got: string[] = [];
    for await (const c of chunkStream(src(), new Chunker(PARAMS, deriveGearTable(seed)))) got.push(h(c));
    assert.deepEqual(got, chunkAll(data).map(h));
  });

  test('invalid parameters are refused with a UserError', () => {
    for (const p of [
      { min: 1024, avg: 65536, max: 262144 },
      { min: 65536, avg: 65536, max: 262144 },
      { min: 16384, avg: 60000, max: 262144 },
      { min: 16384, avg: 65536, max: 64 * 1024 * 1024 },
    ]) {
      assert.throws(() => validateChunkerParams(p), UserError);
    }
    assert.doesNotThrow(() => validateChunkerParams(PARAMS));
  });
});
