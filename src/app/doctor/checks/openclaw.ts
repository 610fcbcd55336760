/**
 * OpenClaw leftovers: an OpenClaw cron store still on this host whose jobs are not (or no longer
 * as) imported. The import is planned dry, exactly as `nightshift import openclaw --dry-run`
 * would, so the finding and the command agree.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { importOpenClaw } from '../../import.ts';
import { nightshiftCommand } from '../check.ts';
import type { DoctorCheck, DoctorContext, Finding } from '../check.ts';

/** Where OpenClaw keeps its cron store: $OPENCLAW_HOME/cron, else ~/.openclaw/cron. */
export function openClawCronDir(env: NodeJS.ProcessEnv): string {
  return join(env.OPENCLAW_HOME ?? join(env.HOME ?? homedir(), '.openclaw'), 'cron');
}

export const openClawCheck: DoctorCheck = {
  id: 'openclaw',
  title: 'OpenClaw jobs',
  async run(ctx: DoctorContext) {
    if (ctx.job) return [];
    const dir = openClawCronDir(ctx.env);
    if (!existsSync(join(dir, 'jobs.json')))
      return [{ check: 'openclaw', level: 'ok', message: `no OpenClaw cron store at ${dir}` }];
    const plan = await importOpenClaw(ctx.app, dir, { dryRun: true, nowMs: ctx.clock.now() });
    const out: Finding[] = [];
    const fix = nightshiftCommand(ctx, `import openclaw ${dir}`);
    const pending = plan.counts.created + plan.counts.updated;
    if (pending > 0)
      out.push({
        check: 'openclaw',
        level: 'warn',
        message: `${plan.file}: ${plan.counts.created} job${plan.counts.created === 1 ? '' : 's'} not imported, ${plan.counts.updated} changed since the import`,
        fix: `${fix} (\`--dry-run\` shows what it would do)`,
      });
    for (const e of plan.entries.filter((x) => x.action === 'skipped'))
      out.push({
        check: 'openclaw',
        level: 'warn',
        message: `${plan.file}: job ${e.name} (${e.openclawId}) cannot be imported: ${e.reason}`,
      });
    if (out.length === 0)
      out.push({
        check: 'openclaw',
        level: 'ok',
        message: `${plan.file}: every job is imported and up to date`,
      });
    return out;
  },
};
