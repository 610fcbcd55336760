/** Peer: plain croner timers in one process (one Cron per job, no persistence). */
import { Cron } from 'croner';
import type { BenchSystem } from './system.ts';
import { idleCron } from './system.ts';

export function cronerSystem(): BenchSystem {
  const jobs: Cron[] = [];
  return {
    name: 'croner',
    async startFiring(n, { onFire }) {
      for (let i = 0; i < n; i++) {
        jobs.push(
          new Cron('* * * * * *', { timezone: 'UTC' }, () => {
            const now = Date.now();
            // croner does not pass the nominal time; the nearest whole second is the slot.
            onFire(Math.round(now / 1000) * 1000, now);
          }),
        );
      }
    },
    async startIdle(n) {
      const now = Date.now();
      for (let i = 0; i < n; i++) jobs.push(new Cron(idleCron(i, now), { timezone: 'UTC' }, () => {}));
    },
    async stop() {
      for (const j of jobs) j.stop();
    },
  };
}
