/**
 * A profile's snapshots and the check of its repository, for the MCP tools and the CLI.
 */
import { check, type CheckReport } from '../backup/check.ts';
import type { SnapshotMeta } from '../backup/ports.ts';
import { parseSubset } from '../domain/backup-profile.ts';
import type { BackupContext } from './context.ts';
import { getProfile, profileCanRead, profileTag, withProfileRepository } from './profile-repository.ts';
import { verifyRepository } from './verify.ts';

/** The profile's snapshots, oldest first (paths are hidden for a recipients repository). */
export async function listProfileSnapshots(ctx: BackupContext, name: string): Promise<SnapshotMeta[]> {
  const profile = await getProfile(ctx, name);
  const tag = profileTag(name);
  return withProfileRepository(ctx, profile, 'any', 'none', async (repo) =>
    (await repo.listSnapshots()).filter((s) => s.tags.includes(tag)),
  );
}

/** `check` of the profile's repository, optionally reading a subset of the data ("5%", "1/10"). */
export async function checkProfile(
  ctx: BackupContext,
  name: string,
  opts: { readDataSubset?: string } = {},
): Promise<CheckReport> {
  const profile = await getProfile(ctx, name);
  if (opts.readDataSubset === undefined)
    return withProfileRepository(ctx, profile, 'any', 'shared', (repo) => check(repo, {}));
  const pct = parseSubset(opts.readDataSubset, 'readDataSubset');
  return withProfileRepository(ctx, profile, profileCanRead(profile) ? 'read' : 'any', 'shared', (repo) =>
    verifyRepository(repo, pct),
  );
}
