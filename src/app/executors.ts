/**
 * Every payload kind's executor. A new payload kind is added here and nowhere else in the app.
 */
import type { Executor } from '../payloads/executor.ts';
import { CommandExecutor } from '../payloads/command.ts';

export function createExecutors(): Executor[] {
  return [new CommandExecutor()];
}
