/**
 * `nightshift session …`: look into agent sessions. `list` shows every session with its pending
 * inbox; `show ID` prints the transcript (tool calls and results included); `inbox ID` the system
 * events waiting for the next heartbeat.
 */
import type { Command } from '@commander-js/extra-typings';
import type { ChatMessage } from '../../domain/chat.ts';
import { listSessions, sessionInbox, sessionTranscript } from '../../app/sessions.ts';
import { globalOptions, withApp } from './context.ts';
import { isoUtc, relative, renderTable } from './render.ts';
import { intFlag } from './flag-parsers.ts';
import { printJson, printLine } from './output.ts';
import { sessionView } from '../../app/views.ts';

/** One message as a line (or a few): role, then content; tool calls with their arguments. */
export function formatMessage(m: ChatMessage): string {
  switch (m.role) {
    case 'system':
      return `system: ${m.content}`;
    case 'user':
      return `user: ${m.content}`;
    case 'tool':
      return `tool result (${m.tool_call_id}): ${m.content}`;
    case 'assistant': {
      const lines: string[] = [];
      if (m.content) lines.push(`assistant: ${m.content}`);
      for (const c of m.tool_calls ?? [])
        lines.push(`assistant calls ${c.function.name} (${c.id}): ${c.function.arguments}`);
      return lines.length > 0 ? lines.join('\n') : 'assistant: (empty)';
    }
  }
}

export function registerSessionCommands(program: Command): void {
  const session = program
    .command('session')
    .description('agent sessions: transcripts and the inbox that system events fill and heartbeats empty');

  session
    .command('list')
    .description('list sessions: id, agent, kind, last activity, pending inbox items')
    .option('--agent <name>', 'only the sessions of this agent')
    .action(async (opts, cmd) => {
      const { json } = globalOptions(cmd);
      await withApp(cmd, async (app) => {
        const summaries = await listSessions(app, opts.agent !== undefined ? { agent: opts.agent } : {});
        if (json) {
          printJson({ sessions: summaries.map((s) => sessionView(s.session, s.pendingInbox)) });
          return;
        }
        if (summaries.length === 0) {
          printLine('no sessions yet: agent-turn, heartbeat and system-event jobs create them');
          return;
        }
        const now = Date.now();
        printLine(
          renderTable(
            ['ID', 'AGENT', 'KIND', 'LAST ACTIVITY', 'INBOX'],
            summaries.map(({ session: s, pendingInbox }) => [
              s.id,
              s.agent,
              s.kind,
              relative(s.updatedAtMs, now),
              String(pendingInbox),
            ]),
          ),
        );
      });
    });

  session
    .command('show')
    .description('print the transcript of a session, oldest first')
    .argument('<id>', 'session id (main:default, session:ops, isolated:<runId>; `main` = main:default)')
    .option('--limit <n>', 'only the last N messages')
    .action(async (id, opts, cmd) => {
      const { json } = globalOptions(cmd);
      const limit = opts.limit === undefined ? undefined : intFlag('--limit', opts.limit, { min: 1 });
      await withApp(cmd, async (app) => {
        const {
          session: s,
          messages,
          pendingInbox: pending,
        } = await sessionTranscript(app, id, limit !== undefined ? { limit } : {});
        if (json) {
          printJson({ session: sessionView(s, pending), messages });
          return;
        }
        printLine(`session ${s.id} (agent ${s.agent}, ${s.kind}), ${messages.length} message(s)`);
        for (const m of messages) printLine(formatMessage(m));
        if (pending > 0)
          printLine(`${pending} inbox item(s) wait for the next heartbeat (\`session inbox ${s.id}\`)`);
      });
    });

  session
    .command('inbox')
    .description('list the system events waiting in a session for the next heartbeat')
    .argument('<id>', 'session id (`main` = main:default)')
    .action(async (id, _opts, cmd) => {
      const { json } = globalOptions(cmd);
      await withApp(cmd, async (app) => {
        const { session: s, items } = await sessionInbox(app, id);
        if (json) {
          printJson({
            session: s.id,
            items: items.map((it) => ({
              seq: it.seq,
              text: it.text,
              createdAt: isoUtc(it.createdAtMs),
              jobId: it.jobId ?? null,
              runId: it.runId ?? null,
            })),
          });
          return;
        }
        if (items.length === 0) {
          printLine(`the inbox of ${s.id} is empty`);
          return;
        }
        printLine(
          renderTable(
            ['SEQ', 'ARRIVED', 'TEXT'],
            items.map((it) => [
              String(it.seq),
              isoUtc(it.createdAtMs),
              it.text.replace(/\s+/g, ' ').slice(0, 200),
            ]),
          ),
        );
      });
    });
}
