/**
 * Peer: BullMQ job schedulers (`upsertJobScheduler`) on the local Redis, with one Worker in this
 * process. Redis is a separate process, so its CPU and memory are reported beside ours.
 */
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import type { BenchSystem, ExternalUsage } from './system.ts';
import { idleCron } from './system.ts';

const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };

/** Reads `field:value` lines of Redis INFO. */
function infoField(info: string, field: string): number {
  const m = new RegExp(`^${field}:([0-9.]+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

/** The nominal time of a scheduler job: its id is `repeat:<schedulerId>:<millis>`. */
function slotOf(job: { id?: string | undefined; timestamp: number; delay: number }): number {
  const m = /:(\d{10,})$/.exec(job.id ?? '');
  return m ? Number(m[1]) : job.timestamp + job.delay;
}

export function bullmqSystem(): BenchSystem {
  const queueName = `nsbench-${randomBytes(4).toString('hex')}`;
  const queue = new Queue(queueName, { connection });
  let worker: Worker | undefined;

  async function upsertAll(n: number, spec: (i: number) => { pattern: string; tz?: string }): Promise<void> {
    // In batches: ioredis pipelines concurrent commands, and 10k at once would only queue up.
    for (let i = 0; i < n; i += 500) {
      const batch: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(n, i + 500); j++) {
        batch.push(
          queue.upsertJobScheduler(`job-${j}`, spec(j), {
            name: 'tick',
            data: {},
            opts: { removeOnComplete: true, removeOnFail: true },
          }),
        );
      }
      await Promise.all(batch);
    }
  }

  return {
    name: 'bullmq',
    async startFiring(n, { onFire }) {
      worker = new Worker(
        queueName,
        async (job) => {
          onFire(slotOf(job), Date.now());
        },
        { connection, concurrency: Math.max(1, Math.min(n, 1000)) },
      );
      await worker.waitUntilReady();
      await upsertAll(n, () => ({ pattern: '* * * * * *', tz: 'UTC' }));
    },
    async startIdle(n) {
      worker = new Worker(queueName, async () => {}, { connection, concurrency: 10 });
      await worker.waitUntilReady();
      const now = Date.now();
      await upsertAll(n, (i) => ({ pattern: idleCron(i, now), tz: 'UTC' }));
    },
    async stop() {
      await worker?.close(true);
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    },
    async external(): Promise<ExternalUsage> {
      // bullmq types the client as Redis | Cluster, whose `info` overloads do not unify.
      const client = (await queue.client) as unknown as { info(section: string): Promise<string> };
      const cpu = await client.info('cpu');
      const mem = await client.info('memory');
      return {
        cpuSeconds: infoField(cpu, 'used_cpu_user') + infoField(cpu, 'used_cpu_sys'),
        rssBytes: infoField(mem, 'used_memory_rss'),
      };
    },
  };
}
