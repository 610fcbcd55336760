/**
 * Peer: pg-boss 10 on the same PostgreSQL server. Its cron schedules fire at most once a minute,
 * so the per-second load is what a pg-boss user would build: a producer inserts each second's n
 * jobs ahead of time with `startAfter` = the slot, and `workers` workers fetch them in batches
 * (polling every 0.5 s, pg-boss's minimum). Lateness is the handler's start minus the slot.
 */
import PgBoss from 'pg-boss';
import type { BenchSystem } from './system.ts';
import { benchDatabase } from './pg-database.ts';

const QUEUE = 'tick';

export function pgbossSystem(workers = 1): BenchSystem {
  let db: { url: string; drop(): Promise<void> } | undefined;
  let boss: PgBoss | undefined;
  let producer: NodeJS.Timeout | undefined;

  async function open(): Promise<PgBoss> {
    db = await benchDatabase();
    const b = new PgBoss({ connectionString: db.url, max: 8, supervise: true, schedule: false });
    b.on('error', () => undefined);
    await b.start();
    await b.createQueue(QUEUE);
    boss = b;
    return b;
  }

  return {
    name: workers === 1 ? 'pg-boss' : `pg-boss-${workers}w`,
    async startFiring(n, { onFire }) {
      const b = await open();
      let next = Math.ceil(Date.now() / 1000) * 1000 + 1000;
      // Two seconds of jobs ahead, topped up every 250 ms.
      const produce = async (): Promise<void> => {
        while (next < Date.now() + 2_000) {
          const slot = next;
          next += 1000;
          const startAfter = new Date(slot);
          await b.insert(
            Array.from({ length: n }, (_, i) => ({ name: QUEUE, data: { slot, i }, startAfter })),
          );
        }
      };
      await produce();
      producer = setInterval(() => void produce().catch(() => undefined), 250);
      for (let w = 0; w < workers; w++) {
        await b.work<{ slot: number }>(
          QUEUE,
          { batchSize: 1000, pollingIntervalSeconds: 0.5 },
          async (jobs) => {
            const now = Date.now();
            for (const j of jobs) onFire(j.data.slot, now);
          },
        );
      }
    },
    async startIdle() {
      await open();
    },
    async stop() {
      if (producer) clearInterval(producer);
      await boss?.stop({ graceful: false, wait: true }).catch(() => undefined);
      await db?.drop();
    },
  };
}
