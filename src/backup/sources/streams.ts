/**
 * Files on the host plus streamed files under virtual paths (database dumps, git bundles,
 * command output) as one source: the host's entries first, then each stream as a file in its
 * virtual directory. A required stream that fails fails the backup (no snapshot is written); an
 * optional one is left out with a warning.
 */
import type { Source, SourceContext, SourceEntry } from '../ports.ts';

export interface VirtualStream {
  /** Names from the snapshot root, e.g. ['databases', 'postgres', 'erp.dump']. */
  path: string[];
  open: (signal?: AbortSignal) => AsyncIterable<Uint8Array>;
  optional: boolean;
  mtimeMs: number;
}

export class StreamsSource implements Source {
  readonly paths: string[];

  constructor(
    private readonly files: Source | undefined,
    private readonly streams: VirtualStream[],
  ) {
    this.paths = [...(files?.paths ?? []), ...streams.map((s) => '/' + s.path.join('/'))];
  }

  async *entries(ctx: SourceContext): AsyncGenerator<SourceEntry> {
    if (this.files) yield* this.files.entries(ctx);
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    // Depth-first: group streams by directory so each directory's contents come together.
    const sorted = [...this.streams].sort((a, b) => a.path.join('/').localeCompare(b.path.join('/')));
    let open: string[] = [];
    for (const s of sorted) {
      const dir = s.path.slice(0, -1);
      let common = 0;
      while (common < open.length && common < dir.length && open[common] === dir[common]) common++;
      for (let i = common; i < dir.length; i++)
        yield {
          path: dir.slice(0, i + 1),
          node: { type: 'dir', mode: 0o40755, uid, gid, mtimeMs: s.mtimeMs, size: 0 },
        };
      open = dir;
      yield {
        path: s.path,
        node: { type: 'file', mode: 0o100600, uid, gid, mtimeMs: s.mtimeMs, size: 0 },
        open: s.open,
        required: !s.optional,
      };
    }
  }
}
