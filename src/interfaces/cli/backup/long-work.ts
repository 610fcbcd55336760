/**
 * Long work on a terminal (`run`, `restore`): a progress bar, warnings on stderr (or collected for
 * --json), and Ctrl-C or SIGTERM turned into a clean stop.
 */
import { EXIT, UserError } from '../../../domain/errors.ts';
import { createProgress } from '../progress.ts';

/** Progress and warnings of `run` and `restore`: a bar on a terminal, warnings on stderr (or in --json). */
export function reporting<W extends { path: string; message: string }>(json: boolean) {
  const progress = createProgress({ enabled: !json });
  const warnings: W[] = [];
  return {
    progress,
    warnings,
    // Only a drawn bar needs progress: asking for it makes a backup count the tree first.
    onProgress: progress.visible
      ? (p: {
          files: number;
          bytesDone: number;
          totalFiles?: number;
          totalBytes?: number;
          current?: string;
        }) =>
          progress.update({
            files: p.files,
            bytes: p.bytesDone,
            totalFiles: p.totalFiles,
            totalBytes: p.totalBytes,
            current: p.current,
          })
      : undefined,
    onWarning: (w: W) => {
      warnings.push(w);
      progress.done();
      if (!json) process.stderr.write(`warning: ${w.path}: ${w.message}\n`);
    },
  };
}

/**
 * Runs long work that Ctrl-C or SIGTERM stops cleanly: the signal aborts it, and the abort becomes
 * a user-facing error (exit 1) saying what state was left behind.
 */
export async function interruptible<T>(
  run: (signal: AbortSignal) => Promise<T>,
  message: string,
  hint: string,
): Promise<T> {
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run(abort.signal);
  } catch (err) {
    if (abort.signal.aborted)
      throw new UserError(message, { hint, exitCode: EXIT.failed, code: 'interrupted' });
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
