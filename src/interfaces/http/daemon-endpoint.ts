/**
 * The daemon's HTTP endpoint: started when the configuration has an `http` section or the daemon
 * is given `--http ADDR`. Resolves the client tokens (kept in memory only), wires the API routes,
 * probes, metrics and event stream to the daemon's engine, and records its address in
 * `<home>/http.json` so `nightshift status` can print the dashboard's URL.
 */
import type { DaemonServiceContext } from '../../app/daemon.ts';
import { removeDaemonAddress, writeDaemonAddress } from '../../app/daemon-address.ts';
import { DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT, isLoopbackHost } from '../../config/config.ts';
import type { HttpConfig } from '../../config/config.ts';
import { UserError } from '../../domain/errors.ts';
import { profileSnapshots } from '../../app/backups.ts';
import { resolveClientTokens, tokenTable } from '../bearer-tokens.ts';
import type { Scope } from '../../domain/scope.ts';
import type { ApiDeps } from './deps.ts';
import { registerEventStream } from './events.ts';
import { createMetrics } from './metrics.ts';
import { registerProbes } from './probes.ts';
import { apiRoutes } from './routes/index.ts';
import { startHttpServer } from './server.ts';
import type { HttpLogEvent } from './server.ts';

export type HttpEndpointLogEvent =
  | HttpLogEvent
  | { event: 'http.started'; url: string; dashboard: string; clients: Array<{ name: string; scope: Scope }> };

/** `127.0.0.1:7420`, `[::1]:7420`, `:7420` or `7420` (loopback), `0.0.0.0:7420`. */
export function parseHttpAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d+)$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new UserError(`--http: cannot read "${value}" as an address`, {
      hint: 'give HOST:PORT or PORT, e.g. --http 127.0.0.1:7420',
    });
  return { host: m[1] ?? (m[2] || DEFAULT_HTTP_HOST), port };
}

/** The HTTP settings from the configuration, with `--http ADDR` (if given) overriding the address. */
export function httpSettings(
  config: HttpConfig | undefined,
  flag: string | undefined,
): HttpConfig | undefined {
  if (!config && flag === undefined) return undefined;
  const base: HttpConfig = config ?? {
    host: DEFAULT_HTTP_HOST,
    port: DEFAULT_HTTP_PORT,
    allowRemote: false,
    probesNeedToken: false,
    clients: [],
  };
  if (flag === undefined) return base;
  const { host, port } = parseHttpAddress(flag);
  if (!isLoopbackHost(host) && !base.allowRemote)
    throw new UserError(`--http: ${host} is not a loopback address`, {
      hint: 'bind 127.0.0.1 and reach it through an SSH tunnel, or set "http": {"allowRemote": true} in config.json and put a TLS reverse proxy in front',
    });
  return {
    ...base,
    host,
    port,
    probesNeedToken: config?.probesNeedToken ?? !isLoopbackHost(host),
  };
}

export async function startHttpEndpoint(
  ctx: DaemonServiceContext,
  opts: { flag?: string; version: string; log: (event: HttpEndpointLogEvent) => void },
): Promise<{ url: string; port: number; close(): Promise<void> } | null> {
  const { app, engine, clock } = ctx;
  const settings = httpSettings(app.config().http, opts.flag);
  if (!settings) return null;
  const tokens = tokenTable(await resolveClientTokens(app, settings.clients, 'http'), 'http');
  const startedAtMs = clock.now();
  let schedulerRunning = true;
  const metrics = createMetrics({
    store: app.store,
    jobs: () => engine.jobs(),
    version: opts.version,
    startedAtMs,
    now: () => clock.now(),
    snapshotCount: async (profile) => (await profileSnapshots(app, profile)).length,
  });
  await metrics.seed();
  const unsubscribe = ctx.subscribe((e) => {
    if (e.event === 'engine.stopping' || e.event === 'engine.stopped') schedulerRunning = false;
    if (e.event === 'engine.started') schedulerRunning = true;
    metrics.observe(e);
  });
  const deps: ApiDeps = {
    app,
    clock,
    requestRun: (job, o) => engine.requestRun(job, o),
    jobsChanged: () => engine.refresh(),
    jobs: () => engine.jobs(),
    liveOutput: ctx.liveOutput,
  };
  let server;
  try {
    server = await startHttpServer({
      host: settings.host,
      port: settings.port,
      tokens,
      probesNeedToken: settings.probesNeedToken,
      routes: apiRoutes(deps, opts.version),
      version: opts.version,
      log: opts.log,
      extras: (fastify, authorize) => {
        registerProbes(fastify, authorize, {
          store: app.store,
          metrics,
          version: opts.version,
          startedAtMs,
          now: () => clock.now(),
          schedulerRunning: () => schedulerRunning,
          probesNeedToken: settings.probesNeedToken,
        });
        registerEventStream(fastify, authorize, ctx.subscribe);
      },
    });
  } catch (err) {
    unsubscribe();
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES')
      throw new UserError(`http: cannot listen on ${settings.host}:${settings.port} (${code})`, {
        hint: 'another process uses that port: pick another with --http HOST:PORT or "http": {"port": …}',
        code: 'config_invalid',
      });
    throw err;
  }
  writeDaemonAddress(app.home.dir, { url: server.url, pid: process.pid });
  opts.log({
    event: 'http.started',
    url: server.url,
    dashboard: `${server.url}/`,
    clients: settings.clients.map((c) => ({ name: c.name, scope: c.scope })),
  });
  return {
    url: server.url,
    port: server.port,
    close: async () => {
      unsubscribe();
      removeDaemonAddress(app.home.dir);
      await server.close();
    },
  };
}
