/**
 * /api/v1/backup/profiles: the profiles (as `backup profile list/show --json`), each profile's
 * snapshots with the retention rule that keeps each one, its backup history (bytes added and
 * repository size per run, for the dashboard's charts) and last drill, and `check` and `drill`
 * run now. Profiles hold secret references only, never values.
 */
import { z } from 'zod/v4';
import { jobsUsingProfile, listProfiles, requireProfile, showProfile } from '../../../app/backup-profiles.ts';
import { checkProfileRepository, profileSnapshotList } from '../../../app/backups.ts';
import { snapshotOut } from '../../mcp/shapes.ts';
import { drillProfile } from '../../../app/drills.ts';
import type { Job } from '../../../domain/job.ts';
import { listRuns } from '../../../app/runs.ts';
import { runView } from '../../../app/views.ts';
import type { ApiDeps } from '../deps.ts';
import type { ApiRoute } from '../route.ts';
import { route } from '../route.ts';

const profileParam = z.object({ profile: z.string().min(1).describe('backup profile name') });

export function backupRoutes(deps: ApiDeps): ApiRoute[] {
  const { app } = deps;
  const usedBy = (name: string): Job[] => jobsUsingProfile(deps.jobs(), name);
  return [
    route({
      method: 'GET',
      url: '/api/v1/backup/profiles',
      scope: 'read',
      tag: 'backups',
      summary: 'Backup profiles (as `backup profile list --json`), each with the jobs that use it',
      handler: async () => ({
        profiles: (await listProfiles(app)).map((p) => ({
          ...p,
          usedBy: usedBy(p.name).map((j) => ({ id: j.id, name: j.name, kind: j.payload.kind })),
        })),
      }),
    }),
    route({
      method: 'GET',
      url: '/api/v1/backup/profiles/:profile',
      scope: 'read',
      tag: 'backups',
      summary: 'One profile (as `backup profile show --json`)',
      params: profileParam,
      handler: async ({ params }) => {
        const { profile, usedBy: jobs } = await showProfile(app, params.profile);
        return { ...profile, usedBy: jobs.map((j) => ({ id: j.id, name: j.name, kind: j.payload.kind })) };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/backup/profiles/:profile/snapshots',
      scope: 'read',
      tag: 'backups',
      summary: "The profile's snapshots, oldest first, with the retention rules that keep each",
      description:
        'keptBy lists every rule of the profile\'s retention that keeps the snapshot (e.g. "daily 2026-11-20"); ' +
        "removeReason says why the next backup's retention would remove it. Both are null without a policy.",
      params: profileParam,
      response: z.object({ profile: z.string(), total: z.number(), snapshots: z.array(snapshotOut) }),
      handler: async ({ params }) => profileSnapshotList(app, params.profile),
    }),
    route({
      method: 'GET',
      url: '/api/v1/backup/profiles/:profile/history',
      scope: 'read',
      tag: 'backups',
      summary: "The profile's latest backup runs (bytes added, repository size) and its last drill",
      params: profileParam,
      query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(60) }),
      handler: async ({ params, query }) => {
        await requireProfile(app, params.profile);
        const jobs = usedBy(params.profile);
        const backups = [];
        let lastDrill: Record<string, unknown> | null = null;
        for (const job of jobs) {
          const page = await listRuns(app, { job: job.id, limit: query.limit });
          if (job.payload.kind === 'backup') {
            for (const r of page.entries)
              backups.push({
                runId: r.runId,
                jobName: job.name,
                status: r.status,
                slotMs: r.slotMs,
                durationMs: r.durationMs ?? null,
                bytesAdded: r.details?.backup?.bytesAdded ?? null,
                repoBytes: r.details?.backup?.repoBytes ?? null,
                snapshotId: r.details?.backup?.snapshotId ?? null,
              });
          } else {
            const last = page.entries.find((r) => r.status !== 'queued' && r.status !== 'running');
            if (last && (lastDrill === null || (lastDrill.slotMs as number) < last.slotMs))
              lastDrill = { ...runView(last), jobName: job.name };
          }
        }
        backups.sort((a, b) => a.slotMs - b.slotMs);
        return { profile: params.profile, backups: backups.slice(-query.limit), lastDrill };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/backup/profiles/:profile/check',
      scope: 'operate',
      tag: 'backups',
      summary:
        "Check the profile's repository now; with readDataSubset also read that share of the data back",
      params: profileParam,
      body: z
        .object({ readDataSubset: z.string().optional().describe('e.g. "5%" or "1/10"') })
        .strict()
        .optional(),
      handler: async ({ params, body }) => {
        const report = await checkProfileRepository(
          app,
          params.profile,
          body?.readDataSubset === undefined ? {} : { readDataSubset: body.readDataSubset },
        );
        const issue = (i: { file?: string; message: string }) => ({
          file: i.file ?? null,
          message: i.message,
        });
        return {
          profile: params.profile,
          ok: report.ok,
          readDataSubset: body?.readDataSubset ?? null,
          errors: report.errors.map(issue),
          warnings: report.warnings.map(issue),
          counts: { ...report.counts },
        };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/backup/profiles/:profile/drill',
      scope: 'operate',
      tag: 'backups',
      summary:
        "Restore a sample of the profile's latest snapshot into a temporary directory and verify it, now",
      params: profileParam,
      body: z
        .object({
          sampleFiles: z.number().int().min(1).max(100_000).optional(),
          samplePercent: z.number().gt(0).max(100).optional(),
        })
        .strict()
        .optional(),
      handler: async ({ params, body, signal }) => {
        const drill = await drillProfile(app, params.profile, {
          ...(body?.sampleFiles !== undefined ? { sampleFiles: body.sampleFiles } : {}),
          ...(body?.samplePercent !== undefined ? { samplePercent: body.samplePercent } : {}),
          signal,
        });
        return { ok: drill.failures.length === 0, profile: drill.profile, drill: { ...drill } };
      },
    }),
  ];
}
