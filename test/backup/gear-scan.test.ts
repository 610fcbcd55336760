import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { deriveGearTable } from '../../src/backup/chunker.ts';
import { GEAR_SCAN_WASM, type GearScanExports } from '../../src/backup/gear-scan.ts';
// @ts-expect-error: a plain ES module script without types
import { compileGearScan } from '../../scripts/gear-scan.mjs';

/** The loop the module replaces, in JavaScript: [cut or -1, hash where it stopped]. */
function reference(
  data: Uint8Array,
  gear: Uint32Array,
  j: number,
  endS: number,
  endL: number,
  h: number,
  maskS: number,
  maskL: number,
): [number, number] {
  for (; j < endS; j++) {
    h = ((h << 1) + gear[data[j]!]!) | 0;
    if ((h & maskS) === 0) return [j + 1, h];
  }
  for (; j < endL; j++) {
    h = ((h << 1) + gear[data[j]!]!) | 0;
    if ((h & maskL) === 0) return [j + 1, h];
  }
  return [-1, h];
}

describe('gear scan (WebAssembly)', () => {
  test('the module in gear-scan.ts is gear-scan.wat compiled (run `node scripts/gear-scan.mjs` after editing it)', async () => {
    const compiled = (await compileGearScan()) as Buffer;
    assert.equal(Buffer.from(GEAR_SCAN_WASM).toString('base64'), compiled.toString('base64'));
  });

  test('finds the cut and leaves the hash exactly as the JavaScript loop does', () => {
    const w = new WebAssembly.Instance(new WebAssembly.Module(GEAR_SCAN_WASM), {})
      .exports as unknown as GearScanExports;
    w.memory.grow(16);
    const gear = deriveGearTable(randomBytes(32));
    new Uint32Array(w.memory.buffer, 0, 256).set(gear);
    const data = new Uint8Array(w.memory.buffer, 1024, 1 << 20);
    data.set(randomBytes(data.length));
    const high = (b: number): number => (((1 << b) - 1) << (32 - b)) | 0;
    let cuts = 0;
    let misses = 0;
    for (let k = 0; k < 2000; k++) {
      const bits = 6 + (k % 12);
      const maskS = high(bits + 2);
      const maskL = high(bits - 2);
      const j = (k * 7919) % (data.length - 70_000);
      // Scans that start past endS, stop at endS or reach endL without a cut, from any hash.
      const endS = j + ((k * 31) % (1 << (bits + 1)));
      const endL = Math.max(endS, j + ((k * 131) % 60_000));
      const h = (k * 2654435761) | 0;
      const [cut, hash] = reference(data, gear, j, endS, endL, h, maskS, maskL);
      assert.equal(w.scan(j, endS, endL, h, maskS, maskL), cut, `scan ${k}`);
      assert.equal(w.hash.value, hash, `hash after scan ${k}`);
      if (cut < 0) misses++;
      else cuts++;
    }
    assert.ok(cuts > 100 && misses > 100, `both outcomes are exercised (${cuts} cuts, ${misses} misses)`);
  });
});
