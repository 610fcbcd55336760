/**
 * The MCP backup tools: run a backup job, list a profile's snapshots, check its repository, run a
 * restore drill. They work on backup profiles (which hold key *references*); no tool takes or
 * returns a passphrase, identity or writer key. Keys are resolved inside the backup service, at
 * the moment they are needed, and never reach a result. The work is done by the app layer
 * (src/app/backups.ts, drills.ts); this file holds the schemas and the wording.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod/v4';
import type { App } from '../../app/app.ts';
import { requireJob } from '../../app/jobs.ts';
import { MCP_TERMS } from '../../app/terms.ts';
import { UserError } from '../../domain/errors.ts';
import type { Job } from '../../domain/job.ts';
import type { Scope } from '../../domain/scope.ts';
import type { RunArgs } from './shapes.ts';
import { snapshotOut } from './shapes.ts';
import type * as BackupsModule from '../../app/backups.ts';
import type * as DrillsModule from '../../app/drills.ts';

type Structured = Record<string, unknown>;
type OutputShape = <S extends Record<string, z.ZodType>>(shape: S) => Record<string, z.ZodType>;

/** What the server lends the backup tools: its scope guard, its run path and shared schemas. */
export interface BackupToolContext {
  app: App;
  guarded(
    tool: string,
    required: Scope,
    args: unknown,
    body: () => Promise<Structured>,
  ): Promise<CallToolResult>;
  startRun(jobId: string, args: RunArgs): Promise<Structured>;
  scopeNote(required: Scope): string;
  schemas: {
    jobRef: z.ZodString;
    runArgs: Record<string, z.ZodType>;
    runResultShape: Record<string, z.ZodType>;
    outputShape: OutputShape;
  };
}

const profileName = z.string().min(1).describe('backup profile name (`nightshift backup profile list`)');

const issueOut = z.object({ file: z.string().nullable(), message: z.string() });

const drillOut = z.object({
  profile: z.string().optional(),
  repository: z.string().optional(),
  snapshotId: z.string(),
  filesInSnapshot: z.number().optional(),
  bytesRestored: z.number().optional(),
  durationMs: z.number().optional(),
  sampled: z.number(),
  verified: z.number(),
  matchedLive: z.number().describe('restored files identical to the live file'),
  skippedChanged: z.number().describe('files changed since the snapshot (not compared with the live copy)'),
  failures: z.array(z.object({ path: z.string(), problem: z.string() })),
});

/** Exactly one of job and profile. */
function oneOf(args: { job?: string | undefined; profile?: string | undefined }, tool: string): void {
  if ((args.job === undefined) === (args.profile === undefined))
    throw new UserError(`${tool}: give either job or profile`, {
      hint: 'job = a job id or name; profile = a backup profile name',
    });
}

async function requireKindJob(app: App, ref: string, kind: 'backup' | 'drill'): Promise<Job> {
  const job = await requireJob(app, ref, { terms: MCP_TERMS });
  if (job.payload.kind !== kind)
    throw new UserError(`job "${job.name}" is a ${job.payload.kind} job, not a ${kind} job`, {
      hint:
        kind === 'backup'
          ? 'run it with job_run, or give a backup job or a backup profile'
          : 'run it with job_run, or give a drill job or a backup profile',
    });
  return job;
}

export function registerBackupTools(server: McpServer, ctx: BackupToolContext): void {
  const { app, guarded, startRun, scopeNote } = ctx;
  const { jobRef, runArgs, runResultShape, outputShape } = ctx.schemas;
  // Loaded on first use: the backup engine is a large module tree the scheduler tools do not need.
  const backups = (): Promise<typeof BackupsModule> => import('../../app/backups.ts');
  const drills = (): Promise<typeof DrillsModule> => import('../../app/drills.ts');

  server.registerTool(
    'backup_run',
    {
      title: 'Run a backup now',
      description:
        'Run a backup job now, given the job (id or name) or its backup profile (the one job that backs ' +
        'it up). Like job_run: returns {ok, enqueued, runId}; with wait=true also the run (its status says ' +
        'whether the snapshot was written and verified). No key or passphrase is taken or returned.' +
        scopeNote('operate'),
      inputSchema: z.looseObject({
        job: jobRef.optional().describe('a backup job: id or exact name'),
        profile: profileName.optional(),
        ...runArgs,
      }),
      outputSchema: outputShape({
        ...runResultShape,
        jobId: z.string(),
        jobName: z.string(),
        profile: z.string(),
      }),
    },
    (args) =>
      guarded('backup_run', 'operate', args, async () => {
        oneOf(args, 'backup_run');
        let job: Job;
        if (args.job !== undefined) job = await requireKindJob(app, args.job, 'backup');
        else job = await (await backups()).backupJobOfProfile(app, args.profile!);
        const profile = job.payload.kind === 'backup' ? job.payload.profile : '';
        const run = await startRun(job.id, args as RunArgs);
        return { ...run, jobId: job.id, jobName: job.name, profile };
      }),
  );

  server.registerTool(
    'snapshots_list',
    {
      title: 'List snapshots',
      description:
        "A backup profile's snapshots, oldest first, with time, host, paths (hidden in a recipients " +
        'repository this host can only write), size summary, and the retention rules that keep each.' +
        scopeNote('read'),
      inputSchema: z.looseObject({ profile: profileName }),
      outputSchema: outputShape({ profile: z.string(), total: z.number(), snapshots: z.array(snapshotOut) }),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('snapshots_list', 'read', args, async () => {
        return (await backups()).profileSnapshotList(app, args.profile);
      }),
  );

  server.registerTool(
    'backup_check',
    {
      title: 'Check a backup repository',
      description:
        "Check a backup profile's repository: structure, index and snapshots; with readDataSubset " +
        '("5%", "1/10") also reads that share of the stored data back and verifies it. ok=false lists ' +
        'the errors.' +
        scopeNote('operate'),
      inputSchema: z.looseObject({
        profile: profileName,
        readDataSubset: z
          .string()
          .optional()
          .describe('share of the packs to read back, e.g. "5%" or "1/10"'),
      }),
      outputSchema: outputShape({
        profile: z.string(),
        ok: z.boolean(),
        readDataSubset: z.string().nullable(),
        errors: z.array(issueOut),
        warnings: z.array(issueOut),
        counts: z.record(z.string(), z.number()),
      }),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('backup_check', 'operate', args, async () => {
        const report = await (
          await backups()
        ).checkProfileRepository(
          app,
          args.profile,
          args.readDataSubset === undefined ? {} : { readDataSubset: args.readDataSubset },
        );
        const issue = (i: { file?: string; message: string }): Structured => ({
          file: i.file ?? null,
          message: i.message,
        });
        return {
          profile: args.profile,
          ok: report.ok,
          readDataSubset: args.readDataSubset ?? null,
          errors: report.errors.map(issue),
          warnings: report.warnings.map(issue),
          counts: { ...report.counts },
        };
      }),
  );

  server.registerTool(
    'drill_run',
    {
      title: 'Run a restore drill',
      description:
        "Restore a random sample of a profile's latest snapshot into a temporary directory and verify " +
        'every file (removed afterwards). Given a profile, or a repository with identityRef (a secret ' +
        'reference to its age identity, on the host where it lives), runs now and returns the result ' +
        '(ok=false when a file failed); given a drill job, requests its run like job_run.' +
        scopeNote('operate'),
      inputSchema: z.looseObject({
        job: jobRef.optional().describe('a drill job: id or exact name'),
        profile: profileName.optional(),
        repository: z
          .string()
          .optional()
          .describe('a repository to drill without a profile, with identityRef'),
        identityRef: z
          .string()
          .optional()
          .describe('with repository: secret reference to the age identity (file:/path, vault:...)'),
        tag: z
          .string()
          .optional()
          .describe('with repository: the latest snapshot with this tag (e.g. profile:NAME)'),
        sampleFiles: z.number().int().min(1).max(100_000).optional().describe('with profile: default 20'),
        samplePercent: z.number().gt(0).max(100).optional().describe('with profile: instead of sampleFiles'),
        ...runArgs,
      }),
      outputSchema: outputShape({
        ...runResultShape,
        jobId: z.string(),
        jobName: z.string(),
        profile: z.string(),
        drill: drillOut.describe('with profile: what was restored and verified'),
      }),
    },
    (args) =>
      guarded('drill_run', 'operate', args, async () => {
        const given = [args.job, args.profile, args.repository].filter((x) => x !== undefined).length;
        if (given !== 1)
          throw new UserError('drill_run: give one of job, profile, or repository with identityRef', {
            hint: 'job = a drill job; profile = a backup profile; repository + identityRef = a drill where the identity lives',
          });
        if (args.repository === undefined && (args.identityRef !== undefined || args.tag !== undefined))
          throw new UserError(
            `${args.identityRef !== undefined ? 'identityRef' : 'tag'}: goes with repository`,
            {
              hint: 'a profile or a drill job brings its own key',
            },
          );
        if (args.repository !== undefined && args.identityRef === undefined)
          throw new UserError(
            'identityRef: a drill of a repository needs the reference to its age identity',
            {
              hint: 'e.g. identityRef: "file:/root/identity.txt" (mode 0600), "vault:...", "cmd:..."',
            },
          );
        if (args.job !== undefined) {
          if (args.sampleFiles !== undefined || args.samplePercent !== undefined)
            throw new UserError('sampleFiles: set on the drill job itself; it applies with profile only', {
              hint: 'change the job with job_edit, or give profile instead of job',
            });
          const job = await requireKindJob(app, args.job, 'drill');
          const run = await startRun(job.id, args as RunArgs);
          const profile = job.payload.kind === 'drill' ? job.payload.profile : '';
          return { ...run, jobId: job.id, jobName: job.name, profile };
        }
        if (args.wait !== undefined || args.timeoutSeconds !== undefined || args.due !== undefined)
          throw new UserError('wait, timeoutSeconds and due apply to a drill job', {
            hint: 'a drill of a profile always runs now and returns its result',
          });
        if (args.sampleFiles !== undefined && args.samplePercent !== undefined)
          throw new UserError('sampleFiles: give a number of files or a percentage, not both');
        const sample = {
          ...(args.sampleFiles !== undefined ? { sampleFiles: args.sampleFiles } : {}),
          ...(args.samplePercent !== undefined ? { samplePercent: args.samplePercent } : {}),
        };
        const d = await drills();
        const drill =
          args.repository !== undefined
            ? await d.drillRepository(
                app,
                {
                  repository: args.repository,
                  identityRef: args.identityRef!,
                  ...(args.tag !== undefined ? { tag: args.tag } : {}),
                },
                sample,
              )
            : await d.drillProfile(app, args.profile!, sample);
        return {
          ok: d.drillPassed(drill),
          ...(drill.profile !== undefined ? { profile: drill.profile } : {}),
          drill: { ...drill },
        };
      }),
  );
}
