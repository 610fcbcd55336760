/**
 * The MCP doctor tool: the report of `nightshift doctor --json` (app/doctor), read-only, so an agent
 * can find out why a job did not run without a shell. Repairs stay with `nightshift doctor --fix`.
 */
import * as z from 'zod/v4';
import { runDoctor } from '../../app/doctor/doctor.ts';
import { requireJob } from '../../app/jobs.ts';
import { MCP_TERMS } from '../../app/terms.ts';
import { SystemClock } from '../../domain/clock.ts';
import { scopeNote } from './guard.ts';
import { outputShape } from './shapes.ts';
import type { ToolContext } from './tool-context.ts';

const level = z.enum(['ok', 'warn', 'fail']);

export function registerDoctorTool(ctx: ToolContext): void {
  const { server, app, guarded, version } = ctx;
  server.registerTool(
    'doctor',
    {
      title: 'Diagnose this home',
      description:
        'Why did a job not run or not prove itself? Checks the daemon (running, version, config loaded, heartbeat, ' +
        'stuck runs), each job (schedule, DST gaps, program on PATH, channels, agents, evidence directories), the ' +
        'channels (a dry request, no message sent), every secret reference (never its value) and the backup ' +
        'repositories (opens, snapshot age, last drill, stale locks). One finding per line with the command that ' +
        'fixes it. Read-only: repairs need `nightshift doctor --fix` on the host.' +
        scopeNote('read'),
      inputSchema: z.looseObject({
        job: z.string().optional().describe('only this job (id or exact name) and what it uses'),
      }),
      outputSchema: outputShape({
        findings: z.array(
          z.object({
            check: z.string(),
            level,
            message: z.string(),
            fix: z.string().optional(),
            job: z.string().optional(),
            fixable: z.boolean().describe('`nightshift doctor --fix` can repair it without losing anything'),
          }),
        ),
        counts: z.object({ ok: z.number(), warn: z.number(), fail: z.number() }),
        exitCode: z.number().describe('0: nothing fails; 1: something fails'),
      }),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('doctor', 'read', args, async () => {
        const job =
          args.job === undefined ? undefined : await requireJob(app, args.job, { terms: MCP_TERMS });
        const report = await runDoctor({
          app,
          clock: new SystemClock(),
          env: process.env,
          version,
          ...(job && { job }),
          sendTest: false,
          createDirs: false,
        });
        return { ...report };
      }),
  );
}
