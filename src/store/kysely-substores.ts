/**
 * The smaller parts of both stores (SQLite and PostgreSQL): backup profiles, agent sessions and
 * per-job alert state. Each is a thin mapping of its port (store.ts) onto one or two tables that
 * have the same shape in both databases; they share the store's kysely instance and so its
 * connection and transactions. The only dialect difference they meet, how a unique violation
 * looks, comes in as a function.
 */
import type { Kysely } from 'kysely';
import type { BackupProfile } from '../domain/backup-profile.ts';
import type { InboxItem, Session, SessionKind } from '../domain/session.ts';
import type { AlertState } from '../domain/alert-state.ts';
import type { ChatMessage } from '../domain/chat.ts';
import { StoreConflictError } from './store.ts';
import type { AlertStateStore, ProfileStore, SessionStore } from './store.ts';
import type { Schema } from './sqlite-schema.ts';

/** The tables these stores use (the same columns in both databases). */
export type SubstoreSchema = Pick<
  Schema,
  'backup_profiles' | 'sessions' | 'session_messages' | 'inbox' | 'alert_state'
>;

/** Whether a driver error is a primary-key or unique violation. */
export type UniqueViolationTest = (err: unknown) => boolean;

export class KyselyProfileStore implements ProfileStore {
  constructor(
    private readonly k: Kysely<SubstoreSchema>,
    private readonly isUniqueViolation: UniqueViolationTest,
  ) {}

  async list(): Promise<BackupProfile[]> {
    const rows = await this.k.selectFrom('backup_profiles').select('data').orderBy('name').execute();
    return rows.map((r) => JSON.parse(r.data) as BackupProfile);
  }

  async get(name: string): Promise<BackupProfile | undefined> {
    const row = await this.k
      .selectFrom('backup_profiles')
      .select('data')
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? (JSON.parse(row.data) as BackupProfile) : undefined;
  }

  async insert(p: BackupProfile): Promise<void> {
    try {
      await this.k
        .insertInto('backup_profiles')
        .values({
          name: p.name,
          data: JSON.stringify(p),
          created_at_ms: p.createdAtMs,
          updated_at_ms: p.updatedAtMs,
        })
        .execute();
    } catch (err) {
      if (this.isUniqueViolation(err))
        throw new StoreConflictError(`a backup profile named "${p.name}" exists`);
      throw err;
    }
  }

  async update(p: BackupProfile): Promise<boolean> {
    const r = await this.k
      .updateTable('backup_profiles')
      .set({ data: JSON.stringify(p), updated_at_ms: p.updatedAtMs })
      .where('name', '=', p.name)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async remove(name: string): Promise<boolean> {
    const r = await this.k.deleteFrom('backup_profiles').where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

export class KyselySessionStore implements SessionStore {
  constructor(private readonly k: Kysely<SubstoreSchema>) {}

  async ensure(s: Omit<Session, 'createdAtMs' | 'updatedAtMs'>, nowMs: number): Promise<Session> {
    await this.k
      .insertInto('sessions')
      .values({ id: s.id, agent: s.agent, kind: s.kind, created_at_ms: nowMs, updated_at_ms: nowMs })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return (await this.get(s.id)) as Session;
  }

  async get(id: string): Promise<Session | undefined> {
    const row = await this.k.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toSession(row) : undefined;
  }

  async list(agent?: string): Promise<Session[]> {
    let q = this.k.selectFrom('sessions').selectAll();
    if (agent !== undefined) q = q.where('agent', '=', agent);
    const rows = await q.orderBy('updated_at_ms', 'desc').execute();
    return rows.map(toSession);
  }

  async append(
    sessionId: string,
    messages: ChatMessage[],
    runId: string | undefined,
    atMs: number,
  ): Promise<void> {
    if (messages.length === 0) return;
    await this.k.transaction().execute(async (tx) => {
      await tx
        .insertInto('session_messages')
        .values(
          messages.map((m) => ({
            session_id: sessionId,
            message: JSON.stringify(m),
            run_id: runId ?? null,
            at_ms: atMs,
          })),
        )
        .execute();
      await tx.updateTable('sessions').set({ updated_at_ms: atMs }).where('id', '=', sessionId).execute();
    });
  }

  async transcript(sessionId: string, limit?: number): Promise<ChatMessage[]> {
    let q = this.k
      .selectFrom('session_messages')
      .select('message')
      .where('session_id', '=', sessionId)
      .orderBy('seq', 'desc');
    if (limit !== undefined) q = q.limit(limit);
    const rows = await q.execute();
    return rows.reverse().map((r) => JSON.parse(r.message) as ChatMessage);
  }

  async pushInbox(item: Omit<InboxItem, 'seq' | 'consumedAtMs' | 'consumedByRun'>): Promise<number> {
    const r = await this.k
      .insertInto('inbox')
      .values({
        session_id: item.sessionId,
        text: item.text,
        job_id: item.jobId ?? null,
        run_id: item.runId ?? null,
        created_at_ms: item.createdAtMs,
        consumed_at_ms: null,
        consumed_by_run: null,
      })
      .returning('seq')
      .executeTakeFirstOrThrow();
    return Number(r.seq);
  }

  async pendingInbox(sessionId: string): Promise<InboxItem[]> {
    const rows = await this.k
      .selectFrom('inbox')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('consumed_at_ms', 'is', null)
      .orderBy('seq')
      .execute();
    return rows.map((r) => {
      const item: InboxItem = {
        seq: r.seq,
        sessionId: r.session_id,
        text: r.text,
        createdAtMs: r.created_at_ms,
      };
      if (r.job_id !== null) item.jobId = r.job_id;
      if (r.run_id !== null) item.runId = r.run_id;
      return item;
    });
  }

  async consumeInbox(seqs: number[], runId: string, atMs: number): Promise<number> {
    if (seqs.length === 0) return 0;
    const r = await this.k
      .updateTable('inbox')
      .set({ consumed_at_ms: atMs, consumed_by_run: runId })
      .where('seq', 'in', seqs)
      .where('consumed_at_ms', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }
}

function toSession(row: {
  id: string;
  agent: string;
  kind: string;
  created_at_ms: number;
  updated_at_ms: number;
}): Session {
  return {
    id: row.id,
    agent: row.agent,
    kind: row.kind as SessionKind,
    createdAtMs: row.created_at_ms,
    updatedAtMs: row.updated_at_ms,
  };
}

export class KyselyAlertStateStore implements AlertStateStore {
  constructor(private readonly k: Kysely<SubstoreSchema>) {}

  async get(jobId: string): Promise<AlertState | undefined> {
    const row = await this.k
      .selectFrom('alert_state')
      .select('data')
      .where('job_id', '=', jobId)
      .executeTakeFirst();
    return row ? (JSON.parse(row.data) as AlertState) : undefined;
  }

  async put(jobId: string, state: AlertState): Promise<void> {
    const data = JSON.stringify(state);
    await this.k
      .insertInto('alert_state')
      .values({ job_id: jobId, data })
      .onConflict((oc) => oc.column('job_id').doUpdateSet({ data }))
      .execute();
  }
}
