/**
 * A backup profile's repository, opened with the profile's key. Keys come from secret references
 * resolved here, at the moment they are needed, and are never stored or put into any message.
 */
import { parseIdentities } from '../backup/keys.ts';
import {
  openRepositoryFor,
  withRepository,
  type Access,
  type LockMode,
  type RepositoryKeys,
  type RepositoryUse,
} from '../backup/access.ts';
import type { RemoteAccess } from '../backup/backends/open-store.ts';
import type { Repo } from '../backup/repository.ts';
import type { BackupProfile } from '../domain/backup-profile.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import type { BackupContext } from './context.ts';

/** Every snapshot a profile writes carries this tag, so retention never touches another profile's snapshots. */
export function profileTag(name: string): string {
  return `profile:${name}`;
}

/** The profile of that name, or a UserError listing the ones there are. */
export async function getProfile(ctx: Pick<BackupContext, 'store'>, name: string): Promise<BackupProfile> {
  const p = await ctx.store.profiles.get(name);
  if (p) return p;
  const names = (await ctx.store.profiles.list()).map((x) => x.name);
  throw new UserError(`no backup profile named "${name}"`, {
    hint:
      names.length > 0
        ? `profiles: ${names.join(', ')}`
        : 'create one with `nightshift backup profile add NAME --repo PATH ...` or `nightshift backup quickstart`',
    exitCode: EXIT.notFound,
    code: 'not_found',
  });
}

/** Whether this host can decrypt the profile's backups (a passphrase, or an identity reference). */
export function profileCanRead(profile: BackupProfile): boolean {
  return profile.key.kind === 'passphrase' || profile.key.identityRef !== undefined;
}

/** The profile's remote logins, resolved now (absent ones fall back to the environment). */
export async function resolveRemote(
  ctx: Pick<BackupContext, 'secrets'>,
  profile: BackupProfile,
): Promise<RemoteAccess> {
  const r = profile.remote;
  const out: RemoteAccess = {};
  if (profile.limitUploadBytesPerSec !== undefined)
    out.limitUploadBytesPerSec = profile.limitUploadBytesPerSec;
  if (!r) return out;
  if (r.s3AccessKeyRef !== undefined && r.s3SecretKeyRef !== undefined)
    out.s3 = {
      accessKeyId: (await ctx.secrets().resolve(r.s3AccessKeyRef)).reveal().trim(),
      secretAccessKey: (await ctx.secrets().resolve(r.s3SecretKeyRef)).reveal().trim(),
    };
  if (r.sshKeyRef !== undefined) out.sshKey = (await ctx.secrets().resolve(r.sshKeyRef)).reveal();
  if (r.knownHostsFile !== undefined) out.knownHostsFile = r.knownHostsFile;
  return out;
}

/** The keys a profile's references resolve to, for the access asked for. */
export async function resolveKeys(
  ctx: BackupContext,
  profile: BackupProfile,
  access: Access,
): Promise<RepositoryKeys> {
  const k = profile.key;
  if (k.kind === 'passphrase') return { password: (await ctx.secrets().resolve(k.ref)).reveal() };
  const keys: RepositoryKeys = {};
  if (k.writerKeyFile !== undefined) keys.writerKeyFile = k.writerKeyFile;
  if (access === 'read') {
    if (k.identityRef === undefined)
      throw new UserError(
        `profile ${profile.name} writes a recipients repository and has no identity reference, so this host cannot read its backups`,
        {
          hint: `give the age identity by reference: nightshift backup profile edit ${profile.name} --identity-ref file:/path/identity.txt (or vault:..., cmd:...)`,
          exitCode: EXIT.auth,
          code: 'auth',
        },
      );
    const secret = await ctx.secrets().resolve(k.identityRef);
    keys.identities = parseIdentities(secret.reveal(), k.identityRef);
  }
  return keys;
}

/**
 * Every key the profile's references give this host: the passphrase, or the writer key plus the
 * identity when the profile names one. For commands that name a repository by profile and open it
 * with whatever access they need.
 */
export async function profileKeys(ctx: BackupContext, profile: BackupProfile): Promise<RepositoryKeys> {
  return resolveKeys(ctx, profile, profileCanRead(profile) ? 'read' : 'write');
}

/** The profile's repository with these keys; a --nice profile's blob work runs at low priority. */
function profileRepositoryUse(
  ctx: BackupContext,
  profile: BackupProfile,
  keys: RepositoryKeys,
  access: Access,
): Omit<RepositoryUse, 'lock'> {
  const use: Omit<RepositoryUse, 'lock'> = {
    location: profile.repository,
    keys,
    access,
    homeDir: ctx.home.dir,
  };
  if (profile.lowPriority === true) use.lowPriority = true;
  return use;
}

/** Opens the profile's repository with its key (resolved now), without a lock; the caller closes it. */
export async function openProfileRepository(
  ctx: BackupContext,
  profile: BackupProfile,
  access: Access,
): Promise<Repo> {
  const keys = await resolveKeys(ctx, profile, access);
  const remote = await resolveRemote(ctx, profile);
  return openRepositoryFor({ ...profileRepositoryUse(ctx, profile, keys, access), remote });
}

/** Opens the profile's repository under the lock, runs `fn`, then closes and unlocks (see access.ts). */
export async function withProfileRepository<T>(
  ctx: BackupContext,
  profile: BackupProfile,
  access: Access,
  lock: LockMode,
  fn: (repo: Repo) => Promise<T>,
): Promise<T> {
  // Keys first: a broken reference must not leave a lock behind or touch the repository.
  const keys = await resolveKeys(ctx, profile, access);
  const remote = await resolveRemote(ctx, profile);
  return withRepository({ ...profileRepositoryUse(ctx, profile, keys, access), lock, remote }, fn);
}
