/**
 * Backup anomalies: a run that added far more data, or took far longer, than the job usually
 * does, and a repository that grew past its limit. Pure: the service hands in the finished run
 * and the job's earlier ok runs.
 */
import type { Run } from '../domain/job.ts';
import { formatDuration } from '../domain/duration.ts';
import {
  ANOMALY_HISTORY,
  ANOMALY_MIN_BYTES,
  ANOMALY_MIN_DURATION_MS,
  ANOMALY_MIN_HISTORY,
} from './policy.ts';
import type { EffectivePolicy } from './policy.ts';
import { formatBytes } from '../domain/bytes.ts';

export type AnomalyKind = 'bytes-added' | 'duration' | 'repo-size' | 'repo-usage';

export interface Anomaly {
  kind: AnomalyKind;
  /** One sentence a user understands ("added 52.0 MiB, 10.4x the median of 5.0 MiB over 10 runs"). */
  message: string;
  value: number;
  /** The median (bytes-added, duration) or the limit (repo-size, repo-usage). */
  reference: number;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function bytesAdded(run: Run): number | undefined {
  return run.details?.backup?.bytesAdded;
}

function duration(run: Run): number | undefined {
  return run.details?.backup?.durationMs ?? run.durationMs;
}

/**
 * Anomalies of a backup run that ended ok. `previous` are the job's earlier ok runs, newest first
 * (only the first ANOMALY_HISTORY are used; fewer than ANOMALY_MIN_HISTORY with a value: no verdict).
 */
export function detectAnomalies(run: Run, previous: Run[], policy: EffectivePolicy): Anomaly[] {
  const out: Anomaly[] = [];
  const backup = run.details?.backup;
  if (run.status !== 'ok' || !backup) return out;
  const history = previous
    .filter((r) => r.runId !== run.runId && r.details?.backup)
    .slice(0, ANOMALY_HISTORY);
  const factor = policy.anomalyFactor;
  if (factor !== undefined) {
    const check = (
      kind: AnomalyKind,
      get: (r: Run) => number | undefined,
      floor: number,
      show: (n: number) => string,
      verb: string,
    ): void => {
      const value = get(run);
      const past = history.map(get).filter((v): v is number => v !== undefined && Number.isFinite(v));
      if (value === undefined || past.length < ANOMALY_MIN_HISTORY) return;
      const m = median(past);
      if (value <= factor * m || value < floor) return;
      const ratio = m > 0 ? `${(value / m).toFixed(1)}x` : 'far more than';
      out.push({
        kind,
        value,
        reference: m,
        message: `${verb} ${show(value)}, ${ratio} the median of ${show(m)} over the last ${past.length} ok runs (alert above ${factor}x)`,
      });
    };
    check('bytes-added', bytesAdded, ANOMALY_MIN_BYTES, formatBytes, 'added');
    check('duration', duration, ANOMALY_MIN_DURATION_MS, formatDuration, 'took');
  }
  const limit = policy.maxRepoBytes;
  if (limit !== undefined && backup.repoBytes !== undefined && backup.repoBytes > limit) {
    out.push({
      kind: 'repo-size',
      value: backup.repoBytes,
      reference: limit,
      message: `the repository holds ${formatBytes(backup.repoBytes)}, above the limit of ${formatBytes(limit)}`,
    });
  }
  const pct = policy.maxRepoUsagePercent;
  if (pct !== undefined) {
    // The repository's own filesystem, and each local --copy-to destination's (a USB disk, a NAS).
    const disks: [string, number | undefined][] = [
      ["the repository's filesystem", backup.repoDiskUsedPercent],
      ...(backup.copies ?? []).map((c): [string, number | undefined] => [
        `the filesystem of the copy ${c.repository}`,
        c.diskUsedPercent,
      ]),
    ];
    for (const [what, used] of disks)
      if (used !== undefined && used > pct)
        out.push({
          kind: 'repo-usage',
          value: used,
          reference: pct,
          message: `${what} is ${used.toFixed(1)}% full, above the limit of ${pct}%`,
        });
  }
  return out;
}
