/** /api/v1/doctor: the report of `nightshift doctor --json`, read-only (repairs stay with `doctor --fix`). */
import { z } from 'zod/v4';
import { runDoctor } from '../../../app/doctor/doctor.ts';
import { requireJob } from '../../../app/jobs.ts';
import { API_TERMS } from '../../../app/terms.ts';
import type { ApiDeps } from '../deps.ts';
import type { ApiRoute } from '../route.ts';
import { route } from '../route.ts';

export function doctorRoutes(deps: ApiDeps, version: string): ApiRoute[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/doctor',
      scope: 'read',
      tag: 'status',
      summary:
        'Why a job did not run: daemon, jobs, channels (dry requests), secrets (never values) and backups',
      query: z.object({
        job: z.string().min(1).optional().describe('only this job (id or exact name) and what it uses'),
      }),
      response: z.object({
        findings: z.array(
          z.object({
            check: z.string(),
            level: z.enum(['ok', 'warn', 'fail']),
            message: z.string(),
            fix: z.string().optional(),
            job: z.string().optional(),
            fixable: z.boolean(),
          }),
        ),
        counts: z.object({ ok: z.number(), warn: z.number(), fail: z.number() }),
        exitCode: z.number(),
      }),
      handler: async ({ query }) => {
        const job =
          query.job === undefined ? undefined : await requireJob(deps.app, query.job, { terms: API_TERMS });
        return runDoctor({
          app: deps.app,
          clock: deps.clock,
          env: process.env,
          version,
          ...(job && { job }),
          sendTest: false,
          createDirs: false,
        });
      },
    }),
  ];
}
