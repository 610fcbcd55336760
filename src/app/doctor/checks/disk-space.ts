/** Free space on a filesystem, for the home and for local repositories. */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatBytes } from '../../../domain/bytes.ts';
import type { DoctorLevel } from '../check.ts';

/** Bytes free to an unprivileged writer on the filesystem holding `path` (or its nearest existing parent). */
export function freeBytes(path: string): number | undefined {
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = statfsSync(p);
      return s.bavail * s.bsize;
    } catch {
      if (dirname(p) === p) return undefined;
    }
  }
}

/** A level and a phrase for `free` bytes against a warning and a failing threshold. */
export function spaceVerdict(
  free: number,
  warnBelow: number,
  failBelow: number,
): { level: DoctorLevel; text: string } {
  const text = `${formatBytes(free)} free`;
  if (free < failBelow) return { level: 'fail', text: `only ${text}` };
  if (free < warnBelow) return { level: 'warn', text: `only ${text}` };
  return { level: 'ok', text };
}
