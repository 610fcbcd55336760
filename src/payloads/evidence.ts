/**
 * Evidence: what must hold, beside exit status 0, for a run to count as `ok`. Each expectation
 * yields one EvidenceResult whose `detail` is the sentence a user reads when it fails.
 *
 * Globs use tinyglobby: small (two dependencies), maintained, fast (fdir), and it takes absolute
 * patterns as well as ones relative to the job's cwd, which evidence needs (`/backups/*.tar.gz`,
 * `out/*.json`).
 */
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { glob } from 'tinyglobby';
import type { Evidence, EvidenceResult } from '../domain/job.ts';

/**
 * A file counts as written during the run if its mtime is at most this much before the run's
 * start. Filesystems store mtimes coarsely (FAT: 2 s, some network filesystems: 1 s, and Linux
 * stamps files from a clock that trails Date.now() by a few ms), so a file written right at the
 * start can look slightly older than the run. 2 s cannot mistake yesterday's backup for today's.
 */
export const MTIME_TOLERANCE_MS = 2000;

export interface EvidenceRun {
  /** The run's start (epoch ms). */
  startedAtMs: number;
  /** Captured output (the kept tail of stdout+stderr). */
  output: string;
  /** Relative globs resolve against this directory. */
  cwd: string;
  /** Set when the output regex already matched a line that has since scrolled out of the tail. */
  outputMatched?: boolean;
  /** For ages in messages (default: Date.now()). */
  nowMs?: number;
}

interface Match {
  path: string;
  size: number;
  mtimeMs: number;
}

export async function checkEvidence(evidence: Evidence, run: EvidenceRun): Promise<EvidenceResult[]> {
  const results: EvidenceResult[] = [];
  if (evidence.expectFile !== undefined) results.push(...(await checkFile(evidence, run)));
  if (evidence.expectOutput !== undefined) results.push(checkOutput(evidence.expectOutput, run));
  return results;
}

/** The reason a run failed its evidence, or undefined when all of it holds. */
export function evidenceFailure(results: EvidenceResult[]): string | undefined {
  const failed = results.filter((r) => !r.ok);
  return failed.length > 0 ? failed.map((r) => r.detail).join('; ') : undefined;
}

/** Compiles an expectOutput pattern; `^` and `$` match at line boundaries, as users expect of output. */
export function compileOutputPattern(pattern: string): RegExp {
  return new RegExp(pattern, 'm');
}

async function checkFile(evidence: Evidence, run: EvidenceRun): Promise<EvidenceResult[]> {
  const pattern = evidence.expectFile as string;
  const minBytes = evidence.expectMinBytes;
  const now = run.nowMs ?? Date.now();
  const fileCheck = `expectFile ${pattern}`;
  const sizeCheck = `expectMinBytes ${minBytes}`;
  const matches = await findMatches(pattern, run.cwd);
  const fresh = matches.filter((m) => m.mtimeMs >= run.startedAtMs - MTIME_TOLERANCE_MS);
  const results: EvidenceResult[] = [];

  if (matches.length === 0) {
    results.push({ check: fileCheck, ok: false, detail: `expected a file matching ${pattern}; none exists` });
  } else if (fresh.length === 0) {
    const newest = matches.reduce((a, b) => (b.mtimeMs > a.mtimeMs ? b : a));
    results.push({
      check: fileCheck,
      ok: false,
      detail: `expected a file matching ${pattern} modified during the run; newest match is ${formatAge(now - newest.mtimeMs)} old (${newest.path})`,
    });
  } else {
    const newest = fresh.reduce((a, b) => (b.mtimeMs > a.mtimeMs ? b : a));
    results.push({
      check: fileCheck,
      ok: true,
      detail: `${newest.path} was written during the run (${newest.size} bytes)`,
    });
  }

  if (minBytes !== undefined) {
    const bigEnough = fresh.filter((m) => m.size >= minBytes);
    if (bigEnough.length > 0) {
      const best = bigEnough.reduce((a, b) => (b.mtimeMs > a.mtimeMs ? b : a));
      results.push({ check: sizeCheck, ok: true, detail: `${best.path} has ${best.size} bytes` });
    } else if (fresh.length > 0) {
      const largest = fresh.reduce((a, b) => (b.size > a.size ? b : a));
      results.push({
        check: sizeCheck,
        ok: false,
        detail: `expected a file matching ${pattern} of at least ${minBytes} bytes; the largest written during the run has ${largest.size} bytes (${largest.path})`,
      });
    } else {
      results.push({
        check: sizeCheck,
        ok: false,
        detail: `expected a file matching ${pattern} of at least ${minBytes} bytes written during the run; there is none`,
      });
    }
  }
  return results;
}

async function findMatches(pattern: string, cwd: string): Promise<Match[]> {
  const expanded = pattern.startsWith('~/') ? homedir() + pattern.slice(1) : pattern;
  let paths: string[];
  try {
    paths = await glob(expanded, {
      cwd,
      absolute: true,
      onlyFiles: true,
      dot: true,
      // A pattern naming a directory must not silently mean "anything below it".
      expandDirectories: false,
    });
  } catch {
    // An unreadable cwd or a malformed pattern: nothing matches, which the caller reports.
    return [];
  }
  const out: Match[] = [];
  for (const p of paths) {
    try {
      const st = await stat(p);
      if (st.isFile()) out.push({ path: p, size: st.size, mtimeMs: st.mtimeMs });
    } catch {
      // Removed between listing and stat: not there.
    }
  }
  return out;
}

function checkOutput(pattern: string, run: EvidenceRun): EvidenceResult {
  const check = `expectOutput /${pattern}/`;
  let re: RegExp;
  try {
    re = compileOutputPattern(pattern);
  } catch (err) {
    return {
      check,
      ok: false,
      detail: `expectOutput is not a valid regular expression (${(err as Error).message}); fix the job's --expect-output`,
    };
  }
  if (run.outputMatched || re.test(run.output)) {
    return { check, ok: true, detail: `the output matched /${pattern}/` };
  }
  const lastLine = run.output.trimEnd().split('\n').at(-1) ?? '';
  const shown = lastLine.length > 120 ? `…${lastLine.slice(-120)}` : lastLine;
  return {
    check,
    ok: false,
    detail:
      run.output.trim() === ''
        ? `expected the output to match /${pattern}/; the run printed nothing`
        : `expected the output to match /${pattern}/; it did not (last line: ${JSON.stringify(shown)})`,
  };
}

/** 3h, 12m, 40s, 2d: the age of a file in a failure message. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m}m`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.round(h / 24)}d`;
}
