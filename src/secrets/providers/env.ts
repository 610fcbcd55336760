/** `env:NAME`: the value of an environment variable of the process that resolves it. */
import { EXIT } from '../../domain/errors.ts';
import { SecretError } from '../provider.ts';
import type { ResolveContext, SecretProvider } from '../provider.ts';
import type { SecretRef } from '../secret-ref.ts';

export const envProvider: SecretProvider = {
  scheme: 'env',
  async resolve(ref: SecretRef, ctx: ResolveContext): Promise<string> {
    if (ref.scheme !== 'env') throw new Error(`env provider got a ${ref.scheme}: reference`);
    const value = ctx.env[ref.name];
    if (value === undefined || value === '')
      throw new SecretError(
        ref.text,
        `environment variable ${ref.name} is ${value === undefined ? 'not set' : 'empty'}`,
        {
          hint: `set ${ref.name} in the environment of the process that runs the job (for scheduled jobs: the daemon's environment)`,
          exitCode: EXIT.notFound,
        },
      );
    return value;
  },
};
