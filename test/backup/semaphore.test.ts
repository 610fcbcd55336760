import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore } from '../../src/backup/semaphore.ts';

describe('semaphore', () => {
  test('weighted permits: a heavy waiter is served in its turn, light ones behind it wait', async () => {
    const s = new Semaphore(10);
    const order: string[] = [];
    assert.equal(await s.acquire(6), 6);
    const heavy = s.acquire(8).then((n) => order.push(`heavy ${n}`));
    const light = s.acquire(1).then((n) => order.push(`light ${n}`));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [], 'the light one does not jump the queue although 4 are free');
    s.release(6);
    await Promise.all([heavy, light]);
    assert.deepEqual(order, ['heavy 8', 'light 1']);
  });

  test('a request above the capacity takes all of it instead of waiting forever', async () => {
    const s = new Semaphore(4);
    assert.equal(await s.acquire(100), 4);
    let got = false;
    const next = s.acquire().then(() => (got = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(got, false);
    s.release(4);
    await next;
    assert.equal(got, true);
  });
});
