/**
 * The one-line progress display of long backup commands: files, bytes, rate and, when the total
 * is known, a bar and an ETA. Drawn on stderr only when it is a terminal, so pipes, logs and
 * `--json` output never see control characters.
 */
import { formatBytes } from '../../domain/bytes.ts';

export interface ProgressState {
  files: number;
  bytes: number;
  /** Known once the source has been scanned; without it there is no bar and no ETA. */
  totalFiles?: number;
  totalBytes?: number;
  /** The file being read, shown shortened at the end of the line. */
  current?: string;
}

export interface ProgressSink {
  /** False when nothing is drawn (not a terminal, --json): callers then skip work done only for it. */
  readonly visible: boolean;
  update(state: ProgressState): void;
  /** Clears the line; the caller prints its summary afterwards. */
  done(): void;
}

interface TtyLike {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const NOOP: ProgressSink = { visible: false, update: () => {}, done: () => {} };

export { formatBytes };

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** One progress line, at most `width` characters. Pure, so it is tested without a terminal. */
export function renderProgress(state: ProgressState, elapsedMs: number, width: number): string {
  const rate = elapsedMs > 0 ? (state.bytes * 1000) / elapsedMs : 0;
  const parts: string[] = [];
  const total = state.totalBytes;
  if (total !== undefined && total > 0) {
    const frac = Math.min(1, state.bytes / total);
    const barWidth = 12;
    const filled = Math.round(frac * barWidth);
    parts.push(
      `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}%`,
    );
  }
  const files = state.totalFiles !== undefined ? `${state.files}/${state.totalFiles}` : `${state.files}`;
  parts.push(`${files} files`);
  parts.push(
    total !== undefined ? `${formatBytes(state.bytes)} / ${formatBytes(total)}` : formatBytes(state.bytes),
  );
  parts.push(`${formatBytes(rate)}/s`);
  if (total !== undefined) parts.push(`ETA ${rate > 0 ? formatEta((total - state.bytes) / rate) : '--:--'}`);
  let line = parts.join('  ');
  if (state.current && line.length + 4 < width) {
    const room = width - line.length - 2;
    const cur = state.current.length > room ? '…' + state.current.slice(-(room - 1)) : state.current;
    line += '  ' + cur;
  }
  return line.length > width ? line.slice(0, width) : line;
}

/**
 * A sink drawing on `stream` (default stderr) at most every `intervalMs`, or a no-op when the
 * stream is not a terminal or `enabled` is false (e.g. with --json).
 */
export function createProgress(
  opts: { stream?: TtyLike; enabled?: boolean; now?: () => number; intervalMs?: number } = {},
): ProgressSink {
  const stream = opts.stream ?? process.stderr;
  if (opts.enabled === false || !stream.isTTY) return NOOP;
  const now = opts.now ?? Date.now;
  const interval = opts.intervalMs ?? 100;
  const started = now();
  let lastDraw = -Infinity;
  let drawn = false;
  return {
    visible: true,
    update(state) {
      const t = now();
      if (t - lastDraw < interval) return;
      lastDraw = t;
      // Terminals that report no width (0 or undefined) get 80 columns.
      const width = Math.max(40, (stream.columns || 80) - 1);
      stream.write('\r\x1b[K' + renderProgress(state, t - started, width));
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
