/**
 * The seams inside the backup engine. The repository layer (keys, crypto, chunk storage, packs,
 * index, snapshots, locks, check, prune) implements `Repository`; the archiver, restorer and the
 * commands use only this interface. Remote backends implement `BlobStore`; sources implement
 * `Source`. The format behind these is specified in docs/FORMAT.md.
 */

/** Hex-encoded keyed MAC of a blob's plaintext. */
export type BlobId = string;
export type BlobType = 'data' | 'tree';

/** Where repository files live: local directory now; S3 and SFTP later. Files are write-once. */
export interface BlobStore {
  readonly location: string;
  /** Writes atomically and durably (temp name, fsync, rename; remote: single PUT). Never overwrites. */
  write(path: string, data: Uint8Array): Promise<void>;
  read(path: string): Promise<Uint8Array>;
  /**
   * `into` (at least `length` bytes), when given, is memory the caller lends for the bytes: a
   * backend that reads into memory it chooses returns a view of it, so readers can reuse their
   * buffers; one that cannot (S3's responses) returns its own.
   */
  readRange(path: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  exists(path: string): Promise<boolean>;
  /** Relative paths of the files under a directory (recursive), e.g. list('packs'). */
  list(dir: string): Promise<string[]>;
  /**
   * The files under a directory with their sizes, from the listing itself (one S3 ListObjects page
   * or SFTP readdir per 1000 files, not a request per file): what repository-size alerts sum.
   */
  listSizes(dir: string): Promise<{ path: string; size: number }[]>;
  size(path: string): Promise<number>;
  remove(path: string): Promise<void>;
  /** Releases cached resources (open files, connections). */
  close?(): Promise<void>;
  /**
   * Pack writes worth overlapping with filling the next pack (default 2): each holds a pack
   * buffer, which a remote store's latency pays for and a local disk, done in milliseconds, does not.
   */
  readonly packWrites?: number;
  /**
   * A file under `dir` written as it is produced and named when done (a pack as its blobs are
   * sealed, so no pack is held in memory whole). Stores without it are given whole files.
   */
  openSink?(dir: string): FileSink;
}

/** A file being written in order; `commit` makes it durable under its name. */
export interface FileSink {
  /** Writes `bytes` next; the caller may reuse them once the promise settles (which it does without throwing). */
  append(bytes: Uint8Array): Promise<void>;
  /** Durably names the file `path` (a write that failed surfaces here); an existing file is kept. */
  commit(path: string): Promise<void>;
  /** Drops the unfinished file. */
  abort(): Promise<void>;
}

export interface SnapshotMeta {
  id: string;
  time: string; // ISO-8601
  hostname: string;
  username?: string;
  paths: string[];
  tags: string[];
  parent?: string;
  /** Root tree blob. */
  tree: BlobId;
  summary?: SnapshotSummary;
  /** Recipients repositories opened with only the writer key: `paths` is empty because it is encrypted. */
  pathsHidden?: boolean;
}

export interface SnapshotSummary {
  files: number;
  dirs: number;
  bytesRead: number;
  bytesNew: number;
  chunksNew: number;
  durationMs: number;
  [key: string]: number;
}

/** A tree blob: one directory's entries. */
export interface TreeNode {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  size: number;
  linkTarget?: string;
  /** Files: data blob ids in order. */
  content?: BlobId[];
  /** Dirs: the subtree blob. */
  subtree?: BlobId;
  /** Set on every entry of a hardlink group: (device, inode) of the original, for relinking on restore. */
  hardlink?: { dev: number; ino: number; nlink: number };
}

/** Streaming content-defined chunker (implemented by `Chunker` in chunker.ts). */
export interface StreamChunker {
  readonly params: { min: number; avg: number; max: number };
  /** Feeds bytes; returns the chunks they completed (copies the caller owns). */
  push(data: Uint8Array): Uint8Array[];
  /** Returns the pending tail, if any, and resets. */
  finish(): Uint8Array[];
}

export interface Tree {
  nodes: TreeNode[];
}

/** A blob of readBlobs: its plaintext, the outcome of its planned writes, or why it cannot be read. */
export type BlobRead = { plain: Uint8Array } | { written: BlobWritten[] } | { error: Error };

/** Where readBlobs writes a blob (restore-writer.ts says how). */
export type BlobWrite =
  /** The blob is a whole file, created at its final name `path`. */
  | {
      t: 'file';
      path: string;
      mode: number;
      mtimeMs: number;
      /** Set only when running as root and the owner is not root. */
      uid?: number;
      gid?: number;
    }
  /** One chunk of a file the caller created under the temporary name `path`, at byte `pos`. */
  | { t: 'part'; path: string; pos: number };

/** The outcome of one BlobWrite. */
export interface BlobWritten {
  /** A failed system call: its message and errno code. A `file` that failed was removed. */
  error?: string;
  code?: string;
  /** All zeros: nothing written (a hole). */
  hole?: boolean;
  /** fchown failed (its errno code); the file is still written. */
  ownership?: string;
}

export interface Repository {
  /** 'passphrase' repositories read and write; 'recipients' repositories opened with only a writer key cannot read blobs. */
  readonly mode: 'passphrase' | 'recipients';
  readonly canRead: boolean;

  /**
   * A fresh content-defined chunker with this repository's parameters and keyed Gear table
   * (chunker.ts); the archiver reuses one for the next file after `finish()`.
   */
  newChunker(): StreamChunker;
  /** Chunk id for plaintext under this repository's MAC key (what dedup compares). */
  blobId(plaintext: Uint8Array): BlobId;
  hasBlob(id: BlobId): boolean;
  /** Stores a blob unless present; returns its id and whether it was new. Buffered into packs. */
  saveBlob(
    type: BlobType,
    plaintext: Uint8Array,
    opts?: SaveBlobOptions,
  ): Promise<{ id: BlobId; isNew: boolean; storedBytes: number }>;
  /**
   * `saveBlob` for a blob whose bytes are elsewhere (on the worker that read them): `seal` (which
   * must seal them as `encryptBlob(key, type, id, bytes)` does) is called at once, and only when
   * the blob is new.
   */
  saveHeldBlob?(
    type: BlobType,
    id: BlobId,
    length: number,
    seal: (key: Buffer) => Promise<SealedBlob>,
  ): Promise<{ id: BlobId; isNew: boolean; storedBytes: number }>;
  /**
   * Reads, chunks and hashes a host file off the main thread, in steps (the same chunks and ids as
   * `newChunker()` and `blobId()` fed with `readSize` blocks); null when that is not available.
   */
  readHostFile?(file: ListedFile, readSize: number): HostFileReader | null;
  /** Its blob work (and the walk's lstats) runs on the low-priority worker threads (--nice). */
  readonly lowPriority?: boolean;
  /** Decrypts and verifies a blob. Throws a clear error in a writer-only (recipients) session. */
  loadBlob(id: BlobId): Promise<Uint8Array>;
  /** Plaintext length of a stored blob; undefined when the repository does not list it. */
  blobSize(id: BlobId): number | undefined;
  /**
   * Loads many blobs, each pack read once in offset order; `each` gets every distinct id once
   * (awaited, in that order), with its plaintext or an error naming what is damaged. Other blobs
   * still arrive after one fails. `plan` (restores): where a blob is to be written; called in that
   * order before its pack range is opened. A blob with writes is written where it is opened
   * (restore-writer.ts) and `each` gets the outcome of each write instead of its plaintext.
   */
  readBlobs(
    ids: Iterable<BlobId>,
    each: (id: BlobId, r: BlobRead) => Promise<void> | void,
    opts?: { plan?: (id: BlobId) => Promise<BlobWrite[] | undefined> | BlobWrite[] | undefined },
  ): Promise<void>;
  /** Writes buffered packs and the index; after it resolves, every saved blob is durable. */
  flush(): Promise<void>;

  saveSnapshot(meta: Omit<SnapshotMeta, 'id'>, referencedBlobs: Iterable<BlobId>): Promise<SnapshotMeta>;
  listSnapshots(): Promise<SnapshotMeta[]>;
  loadSnapshot(idOrPrefix: string): Promise<SnapshotMeta>;

  close(): Promise<void>;
}

export interface SaveBlobOptions {
  /** The blob's id when the caller computed it already (`blobId`, or `readHostFile`). */
  id?: BlobId;
  /** The caller gives up `plaintext`: it may be moved to another thread and left empty. */
  transfer?: boolean;
}

/** A host file to read, with the identity it was listed with (it must still be that file). */
export interface ListedFile {
  path: string;
  dev: bigint;
  ino: bigint;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * One chunk of a host file: its id, and where its bytes are: `held` (their number, on the worker
 * that read them: `HostFileReader.seal`), in `data`, or nowhere for the all-zero max-size chunk (`zero`).
 */
export interface FileChunk {
  id: BlobId;
  length: number;
  held?: number;
  data?: Uint8Array;
  zero?: boolean;
}

/**
 * A blob compressed (when it pays) and encrypted, as it goes into a pack: nonce ‖ ciphertext ‖
 * tag, in one buffer or as consecutive parts (a worker's cipher output is moved, not joined).
 */
export interface SealedBlob {
  sealed: Uint8Array | readonly Uint8Array[];
  compressed: boolean;
  /** Hands the sealed bytes' memory back for reuse once they are copied (blobs sealed on a worker). */
  release?: () => void;
}

/** The chunks completed by one step of reading a host file. */
export interface FileStep {
  chunks: FileChunk[];
  bytesRead: number;
  done: boolean;
  /** Set on the last step when the file changed while it was read (stored as read). */
  changed?: boolean;
}

/**
 * A host file being read and chunked; `next()` until a step says `done`, then `close()` (always:
 * it also drops held chunk bytes).
 */
export interface HostFileReader {
  next(maxBytes: number): Promise<FileStep>;
  /** Compresses and seals a held (data) chunk where its bytes are, like pack.ts `encryptBlob`. */
  seal(held: number, key: Uint8Array): Promise<SealedBlob>;
  /** Held chunks numbered below `below` that were not sealed by now will not be: their bytes may go. */
  release(below: number): void;
  close(): void;
}

/** Identity of a file on the host, for the files cache (an unchanged file is not read again). */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * One entry a source yields. Entries come depth-first: a directory before its contents, and all of
 * its contents before anything outside it.
 */
export interface SourceEntry {
  /** Names from the snapshot root, e.g. ['home', 'ann', 'notes.txt'] (each a safe tree name). */
  path: string[];
  /** Metadata; `name`, `content` and `subtree` are filled in by the archiver. */
  node: Omit<TreeNode, 'name' | 'content' | 'subtree'>;
  /**
   * Regular files: reads the content as it is now. A yielded buffer may be reused by the source
   * once the consumer asks for the next one (copy what must outlive that).
   */
  open?: (signal?: AbortSignal) => AsyncIterable<Uint8Array>;
  /** Files on the host filesystem: lets the files cache skip unchanged files. */
  identity?: FileIdentity;
  /** Files on the host filesystem: where to read them (`Repository.readHostFile`) instead of `open`. */
  hostPath?: string;
  /**
   * A read error fails the whole backup instead of skipping this entry with a warning (a stream
   * or a database dump that breaks off is not a usable snapshot).
   */
  required?: boolean;
}

export interface SourceContext {
  /** A path that could not be read; the source skips it and continues. */
  warn(path: string, err: unknown): void;
  signal?: AbortSignal;
  /** Do the source's own off-thread work (lstat batches) on the low-priority worker threads. */
  lowPriority?: boolean;
}

/** What a snapshot is made of: directories on the host, a stream on stdin, later database dumps. */
export interface Source {
  /** Recorded as the snapshot's paths. */
  readonly paths: string[];
  entries(ctx: SourceContext): AsyncIterable<SourceEntry>;
}
