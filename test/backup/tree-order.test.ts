import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareNames, decodeTree, encodeTree } from '../../src/backup/tree.ts';
import type { TreeNode } from '../../src/backup/ports.ts';

const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

test('tree entries are ordered by the UTF-8 bytes of their names, astral and private-use names included', () => {
  // UTF-16 order puts U+1F600 (a surrogate pair) before U+E000 and U+FFFF; UTF-8 order after.
  const names = [
    'b',
    'a-b',
    'a',
    'A',
    'é',
    '中',
    '\ue000',
    '\uffff',
    '😀',
    '😁',
    'a😀',
    'a\uffff',
    'ab',
    'az',
  ];
  const unique = [...new Set(names)];
  for (const a of unique)
    for (const b of unique)
      assert.equal(Math.sign(compareNames(a, b)), Math.sign(byBytes(a, b)), `${a} vs ${b}`);
  const node = (name: string): TreeNode => ({
    name,
    type: 'file',
    mode: 0o100644,
    uid: 0,
    gid: 0,
    mtimeMs: 0,
    size: 0,
  });
  const shuffled = [...unique].reverse();
  const tree = decodeTree(encodeTree({ nodes: shuffled.map(node) }));
  assert.deepEqual(
    tree.nodes.map((n) => n.name),
    [...unique].sort(byBytes),
  );
});
