/**
 * Every payload kind's executor. A new payload kind is added here and nowhere else in the app.
 */
import type { Executor } from '../payloads/executor.ts';
import { CommandExecutor } from '../payloads/command.ts';
import type { Clock } from '../domain/clock.ts';
import type { App } from './app.ts';

/** What executors beyond `command` need: the state, configuration and secrets, and a clock. */
export interface ExecutorDeps {
  app: App;
  clock: Clock;
  /** Default: the global fetch (tests point it nowhere else; servers are real local ones). */
  fetch?: typeof fetch;
}

export function createExecutors(_deps: ExecutorDeps): Executor[] {
  return [new CommandExecutor()];
}
