/**
 * The disk-space precheck of a backup job: a local repository's filesystem must hold the profile's
 * --min-free and 1.2 x the most a recent run added, or the run is refused before anything is written.
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { BackupProfile } from '../domain/backup-profile.ts';

export interface SpaceCheck {
  ok: boolean;
  freeBytes: number;
  neededBytes: number;
  reason?: string;
}

/** Free bytes for an unprivileged writer on the filesystem holding `path` (or its nearest existing parent). */
export async function freeBytesAt(path: string): Promise<number> {
  let p = path;
  for (;;) {
    try {
      const s = await statfs(p);
      return s.bavail * s.bsize;
    } catch (err) {
      const up = dirname(p);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || up === p) throw err;
      p = up;
    }
  }
}

/**
 * How full the filesystem holding `path` is, in percent, as `df` shows it: used / (used + what an
 * unprivileged writer may still use), so the blocks reserved for root count as unavailable.
 */
export async function usedPercentAt(path: string): Promise<number> {
  let p = path;
  for (;;) {
    try {
      const s = await statfs(p);
      const used = s.blocks - s.bfree;
      const total = used + s.bavail;
      return total > 0 ? (used * 100) / total : 0;
    } catch (err) {
      const up = dirname(p);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || up === p) throw err;
      p = up;
    }
  }
}

/** Margin over the largest recent backup: new data can grow between runs. */
export const SPACE_MARGIN = 1.2;

/**
 * Whether the repository's filesystem has room: at least profile.minFreeBytes, and at least 1.2 x
 * the most a recent run of the job added.
 */
export async function precheckSpace(profile: BackupProfile, recentBytesAdded: number[]): Promise<SpaceCheck> {
  const freeBytes = await freeBytesAt(profile.repository);
  const largest = Math.max(0, ...recentBytesAdded);
  const estimate = Math.ceil(largest * SPACE_MARGIN);
  const floor = profile.minFreeBytes ?? 0;
  const neededBytes = Math.max(floor, estimate);
  if (freeBytes >= neededBytes) return { ok: true, freeBytes, neededBytes };
  const why =
    floor >= estimate
      ? `the profile's --min-free is ${fmtBytes(floor)}`
      : `${SPACE_MARGIN} x the largest recent backup (${fmtBytes(largest)} added)`;
  return {
    ok: false,
    freeBytes,
    neededBytes,
    reason: `not enough free space for the backup of profile ${profile.name}: ${fmtBytes(freeBytes)} free on the filesystem of ${profile.repository}, need ${fmtBytes(neededBytes)} (${why})`,
  };
}

export function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
