/** How the `backup` commands word snapshots, times and reports in text output. */
import type { CheckReport } from '../../../backup/check.ts';
import type { SnapshotMeta } from '../../../backup/ports.ts';
import type { PruneReport } from '../../../backup/prune.ts';
import { printLine } from '../output.ts';
import { formatBytes } from '../progress.ts';

export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function localStamp(iso: string): string {
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function pathsText(s: SnapshotMeta): string {
  return s.pathsHidden ? '(encrypted)' : s.paths.join(', ');
}

export function printPrune(r: PruneReport): void {
  printLine(
    `${r.dryRun ? 'would remove' : 'removed'} ${r.packsDeleted} pack${r.packsDeleted === 1 ? '' : 's'}, repacked ${r.packsRepacked}, ` +
      `${r.blobsRemoved} unused blob${r.blobsRemoved === 1 ? '' : 's'}; ${formatBytes(r.bytesBefore)} -> ${formatBytes(r.bytesAfter)} ` +
      `(${formatBytes(r.bytesFreed)} ${r.dryRun ? 'to free' : 'freed'})`,
  );
  if (r.unindexedPacksRemoved || r.tempFilesRemoved)
    printLine(
      `cleaned up ${r.unindexedPacksRemoved} unindexed packs and ${r.tempFilesRemoved} temp files left by interrupted runs`,
    );
}

export function printCheck(r: CheckReport): void {
  const c = r.counts;
  printLine(
    `checked ${c.snapshots} snapshots, ${c.packs} packs, ${c.blobs} blobs, ${c.treesChecked} trees` +
      (r.readPercent !== undefined || c.packsRead > 0
        ? `; read ${c.packsRead} pack${c.packsRead === 1 ? '' : 's'} (${formatBytes(c.bytesRead)})` +
          (r.readPercent !== undefined && r.readPercent < 100 ? ` for a ${r.readPercent}% sample` : '')
        : ''),
  );
  for (const e of r.errors) printLine(`error: ${e.file ? `${e.file}: ` : ''}${e.message}`);
  for (const w of r.warnings) printLine(`warning: ${w.file ? `${w.file}: ` : ''}${w.message}`);
  for (const i of r.info) printLine(`info: ${i.file ? `${i.file}: ` : ''}${i.message}`);
  printLine(
    r.ok ? 'no errors were found' : `${r.errors.length} error${r.errors.length === 1 ? '' : 's'} found`,
  );
}
