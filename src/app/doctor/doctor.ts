/**
 * `nightshift doctor`: runs every check (checks/index.ts) and, with `fix`, the repairs that cannot
 * lose anything. The same report serves the CLI, MCP (read-only) and HTTP.
 */
import type { DoctorCheck, DoctorContext, DoctorLevel, Finding } from './check.ts';
import { DOCTOR_CHECKS } from './checks/index.ts';

/** A finding as reported (the repair itself stays inside). */
export interface ReportedFinding {
  check: string;
  level: DoctorLevel;
  message: string;
  fix?: string;
  job?: string;
  /** `doctor --fix` can repair it. */
  fixable: boolean;
  /** What `--fix` did about it, when it ran. */
  fixed?: string;
}

export interface DoctorReport {
  findings: ReportedFinding[];
  counts: Record<DoctorLevel, number>;
  /** 0 when nothing fails (after the repairs that ran), 1 otherwise. */
  exitCode: 0 | 1;
}

export async function runDoctor(
  ctx: DoctorContext,
  opts: { fix?: boolean; checks?: readonly DoctorCheck[] } = {},
): Promise<DoctorReport> {
  const found: Finding[] = [];
  for (const check of opts.checks ?? DOCTOR_CHECKS) {
    try {
      found.push(...(await check.run(ctx)));
    } catch (err) {
      // A check that breaks is itself a finding: the rest still run.
      found.push({
        check: check.id,
        level: 'fail',
        message: `the ${check.title} check could not run: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  }
  const findings: ReportedFinding[] = [];
  for (const f of found) {
    const r: ReportedFinding = {
      check: f.check,
      level: f.level,
      message: f.message,
      fixable: f.repair !== undefined,
    };
    if (f.fix !== undefined) r.fix = f.fix;
    if (f.job !== undefined) r.job = f.job;
    if (opts.fix && f.repair) {
      try {
        r.fixed = await f.repair();
      } catch (err) {
        r.fixed = `repair failed: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    findings.push(r);
  }
  const counts: Record<DoctorLevel, number> = { ok: 0, warn: 0, fail: 0 };
  for (const f of findings) counts[f.level]++;
  const failing = findings.some(
    (f) => f.level === 'fail' && (f.fixed === undefined || f.fixed.startsWith('repair failed')),
  );
  return { findings, counts, exitCode: failing ? 1 : 0 };
}
