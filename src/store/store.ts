/**
 * The store port: everything the scheduler and the use cases (app/, for the CLI, MCP and HTTP)
 * persist. SQLite (sqlite-store.ts) is the embedded default; PostgreSQL (postgres-store.ts) lets
 * several daemons share one database and adds the `cluster` part for that. Every method is async.
 */
import type { Job, JobState, Run, RunDetails, RunStatus, TerminalRunStatus } from '../domain/job.ts';
import type { BackupProfile } from '../domain/backup-profile.ts';
import type { InboxItem, Session } from '../domain/session.ts';
import type { AlertState } from '../domain/alert-state.ts';
import type { ChatMessage } from '../domain/chat.ts';

/** A run's place in the newest-first order of run lists (slot, then attempt, then id, all descending). */
export interface RunKey {
  slotMs: number;
  attempt: number;
  runId: string;
}

export interface RunQuery {
  jobId?: string;
  status?: RunStatus;
  limit?: number;
  offset?: number;
  /**
   * Keyset paging: only runs after this one in the newest-first order (`offset` is then not
   * used). A deep page costs what the first one does, where OFFSET reads every row it skips.
   */
  after?: RunKey;
}

export interface RunPage {
  entries: Run[];
  total: number;
  hasMore: boolean;
}

/** Runs of some jobs in a time window, counted per job, time bucket and status (the dashboard's timeline). */
export interface RunCountQuery {
  jobIds: string[];
  /** Slots from here (inclusive)… */
  fromMs: number;
  /** …to here (exclusive). */
  toMs: number;
  bucketMs: number;
}

export interface RunCount {
  jobId: string;
  /** floor((slotMs - fromMs) / bucketMs) */
  bucket: number;
  status: RunStatus;
  count: number;
}

export interface RunFinish {
  status: TerminalRunStatus;
  error?: string;
  finishedAtMs: number;
  exitCode?: number | null;
  signal?: string | null;
  outputTail?: string;
  evidence?: Run['evidence'];
  details?: Run['details'];
}

/** One write of a batch (see Store.writeBatch). */
export type StoreWrite =
  | { kind: 'claim'; run: Run }
  | { kind: 'finish'; runId: string; finish: RunFinish }
  | { kind: 'patchState'; jobId: string; patch: Partial<JobState> }
  | { kind: 'prune'; jobId: string; keep: { maxRuns: number; olderThanMs: number } }
  /** A claimed run's payload started (with its process id once it has one). */
  | { kind: 'start'; runId: string; startedAtMs: number; pid?: number }
  /** A run claimed ahead of its slot that must wait after all (the job became busy): back to `queued`. */
  | { kind: 'requeue'; runId: string; notBeforeMs: number };

export interface Store {
  /** Jobs, enabled or not, ordered by name. */
  listJobs(): Promise<Job[]>;
  /** By id, else by exact name. */
  findJob(idOrName: string): Promise<Job | undefined>;
  /** Throws StoreConflictError when the name is taken. */
  insertJob(job: Job): Promise<void>;
  /** Replaces the whole job; throws StoreConflictError on a name clash. */
  updateJob(job: Job): Promise<void>;
  /**
   * Merges into job.state only (the daemon's bookkeeping must not overwrite user edits). A key
   * present with the value `undefined` removes that field (e.g. `lastError` after a success).
   */
  patchJobState(jobId: string, patch: Partial<JobState>): Promise<void>;
  /**
   * Removes the job and, unless `keepRuns`, its runs (a one-shot deleted after success keeps its
   * history; pruneOrphanRuns ages it out). Returns false when there was no such job.
   */
  deleteJob(jobId: string, opts?: { keepRuns?: boolean }): Promise<boolean>;
  /** Removes finished runs of jobs that no longer exist that ended before `olderThanMs`; returns how many. */
  pruneOrphanRuns(olderThanMs: number): Promise<number>;

  /**
   * Inserts a run (status `queued` or `running`, or a terminal `skipped`/`missed` record) if no
   * run with the same (jobId, slotMs, attempt) exists, atomically: this is what makes a slot fire
   * at most once, across restarts and processes. Returns false when the slot was already claimed
   * (or the job no longer exists).
   */
  claimRun(run: Run): Promise<boolean>;
  /**
   * Updates a queued run to running (startedAtMs, pid). Also called on a run that is already
   * running, to record the pid once the payload has spawned.
   */
  startRun(runId: string, startedAtMs: number, pid?: number): Promise<void>;
  /**
   * Moves a run to running only if it is still `queued`, atomically, and says whether it did: a
   * queued run starts once even when two processes (daemon and CLI) reach for it at once.
   * Optional; without it the engine checks with getRun before startRun (not atomic).
   */
  takeRun?(runId: string, startedAtMs: number): Promise<boolean>;
  /** Only an unfinished run is finished; a final record is never overwritten. */
  finishRun(runId: string, finish: RunFinish): Promise<void>;
  getRun(runId: string): Promise<Run | undefined>;
  /**
   * Merges facts learnt after a run finished (alerts sent, delivery results) into its details;
   * each given key replaces the one stored. No effect on a run that does not exist.
   */
  addRunDetails(runId: string, details: Partial<RunDetails>): Promise<void>;
  /** Newest first (by slot, then attempt). */
  listRuns(query: RunQuery): Promise<RunPage>;
  /** Counts by job, time bucket and status, aggregated in the store (a week of minutely runs stays cheap). */
  countRuns(query: RunCountQuery): Promise<RunCount[]>;
  /** Runs in `queued` or `running` state, oldest first (a crashed daemon leaves `running` ones). */
  unfinishedRuns(): Promise<Run[]>;
  /** Latest claimed slot of a job (any trigger but manual), to find what was missed while down. */
  lastSlotMs(jobId: string): Promise<number | undefined>;
  /**
   * lastSlotMs of many jobs in one query (an engine starting with 1,000 jobs would otherwise make
   * 1,000 round trips); jobs without such a run are absent from the map.
   */
  lastSlotsMs(jobIds: string[]): Promise<Map<string, number>>;
  /**
   * Applies the job's history policy; returns how many runs were removed. `olderThanMs` is an
   * instant (e.g. now - history.maxAgeMs): finished runs that ended before it go. Queued and running
   * runs are never removed.
   */
  pruneRuns(jobId: string, keep: { maxRuns: number; olderThanMs: number }): Promise<number>;

  /**
   * Applies several writes in one transaction (one commit), in order, with the semantics of the
   * single methods; a claim or patch whose job is gone is skipped, not an error. Returns, per
   * write, whether it took effect (for a claim: whether the slot was claimed). The engine writes
   * everything through it: a busy second's writes share a commit (a commit costs far more than a row).
   */
  writeBatch(writes: StoreWrite[]): Promise<boolean[]>;

  /** Backup profiles, by name. */
  readonly profiles: ProfileStore;
  /** Agent sessions: transcripts and inboxes. */
  readonly sessions: SessionStore;
  /** Per-job alerting memory. */
  readonly alertState: AlertStateStore;

  /**
   * A number that changes whenever another connection commits (SQLite `PRAGMA data_version`), or,
   * on PostgreSQL, whenever a change notice arrives (LISTEN/NOTIFY: job edits, queued runs,
   * takeovers); the daemon reads it to see other processes' edits within a second.
   */
  changeToken(): Promise<number>;
  /** Several daemons on one store (PostgreSQL); absent where one daemon owns the store (SQLite). */
  readonly cluster?: ClusterStore;
  close(): Promise<void>;
}

/** A daemon as the cluster knows it. */
export interface DaemonRecord {
  /** The registration's generation: new at every start, and the fence on its runs. */
  gen: number;
  host: string;
  pid: number;
  version: string;
  startedAtMs: number;
  heartbeatAtMs: number;
  leaseUntilMs: number;
  runsInFlight: number;
  /** `expired`: its lease ran out and another daemon took its runs over. */
  state: 'alive' | 'stopped' | 'expired';
}

/**
 * Membership of several daemons in one store. A daemon registers (getting a generation), renews
 * its lease with heartbeats, and takes over the runs of daemons whose lease ran out. The store
 * it was registered through writes runs as that generation: a run claimed or taken is owned by
 * it, and starting, requeueing or finishing a running run needs that ownership (the fence), so a
 * daemon whose runs were taken over cannot record over them.
 */
export interface ClusterStore {
  register(d: {
    host: string;
    pid: number;
    version: string;
    nowMs: number;
    leaseMs: number;
  }): Promise<DaemonRecord>;
  /**
   * Renews the lease of this store's registration. False when it was taken over meanwhile (the
   * daemon must stop its runs and register anew).
   */
  heartbeat(nowMs: number, leaseMs: number, runsInFlight: number): Promise<boolean>;
  /**
   * Marks every live daemon whose lease ended before `nowMs` expired, finishes its running runs
   * `interrupted` (reason given), releases its queued ones, and returns the runs it finished with
   * the host they ran on. One caller wins each takeover.
   */
  takeOver(nowMs: number, reason: string): Promise<Array<{ run: Run; host: string }>>;
  /** Every daemon known, alive first, then by host. */
  daemons(): Promise<DaemonRecord[]>;
  /**
   * Says goodbye (state `stopped`): no takeover will be needed for it. Its runs still `running`
   * (their end could not be recorded) are finished `interrupted` with `reason`, in the same
   * transaction; returns how many.
   */
  deregister(nowMs: number, reason: string): Promise<number>;
}

export interface ProfileStore {
  list(): Promise<BackupProfile[]>;
  get(name: string): Promise<BackupProfile | undefined>;
  /** Throws StoreConflictError when the name is taken. */
  insert(profile: BackupProfile): Promise<void>;
  /** Replaces the profile of that name; false when there is none. */
  update(profile: BackupProfile): Promise<boolean>;
  /** False when there was no such profile. */
  remove(name: string): Promise<boolean>;
}

export interface SessionStore {
  /** Creates the session if it does not exist; returns it either way. */
  ensure(session: Omit<Session, 'createdAtMs' | 'updatedAtMs'>, nowMs: number): Promise<Session>;
  get(id: string): Promise<Session | undefined>;
  list(agent?: string): Promise<Session[]>;
  /** Appends to the transcript, in order. */
  append(sessionId: string, messages: ChatMessage[], runId: string | undefined, atMs: number): Promise<void>;
  /** The last `limit` messages (default all), oldest first. */
  transcript(sessionId: string, limit?: number): Promise<ChatMessage[]>;
  /** Adds an inbox item; returns its sequence number. */
  pushInbox(item: Omit<InboxItem, 'seq' | 'consumedAtMs' | 'consumedByRun'>): Promise<number>;
  /** Items not yet taken by a heartbeat, oldest first. */
  pendingInbox(sessionId: string): Promise<InboxItem[]>;
  /** Marks items as taken by a run (only those still pending); returns how many were marked. */
  consumeInbox(seqs: number[], runId: string, atMs: number): Promise<number>;
}

export interface AlertStateStore {
  get(jobId: string): Promise<AlertState | undefined>;
  put(jobId: string, state: AlertState): Promise<void>;
}

export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflictError';
  }
}
