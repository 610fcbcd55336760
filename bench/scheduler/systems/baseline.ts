/** The harness alone (Node + tsx, no scheduler): the floor every other row stands on. */
import type { BenchSystem } from './system.ts';

export function baselineSystem(): BenchSystem {
  let keepAlive: NodeJS.Timeout | undefined;
  return {
    name: 'baseline',
    async startFiring() {
      keepAlive = setInterval(() => {}, 60_000);
    },
    async startIdle() {
      keepAlive = setInterval(() => {}, 60_000);
    },
    async stop() {
      clearInterval(keepAlive);
    },
  };
}
