/** How paths are shown to the user (kept apart from job-files.ts, which loads YAML and zod). */
import { relative } from 'node:path';

/** A path as the user reads it: relative to the working directory when under it. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') ? rel : file;
}
