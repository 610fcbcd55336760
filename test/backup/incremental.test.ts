/**
 * The parent rule every backup (the `backup run` command and backup jobs) follows.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chooseParent, snapshotRoots } from '../../src/backup/incremental.ts';
import type { SnapshotMeta } from '../../src/backup/ports.ts';

let n = 0;
function snap(over: Partial<SnapshotMeta>): SnapshotMeta {
  n++;
  return {
    id: `s${n}`,
    time: '2027-01-01T03:00:00.000Z',
    hostname: 'h1',
    paths: ['/srv'],
    tags: [],
    tree: 't',
    ...over,
  };
}

describe('chooseParent', () => {
  test('the newest snapshot of the same host and paths; other hosts and path sets are passed over', () => {
    const older = snap({});
    const newer = snap({});
    const otherHost = snap({ hostname: 'h2' });
    const otherPaths = snap({ paths: ['/srv', '/etc'] });
    const list = [older, newer, otherHost, otherPaths];
    assert.equal(chooseParent(list, { host: 'h1', roots: ['/srv'] })?.id, newer.id);
    assert.equal(chooseParent(list, { host: 'h1', roots: ['/etc', '/srv'] })?.id, otherPaths.id);
    assert.equal(chooseParent(list, { host: 'h3', roots: ['/srv'] }), undefined);
  });

  test('with a tag only snapshots carrying it; without one any tags', () => {
    const mine = snap({ tags: ['profile:a'] });
    const theirs = snap({ tags: ['profile:b'] });
    assert.equal(
      chooseParent([mine, theirs], { host: 'h1', roots: ['/srv'], tag: 'profile:a' })?.id,
      mine.id,
    );
    assert.equal(chooseParent([mine, theirs], { host: 'h1', roots: ['/srv'] })?.id, theirs.id);
  });

  test('encrypted paths: passed over unless the caller vouches for them since the snapshot', () => {
    const hidden = snap({ paths: [], pathsHidden: true, time: '2027-02-01T00:00:00.000Z' });
    assert.equal(chooseParent([hidden], { host: 'h1', roots: ['/srv'] }), undefined);
    const since = Date.parse('2027-01-15T00:00:00.000Z');
    assert.equal(
      chooseParent([hidden], { host: 'h1', roots: ['/srv'], pathsUnchangedSinceMs: since })?.id,
      hidden.id,
    );
    const later = Date.parse('2027-03-01T00:00:00.000Z');
    assert.equal(
      chooseParent([hidden], { host: 'h1', roots: ['/srv'], pathsUnchangedSinceMs: later }),
      undefined,
    );
  });

  test('paths are compared as the snapshot records them: duplicates and nested paths drop out', () => {
    assert.deepEqual(snapshotRoots({ paths: ['/srv/a', '/srv', '/srv', '/etc'] }), ['/etc', '/srv']);
    assert.deepEqual(snapshotRoots({ stdinName: 'db.sql' }), ['/db.sql']);
    const s = snap({ paths: ['/etc', '/srv'] });
    const roots = snapshotRoots({ paths: ['/srv', '/srv/a', '/etc'] });
    assert.equal(chooseParent([s], { host: 'h1', roots })?.id, s.id);
  });
});
