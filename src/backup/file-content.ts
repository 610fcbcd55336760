/** A file's content read back from a snapshot as a stream of chunks, each verified by the repository. */
import { UserError } from '../domain/errors.ts';
import { findNode } from './browse.ts';
import type { Repository, SnapshotMeta } from './ports.ts';

export async function* fileContent(
  repo: Repository,
  snapshot: SnapshotMeta,
  path: string,
): AsyncGenerator<Uint8Array> {
  const node = await findNode(repo, snapshot, path);
  if (node.type !== 'file')
    throw new UserError(`${path} in snapshot ${snapshot.id.slice(0, 8)} is a ${node.type}, not a file`, {
      hint: 'give the path of a file (see `nightshift backup ls`)',
    });
  for (const id of node.content ?? []) yield await repo.loadBlob(id);
}
