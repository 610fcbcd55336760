import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { reloadOutcome, type LockHolder } from '../../src/app/daemon-lock.ts';

const base: LockHolder = { pid: 1, host: 'h', startedAtMs: 0, role: 'daemon' };
const OLD = 'a'.repeat(64);
const BAD = 'b'.repeat(64);
const FIXED = 'c'.repeat(64);
/** The daemon refused BAD and runs with OLD, loaded at 100. */
const refusedBad: LockHolder = {
  ...base,
  configDigest: OLD,
  configLoadedAtMs: 100,
  configError: 'kind: …',
  configErrorDigest: BAD,
};

describe('daemon reload: what daemon.json answers', () => {
  test('a refusal of an earlier file is no answer yet: `daemon reload` of the fixed file waits for the daemon', () => {
    // The daemon refused BAD and runs with OLD; the user fixed the file (FIXED) and asks for a reload.
    assert.equal(reloadOutcome(refusedBad, FIXED, 100), 'pending');
    // Then the daemon reads FIXED and loads it.
    const after = { ...base, configDigest: FIXED, configLoadedAtMs: 200 };
    assert.equal(reloadOutcome(after, FIXED, 100), 'reloaded');
  });

  test('a refusal of this very file is the answer', () => {
    assert.equal(reloadOutcome(refusedBad, BAD, 100), 'refused');
  });

  test('the same file loaded before the request is not a reload; no daemon.json yet is no answer', () => {
    assert.equal(
      reloadOutcome({ ...base, configDigest: FIXED, configLoadedAtMs: 100 }, FIXED, 100),
      'pending',
    );
    assert.equal(reloadOutcome(undefined, FIXED, 100), 'pending');
  });

  test('a daemon from before configErrorDigest: a refusal counts while it runs with another file', () => {
    const legacy = { ...base, configDigest: OLD, configLoadedAtMs: 100, configError: 'kind: …' };
    assert.equal(reloadOutcome(legacy, BAD, 100), 'refused');
  });
});
