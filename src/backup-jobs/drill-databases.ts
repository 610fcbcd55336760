/**
 * The database part of a restore drill: each PostgreSQL or MariaDB dump of the snapshot is
 * restored into a scratch database (a fresh name, created and dropped by the drill, never the
 * live database) and the profile's check query must return rows there.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Repository, SnapshotMeta } from '../backup/ports.ts';
import type { BackupProfile } from '../domain/backup-profile.ts';
import type { DrillDatabaseResult } from '../domain/job.ts';
import { mysqlTarget } from './mysql-target.ts';
import { dropPgDatabase, restoreSource, storedSources } from './restore-source.ts';

function run(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, ...args] = argv;
  return new Promise((resolve) => {
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (e) => resolve({ code: null, stdout, stderr: e.message }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The scratch database next to the live one: same server (URL), another name. */
function scratchFor(target: string, name: string): string {
  const m = /^(postgres(?:ql)?:\/\/[^/]*)\/[^?]+(\?.*)?$/.exec(target);
  return m ? `${m[1]}/${name}${m[2] ?? ''}` : name;
}

export async function drillDatabases(
  repo: Repository,
  snapshot: SnapshotMeta,
  profile: BackupProfile,
  signal?: AbortSignal,
): Promise<DrillDatabaseResult[]> {
  const query = profile.drillQuery!;
  const out: DrillDatabaseResult[] = [];
  const stored = storedSources(snapshot).filter((s) => s.kind === 'postgres' || s.kind === 'mysql');
  for (const s of stored) {
    if (signal?.aborted) break;
    const spec = (profile.sources ?? []).find((x) => x.name === s.name && x.kind === s.kind);
    const scratchName = `nightshift_drill_${randomBytes(5).toString('hex')}`;
    const my = mysqlTarget(spec?.target ?? '');
    const scratch =
      s.kind === 'postgres' ? scratchFor(spec?.target ?? '', scratchName) : my.withDb(scratchName);
    const r: DrillDatabaseResult = { source: s.name, kind: s.kind, scratch: scratchName, ok: false, query };
    try {
      await restoreSource(repo, snapshot, s.name, { into: scratch });
      const q =
        s.kind === 'postgres'
          ? await run(['psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', scratch, '-c', query])
          : await run(['mariadb', ...my.connection, '-N', '-B', '-e', query, scratchName]);
      if (q.code !== 0)
        r.problem = `the check query failed: ${q.stderr.trim().split('\n').slice(-3).join(' / ')}`;
      else {
        r.rows = q.stdout.split('\n').filter((l) => l.trim() !== '').length;
        r.ok = r.rows > 0;
        if (!r.ok) r.problem = 'the check query returned no rows';
      }
    } catch (err) {
      r.problem = `restore into the scratch database failed: ${(err as Error).message}`;
    } finally {
      if (s.kind === 'postgres') await dropPgDatabase(scratch);
      else await run(['mariadb', ...my.connection, '-e', `DROP DATABASE IF EXISTS \`${scratchName}\``]);
    }
    out.push(r);
  }
  return out;
}
