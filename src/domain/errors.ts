/**
 * Errors a user sees. Each names what is wrong and how to fix it; the CLI prints `message` and
 * `hint` and exits with `exitCode`.
 */
export const EXIT = {
  ok: 0,
  /** The requested work ran and failed, or a check found a problem (`run --wait`, `check`). */
  failed: 1,
  /** Bad usage or invalid input: flags, expressions, files. */
  usage: 2,
  /** The named job, run or snapshot does not exist. */
  notFound: 3,
  /** Locked or busy: another daemon, a repository lock. */
  conflict: 4,
  /** Wrong key or password. */
  auth: 5,
  /** What was to be created exists already (`backup init` on a repository). */
  exists: 6,
  /** Unexpected internal failure. */
  internal: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class UserError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  readonly code: string;

  constructor(message: string, opts: { hint?: string; exitCode?: ExitCode; code?: string } = {}) {
    super(message);
    this.name = 'UserError';
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? EXIT.usage;
    this.code = opts.code ?? 'invalid';
  }
}
