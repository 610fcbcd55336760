/**
 * A host-local cache of snapshot metadata (the JSON head of each snapshot file), so listing
 * snapshots reads one small file instead of every snapshot file whole: a snapshot file carries
 * the list of every blob the snapshot references (32 bytes per blob), so a repository of a
 * thousand snapshots of a few thousand files made each listing read ~100 MB.
 *
 * Snapshot files are named by their hash and never change, so an entry stays true until its
 * snapshot is forgotten; entries of snapshots no longer in the repository are dropped by the next
 * listing. The file is MACed with a key derived from the repository's metadata key, so a damaged
 * or foreign file is ignored and rebuilt, never believed. Disposable: deleting it costs one
 * listing that reads every snapshot file. Memory: one small JSON object per snapshot.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { hmacHex, timingSafeEqualHex } from './crypto.ts';
import type { SnapshotJson } from './snapshot-file.ts';

interface CacheFile {
  v: 1;
  mac: string;
  /** JSON of { [snapshot id]: SnapshotJson }, as MACed. */
  body: string;
}

export class SnapshotCache {
  constructor(
    readonly file: string,
    private readonly key: Uint8Array,
  ) {}

  /** The cached heads by snapshot id; empty when there is no usable cache. */
  load(): Map<string, SnapshotJson> {
    try {
      const f = JSON.parse(readFileSync(this.file, 'utf8')) as CacheFile;
      if (f.v !== 1 || typeof f.body !== 'string' || typeof f.mac !== 'string') return new Map();
      if (!timingSafeEqualHex(hmacHex(this.key, f.body), f.mac)) return new Map();
      const body = JSON.parse(f.body) as Record<string, SnapshotJson>;
      return new Map(Object.entries(body));
    } catch {
      return new Map();
    }
  }

  /** Adds the head of a snapshot this host just wrote. */
  add(id: string, json: SnapshotJson): void {
    const entries = this.load();
    entries.set(id, json);
    this.save(entries);
  }

  /** Replaces the cache (written aside, then renamed: a reader never sees half a file). */
  save(entries: Map<string, SnapshotJson>): void {
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      const body = JSON.stringify(Object.fromEntries(entries));
      const out: CacheFile = { v: 1, mac: hmacHex(this.key, body), body };
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(out), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      // Only a speed-up: the next listing reads the snapshot files again.
    }
  }
}
