/**
 * `check` with a sample of the data read back, also where the host holds only the writer key.
 */
import { check, samplePacks, type CheckReport } from '../backup/check.ts';
import { sha256Hex } from '../backup/crypto.ts';
import { packPath } from '../backup/pack.ts';
import type { Repo } from '../backup/repository.ts';

/**
 * `check` with a sample of the data read back. A repository opened with the writer key cannot
 * decrypt blobs, so there the sampled packs are verified against their content hash (any flipped
 * byte shows) on top of the structural check (authenticated pack headers vs the index).
 */
export async function verifyRepository(repo: Repo, subsetPercent: number): Promise<CheckReport> {
  if (repo.canRead) return check(repo, { readData: { subsetPercent } });
  const report = await check(repo, {});
  const packs = [...repo.index.packs.keys()];
  const chosen = samplePacks(packs, subsetPercent);
  report.readPercent = subsetPercent;
  for (const id of chosen) {
    const file = packPath(id);
    try {
      const bytes = await repo.store.read(file);
      report.counts.packsRead++;
      report.counts.bytesRead += bytes.length;
      if (sha256Hex(bytes) !== id)
        report.errors.push({ file, message: `pack ${file} is damaged: content does not match its name` });
    } catch (e) {
      report.errors.push({ file, message: `pack ${file} cannot be read: ${(e as Error).message}` });
    }
  }
  report.ok = report.errors.length === 0;
  return report;
}
