/**
 * /healthz (the process answers), /readyz (the store answers, the scheduler runs, no run is stuck
 * in the queue) and /metrics. On loopback they answer without a token; `http.probesNeedToken`
 * (the default off loopback) makes them need a read token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '../../store/store.ts';
import type { Metrics } from './metrics.ts';
import type { Authorize } from './server.ts';

/** A queued run this far past its start time, with nothing of its job running, means a stuck scheduler. */
export const STUCK_AFTER_MS = 5 * 60_000;
const STORE_TIMEOUT_MS = 2_000;

export interface ProbeDeps {
  store: Store;
  metrics: Metrics;
  version: string;
  startedAtMs: number;
  now(): number;
  /** Whether the engine is started and not stopping. */
  schedulerRunning(): boolean;
  probesNeedToken: boolean;
}

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

async function storeCheck(store: Store): Promise<Check> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      store.changeToken(),
      new Promise(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error('no answer within 2 s')), STORE_TIMEOUT_MS)),
      ),
    ]);
    return { name: 'store', ok: true, detail: `answered in ${Date.now() - t0} ms` };
  } catch (err) {
    return { name: 'store', ok: false, detail: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

async function stuckCheck(store: Store, now: number): Promise<Check> {
  const unfinished = await store.unfinishedRuns();
  const running = new Set(unfinished.filter((r) => r.status === 'running').map((r) => r.jobId));
  const stuck = unfinished.filter(
    (r) =>
      r.status === 'queued' && !running.has(r.jobId) && (r.notBeforeMs ?? r.slotMs) < now - STUCK_AFTER_MS,
  );
  return stuck.length === 0
    ? { name: 'queue', ok: true, detail: `${unfinished.length} queued or running` }
    : {
        name: 'queue',
        ok: false,
        detail: `${stuck.length} queued run(s) waiting over ${STUCK_AFTER_MS / 60_000} min with nothing of their job running (e.g. ${stuck[0]!.runId})`,
      };
}

export function registerProbes(server: FastifyInstance, authorize: Authorize, deps: ProbeDeps): void {
  const guard = (req: FastifyRequest, res: FastifyReply): boolean =>
    !deps.probesNeedToken || authorize(req, res, 'read') !== undefined;

  server.get('/healthz', async (req, res) => {
    if (!guard(req, res)) return res;
    return {
      status: 'ok',
      version: deps.version,
      pid: process.pid,
      uptimeSeconds: Math.round((deps.now() - deps.startedAtMs) / 1000),
    };
  });

  server.get('/readyz', async (req, res) => {
    if (!guard(req, res)) return res;
    const store = await storeCheck(deps.store);
    const checks: Check[] = [
      store,
      {
        name: 'scheduler',
        ok: deps.schedulerRunning(),
        detail: deps.schedulerRunning() ? 'running' : 'stopped or stopping',
      },
    ];
    if (store.ok) checks.push(await stuckCheck(deps.store, deps.now()));
    const ready = checks.every((c) => c.ok);
    return res.code(ready ? 200 : 503).send({ ready, checks });
  });

  server.get('/metrics', async (req, res) => {
    if (!guard(req, res)) return res;
    const text = await deps.metrics.render();
    return res.header('content-type', deps.metrics.registry.contentType).send(text);
  });
}
