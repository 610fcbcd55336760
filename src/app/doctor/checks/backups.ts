/**
 * Backups: per profile, does the repository open with the profile's key, how old is its newest
 * snapshot against the job that should make them, did the last restore drill pass and can drills
 * read at all, are there stale locks of dead processes, and is there room on a local repository's disk.
 */
import { peekRepository, repositoryStore } from '../../../backup/access.ts';
import type { RemoteAccess } from '../../../backup/backends/open-store.ts';
import { listLocks, unlock } from '../../../backup/lock.ts';
import { openProfileRepository, resolveRemote } from '../../../backup-jobs/profile-repository.ts';
import type { BackupProfile } from '../../../domain/backup-profile.ts';
import { formatDuration } from '../../../domain/duration.ts';
import { isRemoteLocation } from '../../../domain/repository-location.ts';
import type { Job } from '../../../domain/job.ts';
import { nextFireTime } from '../../../domain/schedule.ts';
import { nightshiftCommand } from '../check.ts';
import type { DoctorCheck, DoctorContext, Finding } from '../check.ts';
import { freeBytes, spaceVerdict } from './disk-space.ts';

const GiB = 1024 ** 3;
/** A snapshot or drill older than this many intervals of its job is overdue. */
const OVERDUE_INTERVALS = 2;

export const backupsCheck: DoctorCheck = {
  id: 'backups',
  title: 'backups',
  async run(ctx) {
    const jobs = await ctx.app.store.listJobs();
    let profiles = await ctx.app.store.profiles.list();
    const only =
      ctx.job && (ctx.job.payload.kind === 'backup' || ctx.job.payload.kind === 'drill')
        ? ctx.job.payload.profile
        : undefined;
    if (ctx.job) profiles = profiles.filter((p) => p.name === only);
    if (profiles.length === 0)
      return ctx.job ? [] : [{ check: 'backups', level: 'ok', message: 'no backup profiles' }];
    const out: Finding[] = [];
    for (const p of profiles) out.push(...(await profileFindings(ctx, p, jobs)));
    return out;
  },
};

function f(p: BackupProfile, level: Finding['level'], message: string, fix?: string): Finding {
  return {
    check: 'backups',
    level,
    message: `profile ${p.name}: ${message}`,
    ...(fix !== undefined && { fix }),
  };
}

/** The time between two fires of the job from now on, or undefined for a one-shot. */
function intervalOf(job: Job, now: number): number | undefined {
  const a = nextFireTime(job.schedule, now, job.createdAtMs);
  const b = a === undefined ? undefined : nextFireTime(job.schedule, a, job.createdAtMs);
  return a !== undefined && b !== undefined ? b - a : undefined;
}

async function profileFindings(ctx: DoctorContext, p: BackupProfile, jobs: Job[]): Promise<Finding[]> {
  const now = ctx.clock.now();
  const out: Finding[] = [];
  const forProfile = (kind: 'backup' | 'drill'): Job[] =>
    jobs.filter((j) => j.enabled && j.payload.kind === kind && j.payload.profile === p.name);
  const backupJobs = forProfile('backup');
  const drillJobs = forProfile('drill');

  let head;
  try {
    head = await peekRepository(p.repository, await resolveRemote(ctx.app, p));
  } catch (err) {
    out.push(
      f(
        p,
        'fail',
        (err as Error).message,
        'check the network, the location and the logins of the repository',
      ),
    );
    return out;
  }
  if (!head) {
    out.push(
      f(
        p,
        'fail',
        `no repository at ${p.repository}`,
        `${nightshiftCommand(ctx, `backup init --repo ${p.repository} ...`)}, or fix --repo with \`nightshift backup profile edit ${p.name} --repo DIR\``,
      ),
    );
    return out;
  }
  // Opening proves the key: the passphrase decrypts the key file, or the writer key is present.
  try {
    const repo = await openProfileRepository(ctx.app, p, 'any');
    try {
      const snapshots = await repo.listSnapshots();
      const newest = snapshots.map((s) => Date.parse(s.time)).sort((a, b) => b - a)[0];
      out.push(
        f(
          p,
          'ok',
          `repository ${p.repository} opens (${snapshots.length} snapshot${snapshots.length === 1 ? '' : 's'})`,
        ),
      );
      const interval = backupJobs.map((j) => intervalOf(j, now)).find((i) => i !== undefined);
      if (newest === undefined)
        out.push(
          f(
            p,
            'warn',
            'no snapshot yet',
            backupJobs[0]
              ? nightshiftCommand(ctx, `cron run ${backupJobs[0].name} --wait`)
              : nightshiftCommand(ctx, `backup run --profile ${p.name}`),
          ),
        );
      else if (interval !== undefined && now - newest > OVERDUE_INTERVALS * interval + 3_600_000)
        out.push(
          f(
            p,
            'fail',
            `the newest snapshot is ${formatDuration(now - newest)} old, but ${backupJobs[0]!.name} should make one every ${formatDuration(interval)}`,
            nightshiftCommand(ctx, `cron runs ${backupJobs[0]!.name}`) + ' shows why',
          ),
        );
      else out.push(f(p, 'ok', `newest snapshot ${formatDuration(Math.max(0, now - newest))} old`));
    } finally {
      await repo.close();
    }
  } catch (err) {
    const e = err as Error & { hint?: string };
    out.push(
      f(
        p,
        'fail',
        `repository ${p.repository} does not open: ${e.message}`,
        e.hint ?? 'see docs/backup-jobs.md',
      ),
    );
  }
  if (backupJobs.length === 0)
    out.push(
      f(
        p,
        'warn',
        'no enabled job backs it up',
        nightshiftCommand(ctx, `cron add --name ${p.name}-backup --cron "0 3 * * *" --backup ${p.name}`),
      ),
    );

  out.push(...drillFindings(ctx, p, drillJobs, now));
  out.push(...(await lockFindings(p, await resolveRemote(ctx.app, p))));
  const free = isRemoteLocation(p.repository) ? undefined : freeBytes(p.repository);
  if (free !== undefined) {
    const want = p.minFreeBytes ?? GiB;
    const v = spaceVerdict(free, want, Math.min(want, 100 * 1024 ** 2));
    out.push(
      f(
        p,
        v.level,
        `disk of ${p.repository}: ${v.text}`,
        v.level === 'ok'
          ? undefined
          : `free space, or ${nightshiftCommand(ctx, `backup prune --profile ${p.name}`)} after forgetting old snapshots`,
      ),
    );
  }
  return out;
}

function drillFindings(ctx: DoctorContext, p: BackupProfile, drills: Job[], now: number): Finding[] {
  if (drills.length === 0)
    return [
      f(
        p,
        'warn',
        'no restore drill proves its backups can be restored',
        nightshiftCommand(ctx, `cron add --name ${p.name}-drill --cron "0 5 * * 0" --drill ${p.name}`),
      ),
    ];
  const out: Finding[] = [];
  for (const d of drills) {
    if (p.key.kind === 'recipients' && p.key.identityRef === undefined) {
      out.push(
        f(
          p,
          'fail',
          `drill job ${d.name} cannot read the backups: the profile has no identity reference on this host`,
          `nightshift backup profile edit ${p.name} --identity-ref file:/path/identity.txt, or run the drill on the host that keeps the identity`,
        ),
      );
      continue;
    }
    const last = d.state.lastRunAtMs;
    const status = d.state.lastRunStatus;
    if (last === undefined)
      out.push(
        f(p, 'warn', `drill ${d.name} has not run yet`, nightshiftCommand(ctx, `cron run ${d.name} --wait`)),
      );
    else if (status !== 'ok')
      out.push(
        f(
          p,
          'fail',
          `the last drill (${d.name}, ${new Date(last).toISOString()}) ended ${status}${d.state.lastError ? `: ${d.state.lastError}` : ''}`,
          nightshiftCommand(ctx, `cron runs ${d.name}`),
        ),
      );
    else {
      const interval = intervalOf(d, now);
      const age = now - last;
      out.push(
        interval !== undefined && age > OVERDUE_INTERVALS * interval + 3_600_000
          ? f(
              p,
              'warn',
              `the last drill passed ${formatDuration(age)} ago, but ${d.name} should run every ${formatDuration(interval)}`,
              nightshiftCommand(ctx, `cron runs ${d.name}`),
            )
          : f(p, 'ok', `the last drill (${d.name}) passed ${formatDuration(Math.max(0, age))} ago`),
      );
    }
  }
  return out;
}

async function lockFindings(p: BackupProfile, remote: RemoteAccess): Promise<Finding[]> {
  const store = repositoryStore(p.repository, remote);
  let stale;
  try {
    stale = (await listLocks(store)).filter((l) => l.stale);
  } finally {
    // A remote store connects again for the repair, if it comes to that.
    await store.close?.();
  }
  if (stale.length === 0) return [];
  return [
    {
      ...f(
        p,
        'warn',
        `${stale.length} stale lock${stale.length === 1 ? '' : 's'} (${stale.map((l) => `pid ${l.pid} on ${l.hostname}: ${l.staleReason}`).join('; ')})`,
        `nightshift backup unlock --repo ${p.repository}`,
      ),
      repair: async () => {
        // unlock() lists the locks again and removes only those still stale: a lock taken since stays.
        const { removed } = await unlock(store);
        return `removed ${removed.length} stale lock${removed.length === 1 ? '' : 's'}`;
      },
    },
  ];
}
