/** The `stdin` source: one file named `name` at the snapshot root, read from a stream. */
import type { Readable } from 'node:stream';
import { UserError } from '../../domain/errors.ts';
import type { Source, SourceContext, SourceEntry } from '../ports.ts';
import { unsafeNameReason } from '../tree.ts';

export interface StdinSourceOptions {
  stream: Readable | AsyncIterable<Uint8Array>;
  name: string;
  /** Recorded on the file; defaults to now, 0644, the current user. */
  mtimeMs?: number;
  mode?: number;
}

export class StdinSource implements Source {
  readonly paths: string[];
  private readonly opts: StdinSourceOptions;
  private used = false;

  constructor(opts: StdinSourceOptions) {
    const why = unsafeNameReason(opts.name);
    if (why) {
      throw new UserError(`invalid --stdin-name ${JSON.stringify(opts.name)}: the name ${why}`, {
        hint: 'give a plain file name such as "db.sql"',
      });
    }
    this.opts = opts;
    this.paths = ['/' + opts.name];
  }

  async *entries(_ctx: SourceContext): AsyncGenerator<SourceEntry> {
    if (this.used) throw new Error('a stdin source can be read only once');
    this.used = true;
    const stream = this.opts.stream;
    yield {
      path: [this.opts.name],
      node: {
        type: 'file',
        mode: 0o100000 | (this.opts.mode ?? 0o644),
        uid: process.getuid?.() ?? 0,
        gid: process.getgid?.() ?? 0,
        mtimeMs: this.opts.mtimeMs ?? Date.now(),
        size: 0,
      },
      open: () => toBuffers(stream),
      required: true,
    };
  }
}

async function* toBuffers(stream: AsyncIterable<unknown>): AsyncGenerator<Uint8Array> {
  for await (const c of stream) {
    yield typeof c === 'string' ? Buffer.from(c) : (c as Uint8Array);
  }
}
