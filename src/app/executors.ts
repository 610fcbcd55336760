/**
 * Every payload kind's executor, handed to each engine by engine.ts. A new payload kind's executor
 * is registered here; its type, validation and contract wording live in domain/ (see
 * docs/architecture.md for the whole list).
 */
import type { Executor } from '../payloads/executor.ts';
import { CommandExecutor } from '../payloads/command.ts';
import type { Clock } from '../domain/clock.ts';
import type { App } from './app.ts';
import { createAgentExecutors } from '../agent/executors.ts';
import { createBackupExecutors } from '../backup-jobs/executors.ts';
import type { WakeHeartbeat } from '../sessions/system-event.ts';

/** What executors beyond `command` need: the state, configuration and secrets, and a clock. */
export interface ExecutorDeps {
  app: App;
  clock: Clock;
  /** Default: the global fetch (tests point it nowhere else; servers are real local ones). */
  fetch?: typeof fetch;
  /** Runs an agent's heartbeat now (system events with `--wake now`). */
  wakeHeartbeat?: WakeHeartbeat;
}

export function createExecutors(deps: ExecutorDeps): Executor[] {
  return [
    new CommandExecutor(),
    ...createBackupExecutors({ app: deps.app, clock: deps.clock }),
    ...createAgentExecutors({
      app: deps.app,
      clock: deps.clock,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      ...(deps.wakeHeartbeat ? { wakeHeartbeat: deps.wakeHeartbeat } : {}),
    }),
  ];
}
