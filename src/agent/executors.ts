/**
 * The executors of the agent payload kinds (agentTurn, heartbeat, systemEvent), sharing one
 * runtime so the preflight cache spans them. The app's executor list adds these.
 */
import type { App } from '../config/app-context.ts';
import type { Clock } from '../domain/clock.ts';
import type { Executor } from '../payloads/executor.ts';
import { SystemEventExecutor } from '../sessions/system-event.ts';
import type { WakeHeartbeat } from '../sessions/system-event.ts';
import { AgentTurnExecutor } from './agent-turn-executor.ts';
import { HeartbeatExecutor } from './heartbeat-executor.ts';
import { AgentRuntime } from './runtime.ts';
import type { AgentRuntimeDeps } from './runtime.ts';

export interface AgentExecutorDeps extends Omit<AgentRuntimeDeps, 'app' | 'clock'> {
  app: App;
  clock: Clock;
  /** How `wake: now` system events start the heartbeat (see heartbeatWaker). */
  wakeHeartbeat?: WakeHeartbeat;
}

export function createAgentExecutors(deps: AgentExecutorDeps): Executor[] {
  const runtime = new AgentRuntime(deps);
  const system = new SystemEventExecutor({
    sessions: deps.app.store.sessions,
    ...(deps.wakeHeartbeat ? { wakeHeartbeat: deps.wakeHeartbeat } : {}),
  });
  return [new AgentTurnExecutor(runtime), new HeartbeatExecutor(runtime), system] as Executor[];
}
