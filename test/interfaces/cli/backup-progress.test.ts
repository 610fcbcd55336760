import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress, formatBytes, renderProgress } from '../../../src/interfaces/cli/progress.ts';

describe('backup progress line', () => {
  test('shows files, bytes, rate, percentage and ETA when the total is known', () => {
    const line = renderProgress(
      { files: 120, totalFiles: 300, bytes: 50 * 1024 * 1024, totalBytes: 200 * 1024 * 1024 },
      5000,
      200,
    );
    assert.match(line, /\[###\.{9}\] {2}25%/);
    assert.match(line, /120\/300 files/);
    assert.match(line, /50\.0 MiB \/ 200 MiB/);
    assert.match(line, /10\.0 MiB\/s/);
    assert.match(line, /ETA 00:15/); // 150 MiB left at 10 MiB/s
    const narrow = renderProgress(
      { files: 4000, totalFiles: 30000, bytes: 500 * 1024 ** 2, totalBytes: 1024 ** 3, current: '/a/b' },
      9000,
      79,
    );
    assert.match(narrow, /ETA \d\d:\d\d$/, 'everything but the path fits an 80-column terminal');
  });

  test('without a total there is no bar and no ETA; long paths are shortened to fit', () => {
    const line = renderProgress(
      { files: 7, bytes: 2048, current: '/very/long/'.repeat(20) + 'file.txt' },
      1000,
      80,
    );
    assert.doesNotMatch(line, /ETA|%/);
    assert.match(line, /^7 files {2}2\.0 KiB {2}2\.0 KiB\/s {2}…/);
    assert.ok(line.length <= 80);
    assert.ok(line.endsWith('file.txt'));
  });

  test('byte units', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(545.45), '545 B', 'rates below 1 KiB/s are whole bytes');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GiB');
  });

  test('draws on a terminal, throttled, and clears the line when done', () => {
    const writes: string[] = [];
    let t = 0;
    const sink = createProgress({
      stream: { isTTY: true, columns: 100, write: (s: string) => writes.push(s) },
      now: () => t,
      intervalMs: 100,
    });
    sink.update({ files: 1, bytes: 10 });
    t = 50;
    sink.update({ files: 2, bytes: 20 }); // within the interval: skipped
    t = 150;
    sink.update({ files: 3, bytes: 30 });
    sink.done();
    assert.equal(writes.length, 3);
    assert.ok(writes[0]!.startsWith('\r\x1b[K1 files'), writes[0]);
    assert.match(writes[1]!, /3 files/);
    assert.equal(writes[2], '\r\x1b[K');
  });

  test('stays silent when the stream is not a terminal or progress is disabled', () => {
    const writes: string[] = [];
    const stream = { isTTY: false, write: (s: string) => writes.push(s) };
    const sink = createProgress({ stream });
    sink.update({ files: 1, bytes: 10 });
    sink.done();
    const off = createProgress({ stream: { ...stream, isTTY: true }, enabled: false });
    off.update({ files: 1, bytes: 10 });
    off.done();
    assert.deepEqual(writes, []);
    // A sink that draws nothing says so, so a backup does not count the tree only for it.
    assert.equal(sink.visible, false);
    assert.equal(off.visible, false);
    assert.equal(createProgress({ stream: { ...stream, isTTY: true } }).visible, true);
  });
});
