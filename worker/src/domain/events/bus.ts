import type { Db } from '../../db/db.js';
import type { SqlArgs, Statement } from '../../db/types.js';
import type { Runtime } from '../../runtime.js';
import { SqlTexts } from '../../db/sql-texts.js';

/** An event as the server hands it to subscribers (SSE, webhooks, plugin hooks). */
export interface MyceliumEvent {
  id: number | null;
  type: string;
  agent: string;
  project_id: string | null;
  summary: string;
  data: unknown;
  /** ISO-8601 with Z (spec 04 §7.1). */
  created_at: string;
}

export interface EventInput {
  type: string;
  agent?: string;
  projectId?: string | null;
  summary?: string;
  data?: unknown;
}

/** A subscriber; a promise it returns is background work of the emitting request (`waitUntil`). */
export type EventSubscriber = (event: MyceliumEvent) => unknown;

/** Liveness pings are not history (spec 07 REL-09). */
const NOT_PERSISTED = new Set(['agent_heartbeat']);

/**
 * Returned with every event row: whether any webhook was active when the row was written, read in
 * the same transaction as the outbox trigger of migration 0022 (which only queues deliveries for
 * active webhooks). 0 means the row queued nothing, so no outbox drain need follow it (issue 11:
 * most installations have no webhook, and each drain was a read per event). Exact on both runtimes
 * and across processes and isolates, with no cache to invalidate.
 */
const HOOKED = 'EXISTS (SELECT 1 FROM webhooks WHERE active = 1) AS webhooks_active';

/** The columns the bus reads back from a row it wrote (`publishWritten`, `publishReturned`). */
export type WrittenEventRow = Record<string, unknown>;

/**
 * The one emit path (spec 04 §7.1): persist, then notify subscribers after the write commits.
 * Subscribers run in the background through `waitUntil` and their failures are logged, never
 * thrown back into the request that emitted (spec 07 REL-12, REL-20).
 */
export class EventBus {
  private readonly subscribers: EventSubscriber[] = [];
  /** Published events whose row was written while no webhook was active (see HOOKED). */
  private readonly unhooked = new WeakSet<MyceliumEvent>();
  /** `statementForRows` INSERT texts by their FROM/WHERE (a handful of call sites). */
  private readonly forRowsSql = new SqlTexts(100);

  constructor(
    private readonly db: Db,
    private readonly runtime: Pick<Runtime, 'waitUntil' | 'log' | 'clock'>,
  ) {}

  subscribe(fn: EventSubscriber): () => void {
    this.subscribers.push(fn);
    return () => {
      const i = this.subscribers.indexOf(fn);
      if (i >= 0) this.subscribers.splice(i, 1);
    };
  }

  /** The INSERT for an event, to put in the same batch as the state change it records. */
  statement(e: EventInput): Statement {
    return {
      sql: `INSERT INTO events (type, agent, project_id, summary, data) VALUES (?, ?, ?, ?, ?) RETURNING id, ${HOOKED}`,
      args: [e.type, e.agent ?? '', e.projectId ?? null, e.summary ?? '', JSON.stringify(e.data ?? {})],
      single: true,
    };
  }

  /**
   * The INSERT for an event whose `data[key]` is the id of the row the same batch inserted last
   * (`last_insert_rowid()`; UPDATEs in between do not change it), e.g. a new task's id, so a
   * create and its event commit together. Put a placeholder under `key` to keep the key order.
   * With `summaryAround`, the summary is `before + id + after` (for summaries that name the new id).
   */
  statementWithNewId(e: EventInput, key: string, summaryAround?: [string, string]): Statement {
    const summary = summaryAround ? '? || last_insert_rowid() || ?' : '?';
    return {
      sql: `INSERT INTO events (type, agent, project_id, summary, data) VALUES (?, ?, ?, ${summary}, json_set(?, '$.' || ?, last_insert_rowid())) RETURNING id, summary, data, ${HOOKED}`,
      args: [
        e.type,
        e.agent ?? '',
        e.projectId ?? null,
        ...(summaryAround ?? [e.summary ?? '']),
        JSON.stringify(e.data ?? {}),
        key,
      ],
      single: true,
    };
  }

  /**
   * The INSERT for an event that is written only if the statement just before it in the batch
   * changed a row (`changes()`), e.g. `plan_completed` after a conditional completion. Its result
   * has a row (the id) exactly when the event was written.
   */
  statementIfChanged(e: EventInput): Statement {
    return {
      sql: `INSERT INTO events (type, agent, project_id, summary, data) SELECT ?, ?, ?, ?, ? WHERE changes() > 0 RETURNING id, summary, data, ${HOOKED}`,
      args: [e.type, e.agent ?? '', e.projectId ?? null, e.summary ?? '', JSON.stringify(e.data ?? {})],
      single: true,
    };
  }

  /**
   * An INSERT writing one event per row a SELECT finds at that point of the batch (e.g. each
   * dependent a completion unblocks), so derived events commit with the change that causes them.
   * `summarySql` and `dataSql` are SQL expressions over `rest` (the SELECT's FROM/WHERE, may be
   * empty); `args` fill their placeholders in text order. Publish the result with `publishReturned`.
   * `single`: `rest` finds one row at most (by a key).
   */
  statementPerRow(
    e: Pick<EventInput, 'type' | 'agent' | 'projectId'>,
    q: { summarySql: string; dataSql: string; rest: string; args: SqlArgs; projectSql?: string; single?: boolean },
  ): Statement {
    // `projectSql` (no placeholders): the project read from the row instead of `e.projectId`.
    const project = q.projectSql ?? '?';
    return {
      sql: `INSERT INTO events (type, agent, project_id, summary, data) SELECT ?, ?, ${project}, ${q.summarySql}, ${q.dataSql} ${q.rest} RETURNING id, summary, data, project_id, ${HOOKED}`,
      args: [e.type, e.agent ?? '', ...(q.projectSql ? [] : [e.projectId ?? null]), ...q.args],
      single: q.single,
    };
  }

  /**
   * As `statementPerRow`, for an event whose summary and data the caller already knows (only the
   * rows found, and with `projectSql` their project, come from SQL): the row returns only its id,
   * project and the webhook flag, so nothing written is read back and parsed again (issue 11: the
   * claim's event). The INSERT text is kept per `rest`, so a caller that reuses its SQL strings
   * hands the driver the same text each time. `single`: `rest` finds one row at most (by a key).
   */
  statementForRows(
    e: Pick<EventInput, 'type' | 'agent' | 'projectId' | 'summary' | 'data'>,
    q: { rest: string; args: SqlArgs; projectSql?: string; single?: boolean },
  ): Statement {
    const project = q.projectSql ?? '?';
    const sql = this.forRowsSql.get(
      `${project}\n${q.rest}`,
      () =>
        `INSERT INTO events (type, agent, project_id, summary, data) SELECT ?, ?, ${project}, ?, ? ${q.rest} RETURNING id, project_id, ${HOOKED}`,
    );
    return {
      sql,
      args: [
        e.type,
        e.agent ?? '',
        ...(q.projectSql ? [] : [e.projectId ?? null]),
        e.summary ?? '',
        JSON.stringify(e.data ?? {}),
        ...q.args,
      ],
      single: q.single,
    };
  }

  /** Publishes the events a `statementPerRow` (or `statementIfChanged`) wrote, from its RETURNING rows. */
  publishReturned(e: Pick<EventInput, 'type' | 'agent' | 'projectId'>, rows: Record<string, unknown>[]): void {
    for (const r of rows) {
      let data: unknown = {};
      try {
        data = typeof r.data === 'string' ? JSON.parse(r.data) : {};
      } catch {
        data = {};
      }
      const projectId = r.project_id === undefined ? e.projectId : (r.project_id as string | null);
      this.publishWritten({ ...e, projectId, summary: String(r.summary ?? ''), data }, Number(r.id), r);
    }
  }

  /** Persists (unless a liveness ping) and publishes one event. Returns it with its id. */
  async emit(e: EventInput): Promise<MyceliumEvent> {
    let id: number | null = null;
    let row: WrittenEventRow | undefined;
    if (!NOT_PERSISTED.has(e.type)) {
      const s = this.statement(e);
      const r = await this.db.execute(s.sql, s.args);
      row = r.rows[0];
      id = Number(row?.id ?? r.lastInsertRowid);
    }
    return this.publishWritten(e, id, row);
  }

  /**
   * Publishes an event whose row was already written inside a batch (id from that batch). `row`,
   * the event statement's RETURNING row when the caller has it, tells whether a webhook was active.
   */
  publishWritten(e: EventInput, id: number | null, row?: WrittenEventRow): MyceliumEvent {
    const event = this.toEvent(e, id);
    if (row !== undefined && row.webhooks_active !== undefined && Number(row.webhooks_active) === 0)
      this.unhooked.add(event);
    this.publish(event);
    return event;
  }

  /**
   * False when the event's row was written while no webhook was active, so the outbox trigger
   * queued nothing for it. True when it may have (or when unknown: an event published without its
   * row), so the caller drains the outbox as before.
   */
  mayHaveQueuedWebhooks(event: MyceliumEvent): boolean {
    return !this.unhooked.has(event);
  }

  private toEvent(e: EventInput, id: number | null): MyceliumEvent {
    return {
      id,
      type: e.type,
      agent: e.agent ?? '',
      project_id: e.projectId ?? null,
      summary: e.summary ?? '',
      data: e.data ?? {},
      created_at: this.runtime.clock.now().toISOString(),
    };
  }

  /**
   * Each subscriber is called now (as an async wrapper would run it up to its first await); only
   * one that returns a promise is handed to `waitUntil`, so a subscriber with nothing to do for
   * this event costs no promise chain per event.
   */
  private publish(event: MyceliumEvent): void {
    const failed = (err: unknown) =>
      this.runtime.log.error('event subscriber failed', { type: event.type, error: (err as Error)?.message });
    for (const fn of [...this.subscribers]) {
      let out: unknown;
      try {
        out = fn(event);
      } catch (err) {
        failed(err);
        continue;
      }
      if (out instanceof Promise) this.runtime.waitUntil(out.then(undefined, failed));
    }
  }
}
