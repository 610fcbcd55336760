/**
 * /metrics in the Prometheus text format (prom-client). Per-job gauges are read at scrape time
 * from the engine's in-memory jobs (no store scan); counters and histograms count the daemon's
 * run events since it started (Prometheus handles the reset at a restart). Per-profile backup
 * figures come from the latest backup and drill runs' details, refreshed as those runs finish.
 * Names follow the Prometheus conventions: base units (seconds, bytes), `_total` for counters.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DaemonLogEvent } from '../../app/daemon.ts';
import type { Job, Run } from '../../domain/job.ts';
import type { Store } from '../../store/store.ts';

export interface MetricsDeps {
  store: Store;
  jobs(): Job[];
  version: string;
  /** The daemon's start (ms since the epoch). */
  startedAtMs: number;
  /** The daemon's clock. */
  now(): number;
  /** Snapshots in a profile's repository (read after each of its backups). */
  snapshotCount?(profile: string): Promise<number>;
}

export interface Metrics {
  registry: Registry;
  /** Feed every daemon event here. */
  observe(event: DaemonLogEvent): void;
  /** Reads the latest backup/drill runs once at start (later ones arrive as events). */
  seed(): Promise<void>;
  /** The exposition text. */
  render(): Promise<string>;
}

const OK_STATUSES = new Set(['ok', 'delivered']);

interface ProfileFigures {
  bytesAdded?: number;
  repoBytes?: number;
  lastBackupAtMs?: number;
  lastBackupOk?: boolean;
  drillOk?: boolean;
  drillAtMs?: number;
}

function profileOf(job: Job): { kind: 'backup' | 'drill'; profile: string } | undefined {
  const p = job.payload as { kind: string; profile?: string };
  if ((p.kind === 'backup' || p.kind === 'drill') && typeof p.profile === 'string')
    return { kind: p.kind, profile: p.profile };
  return undefined;
}

export function createMetrics(deps: MetricsDeps): Metrics {
  const registry = new Registry();
  // prom-client's default process metrics include gauges named `_total`, which promtool rejects;
  // the two that matter for a daemon are exported here under conforming names.
  new Gauge({
    name: 'nightshift_process_resident_memory_bytes',
    help: 'Resident memory of the daemon process.',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().rss);
    },
  });
  new Gauge({
    name: 'nightshift_process_heap_used_bytes',
    help: 'JavaScript heap in use by the daemon process.',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  const profiles = new Map<string, ProfileFigures>();
  /** Last success per job id, learnt from the store once and then from events. */
  const lastSuccess = new Map<string, number>();

  new Gauge({
    name: 'nightshift_up',
    help: 'Whether the nightshift daemon is up (always 1 when scraped).',
    registers: [registry],
    collect() {
      this.set(1);
    },
  });
  new Gauge({
    name: 'nightshift_build_info',
    help: 'The running nightshift version (always 1).',
    labelNames: ['version'],
    registers: [registry],
    collect() {
      this.set({ version: deps.version }, 1);
    },
  });
  new Gauge({
    name: 'nightshift_start_time_seconds',
    help: 'When the daemon started, seconds since the epoch.',
    registers: [registry],
    collect() {
      this.set(deps.startedAtMs / 1000);
    },
  });
  new Gauge({
    name: 'nightshift_store_latency_seconds',
    help: 'How long a trivial store read took at this scrape.',
    registers: [registry],
    async collect() {
      const t0 = process.hrtime.bigint();
      await deps.store.changeToken();
      this.set(Number(process.hrtime.bigint() - t0) / 1e9);
    },
  });

  const perJob = (
    name: string,
    help: string,
    value: (job: Job) => number | undefined,
    extraLabels: string[] = [],
  ): Gauge<string> =>
    new Gauge({
      name,
      help,
      labelNames: ['job', ...extraLabels],
      registers: [registry],
      collect() {
        this.reset();
        for (const job of deps.jobs()) {
          const v = value(job);
          if (v !== undefined) this.set({ job: job.name }, v);
        }
      },
    });

  perJob('nightshift_job_enabled', 'Whether the job is enabled (1) or disabled (0).', (j) =>
    j.enabled ? 1 : 0,
  );
  perJob(
    'nightshift_job_last_run_timestamp_seconds',
    "When the job's last run started, seconds since the epoch.",
    (j) => (j.state.lastRunAtMs === undefined ? undefined : j.state.lastRunAtMs / 1000),
  );
  perJob('nightshift_job_last_run_success', "Whether the job's last run succeeded (1) or not (0).", (j) =>
    j.state.lastRunStatus === undefined ? undefined : OK_STATUSES.has(j.state.lastRunStatus) ? 1 : 0,
  );
  perJob('nightshift_job_last_run_duration_seconds', "How long the job's last run took.", (j) =>
    j.state.lastDurationMs === undefined ? undefined : j.state.lastDurationMs / 1000,
  );
  perJob(
    'nightshift_job_consecutive_failures',
    'Failed runs in a row (0 after a success).',
    (j) => j.state.consecutiveErrors,
  );
  perJob(
    'nightshift_job_last_success_timestamp_seconds',
    'When the job last succeeded, seconds since the epoch.',
    (j) => {
      const at = lastSuccess.get(j.id);
      return at === undefined ? undefined : at / 1000;
    },
  );
  new Gauge({
    name: 'nightshift_job_last_run_status',
    help: "The job's last run status as a label (the series with value 1).",
    labelNames: ['job', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const job of deps.jobs())
        if (job.state.lastRunStatus !== undefined)
          this.set({ job: job.name, status: job.state.lastRunStatus }, 1);
    },
  });

  const runs = new Counter({
    name: 'nightshift_job_runs_total',
    help: 'Finished runs since the daemon started, by job and status.',
    labelNames: ['job', 'status'],
    registers: [registry],
  });
  const missed = new Counter({
    name: 'nightshift_job_missed_slots_total',
    help: 'Slots missed while the daemon was not running, found at start, by job.',
    labelNames: ['job'],
    registers: [registry],
  });
  const skipped = new Counter({
    name: 'nightshift_job_skipped_slots_total',
    help: 'Slots skipped (overlap policy, catch-up policy), by job.',
    labelNames: ['job'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'nightshift_job_run_duration_seconds',
    help: 'How long finished runs took, by job.',
    labelNames: ['job'],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600],
    registers: [registry],
  });
  const lateness = new Histogram({
    name: 'nightshift_job_fire_lateness_seconds',
    help: 'How long after its slot a scheduled run started.',
    labelNames: ['job'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
    registers: [registry],
  });
  const alerts = new Counter({
    name: 'nightshift_alerts_total',
    help: 'Alert deliveries since the daemon started, by purpose and result.',
    labelNames: ['purpose', 'result'],
    registers: [registry],
  });

  const perProfile = (name: string, help: string, value: (f: ProfileFigures) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['profile'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [profile, f] of profiles) {
          const v = value(f);
          if (v !== undefined) this.set({ profile }, v);
        }
      },
    });
  };
  perProfile(
    'nightshift_backup_last_bytes_added',
    "Bytes the profile's last backup added to its repository.",
    (f) => f.bytesAdded,
  );
  perProfile(
    'nightshift_backup_repository_size_bytes',
    "The repository's stored size after the last backup.",
    (f) => f.repoBytes,
  );
  perProfile(
    'nightshift_backup_last_success',
    "Whether the profile's last backup succeeded (1) or not (0).",
    (f) => (f.lastBackupOk === undefined ? undefined : f.lastBackupOk ? 1 : 0),
  );
  perProfile('nightshift_backup_last_run_timestamp_seconds', "When the profile's last backup ran.", (f) =>
    f.lastBackupAtMs === undefined ? undefined : f.lastBackupAtMs / 1000,
  );
  perProfile(
    'nightshift_backup_last_drill_success',
    "Whether the profile's last restore drill passed (1) or not (0).",
    (f) => (f.drillOk === undefined ? undefined : f.drillOk ? 1 : 0),
  );
  perProfile(
    'nightshift_backup_last_drill_timestamp_seconds',
    "When the profile's last restore drill ran.",
    (f) => (f.drillAtMs === undefined ? undefined : f.drillAtMs / 1000),
  );
  const snapshotCounts = new Map<string, number>();
  new Gauge({
    name: 'nightshift_backup_snapshots',
    help: 'Snapshots in the repository after the last backup and its retention.',
    labelNames: ['profile'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [profile, n] of snapshotCounts) this.set({ profile }, n);
    },
  });

  function noteRun(job: Job, run: Run): void {
    const p = profileOf(job);
    if (
      !p ||
      run.status === 'queued' ||
      run.status === 'running' ||
      run.status === 'skipped' ||
      run.status === 'missed'
    )
      return;
    const f = profiles.get(p.profile) ?? {};
    profiles.set(p.profile, f);
    const at = run.startedAtMs ?? run.slotMs;
    if (p.kind === 'backup') {
      if (f.lastBackupAtMs !== undefined && f.lastBackupAtMs > at) return;
      f.lastBackupAtMs = at;
      f.lastBackupOk = run.status === 'ok';
      const b = run.details?.backup;
      if (b?.bytesAdded !== undefined) f.bytesAdded = b.bytesAdded;
      if (b?.repoBytes !== undefined) f.repoBytes = b.repoBytes;
      if (deps.snapshotCount)
        void deps.snapshotCount(p.profile).then(
          (n) => snapshotCounts.set(p.profile, n),
          () => undefined,
        );
    } else {
      if (f.drillAtMs !== undefined && f.drillAtMs > at) return;
      f.drillAtMs = at;
      f.drillOk = run.status === 'ok';
    }
  }

  const jobById = (id: string): Job | undefined => deps.jobs().find((j) => j.id === id);

  return {
    registry,
    observe(e) {
      switch (e.event) {
        case 'run.finished': {
          runs.inc({ job: e.jobName, status: e.status });
          if (e.status !== 'skipped' && e.status !== 'missed')
            duration.observe({ job: e.jobName }, e.durationMs / 1000);
          if (OK_STATUSES.has(e.status)) lastSuccess.set(e.jobId, deps.now());
          const job = jobById(e.jobId);
          if (job && profileOf(job))
            void deps.store.getRun(e.runId).then(
              (run) => run && noteRun(job, run),
              () => undefined,
            );
          break;
        }
        case 'run.started':
          if (e.trigger === 'schedule')
            lateness.observe({ job: e.jobName }, Math.max(0, deps.now() - e.slotMs) / 1000);
          break;
        case 'run.missed': {
          const job = jobById(e.jobId);
          if (job) missed.inc({ job: job.name }, e.slots);
          break;
        }
        case 'run.skipped': {
          const job = jobById(e.jobId);
          if (job) skipped.inc({ job: job.name });
          break;
        }
        case 'alert.sent':
        case 'alert.failed':
          alerts.inc({ purpose: e.purpose, result: e.event === 'alert.sent' ? 'sent' : 'failed' });
          break;
        default:
          break;
      }
    },
    async seed() {
      for (const job of deps.jobs()) {
        const ok = await deps.store.listRuns({ jobId: job.id, status: 'ok', limit: 1 });
        const last = ok.entries[0];
        if (last) lastSuccess.set(job.id, last.finishedAtMs ?? last.startedAtMs ?? last.slotMs);
        if (!profileOf(job)) continue;
        const latest = await deps.store.listRuns({ jobId: job.id, limit: 5 });
        for (const run of latest.entries.reverse()) noteRun(job, run);
      }
    },
    render: () => registry.metrics(),
  };
}
