/** The `files` source: directories and files on the host, walked by walker.ts. */
import type { Source, SourceContext, SourceEntry } from '../ports.ts';
import { normaliseRoots, walk, type WalkOptions } from '../walker.ts';

export class FilesSource implements Source {
  readonly paths: string[];
  private readonly opts: WalkOptions;

  constructor(opts: WalkOptions) {
    this.opts = opts;
    this.paths = normaliseRoots(opts.paths);
  }

  entries(ctx: SourceContext): AsyncIterable<SourceEntry> {
    return walk(this.opts, ctx);
  }
}
