import type { Db } from '../../db/db.js';
import { abortIf, abortUnlessChanged, isBatchAbort } from '../../db/batch-abort.js';
import type { ResultSet, Row, SqlArgs, Statement } from '../../db/types.js';
import type { EventBus, EventInput, MyceliumEvent } from './bus.js';

type EventShape = Pick<EventInput, 'type' | 'agent' | 'projectId'>;

/**
 * The rows a per-row event is written for, as SQL a repo builds over its own tables (see
 * EventBus.statementPerRow): summary and data expressions over `rest` (FROM/WHERE), so an event
 * can be keyed on the rows the same batch wrote (e.g. an approval found by its decision token).
 */
export type EventRowsQuery = Parameters<EventBus['statementPerRow']>[1];

/** How an event row of the batch is published once the batch committed. */
type PendingEvent =
  | { at: number; name: string | null; how: 'input'; input: EventInput }
  | { at: number; name: string | null; how: 'returned'; input: EventShape }
  | { at: number; name: string | null; how: 'rows'; input: EventInput };

/** Liveness pings are not history (spec 07 REL-09): published, never written. */
const NOT_PERSISTED = new Set(['agent_heartbeat']);

/**
 * "Write these rows and record their events" (issue 17: events are atomic with their writes):
 * the one way a service commits a change together with the event rows that report it.
 *
 *   const w = atomicWrite(ctx).add('task', tasksRepo.insert(...)).eventWithNewId(ev, 'task_id');
 *   const r = await w.commit();          // one db.batch: all rows or none
 *   r.row<TaskRow>('task');              // results by name, never by batch index
 *
 * Statements run in the order added, in ONE `db.batch` (atomic on both runtimes). `requireChanged()`
 * aborts the whole batch when the statement before it matched nothing (a lost compare-and-set), so a
 * refused write records no event; `commitUnlessAborted()` answers null then. Events are published
 * (SSE wake, webhooks kick, plugin hooks) only after the commit, in the order they were added; a
 * crash before the commit loses the change and its event together, never one of them.
 */
export class AtomicWrite {
  private readonly stmts: Statement[] = [];
  private readonly names = new Map<string, number>();
  private readonly events: PendingEvent[] = [];

  constructor(private readonly ctx: { db: Db; events: EventBus }) {}

  /** Statements so far (0 means commit has nothing to write). */
  get size(): number {
    return this.stmts.length;
  }

  /** A statement of the batch; name it to read its result after the commit. */
  add(name: string | null, s: Statement): this {
    if (name !== null) {
      if (this.names.has(name)) throw new Error(`atomicWrite: step "${name}" added twice`);
      this.names.set(name, this.stmts.length);
    }
    this.stmts.push(s);
    return this;
  }

  /** Several unnamed statements (e.g. a repo's multi-statement write). */
  addAll(stmts: readonly Statement[]): this {
    for (const s of stmts) this.add(null, s);
    return this;
  }

  /** Aborts the batch when the statement just before changed no row (see db/batch-abort.ts). */
  requireChanged(reason?: string): this {
    return this.add(null, abortUnlessChanged(reason));
  }

  /** Aborts the batch when `conditionSql` holds at this point of it. */
  abortIf(conditionSql: string, args: SqlArgs = [], reason?: string): this {
    return this.add(null, abortIf(conditionSql, args, reason));
  }

  /** An event row; published as given. */
  event(e: EventInput, name: string | null = null): this {
    if (NOT_PERSISTED.has(e.type)) {
      this.events.push({ at: -1, name, how: 'input', input: e });
      return this;
    }
    this.events.push({ at: this.stmts.length, name, how: 'input', input: e });
    return this.add(name, this.ctx.events.statement(e));
  }

  /**
   * An event whose `data[key]` (and, with `summaryAround`, summary `before + id + after`) is the id
   * of the row the batch inserted last, e.g. a new task's id; published with the values written.
   */
  eventWithNewId(e: EventInput, key: string, summaryAround?: [string, string], name: string | null = null): this {
    this.events.push({ at: this.stmts.length, name, how: 'returned', input: e });
    return this.add(name, this.ctx.events.statementWithNewId(e, key, summaryAround));
  }

  /** An event written only if the statement just before it changed a row. */
  eventIfChanged(e: EventInput, name: string | null = null): this {
    this.events.push({ at: this.stmts.length, name, how: 'returned', input: e });
    return this.add(name, this.ctx.events.statementIfChanged(e));
  }

  /**
   * One event per row a SELECT finds at this point of the batch (see EventBus.statementPerRow);
   * none when it finds none (a conditional event). Published with the summary, data and project
   * written; `eventsOf(name)` has them.
   */
  eventPerRow(e: EventShape, q: EventRowsQuery, name: string | null = null): this {
    this.events.push({ at: this.stmts.length, name, how: 'returned', input: e });
    return this.add(name, this.ctx.events.statementPerRow(e, q));
  }

  /**
   * As `eventPerRow`, for an event whose summary and data are known here (EventBus.statementForRows):
   * one event per row `rest` finds, none when it finds none; published as given, with each row's id
   * (and, with `projectSql`, its project).
   */
  eventForRows(
    e: EventInput,
    q: { rest: string; args: SqlArgs; projectSql?: string; single?: boolean },
    name: string | null = null,
  ): this {
    this.events.push({ at: this.stmts.length, name, how: 'rows', input: e });
    return this.add(name, this.ctx.events.statementForRows(e, q));
  }

  /** Commits everything or nothing, then publishes the events. Throws what the batch threw. */
  async commit(): Promise<WriteResult> {
    const results = await this.ctx.db.batch(this.stmts);
    const published = new Map<string, MyceliumEvent[]>();
    const all: MyceliumEvent[] = [];
    for (const ev of this.events) {
      const out: MyceliumEvent[] = [];
      if (ev.at < 0) out.push(this.ctx.events.publishWritten(ev.input, null));
      else if (ev.how === 'input') {
        const row = results[ev.at].rows[0];
        out.push(this.ctx.events.publishWritten(ev.input, idOf(row), row));
      } else if (ev.how === 'rows') {
        for (const row of results[ev.at].rows) {
          const projectId = row.project_id === undefined ? ev.input.projectId : (row.project_id as string | null);
          out.push(this.ctx.events.publishWritten({ ...ev.input, projectId }, idOf(row), row));
        }
      } else {
        for (const row of results[ev.at].rows) {
          out.push(
            this.ctx.events.publishWritten(
              {
                ...ev.input,
                // A per-row event may read its project from the row (statementPerRow's projectSql).
                projectId: row.project_id === undefined ? ev.input.projectId : (row.project_id as string | null),
                summary: String(row.summary ?? ''),
                data: parseData(row.data),
              },
              idOf(row),
              row,
            ),
          );
        }
      }
      all.push(...out);
      if (ev.name !== null) published.set(ev.name, out);
    }
    return new WriteResult(results, this.names, published, all);
  }

  /** As `commit`, but null when a `requireChanged`/`abortIf` stopped the batch (nothing was written). */
  async commitUnlessAborted(): Promise<WriteResult | null> {
    try {
      return await this.commit();
    } catch (err) {
      if (isBatchAbort(err)) return null;
      throw err;
    }
  }
}

/** What a committed `AtomicWrite` wrote, by step name. */
export class WriteResult {
  constructor(
    private readonly results: ResultSet[],
    private readonly names: Map<string, number>,
    private readonly published: Map<string, MyceliumEvent[]>,
    /** Every event published, in order. */
    readonly events: MyceliumEvent[],
  ) {}

  /** Whether a step of that name was part of the batch. */
  has(name: string): boolean {
    return this.names.has(name);
  }

  /** The RETURNING rows of a named step ([] for a step that was not added). */
  rows<T = Row>(name: string): T[] {
    const i = this.names.get(name);
    return (i === undefined ? [] : this.results[i].rows) as T[];
  }

  /** The first RETURNING row of a named step. */
  row<T = Row>(name: string): T | undefined {
    return this.rows<T>(name)[0];
  }

  /** Rows a named step changed (0 for a step that was not added). */
  changes(name: string): number {
    const i = this.names.get(name);
    return i === undefined ? 0 : this.results[i].rowsAffected;
  }

  /** The events a named event step published (one, none for a conditional event, or one per row). */
  eventsOf(name: string): MyceliumEvent[] {
    return this.published.get(name) ?? [];
  }

  /** The id of a named event step's (first) event, null when it wrote none. */
  eventId(name: string): number | null {
    return this.eventsOf(name)[0]?.id ?? null;
  }
}

/** A batch of writes and the events that report them (see AtomicWrite). */
export function atomicWrite(ctx: { db: Db; events: EventBus }): AtomicWrite {
  return new AtomicWrite(ctx);
}

function idOf(row: Row | undefined): number | null {
  return row?.id === undefined || row.id === null ? null : Number(row.id);
}

function parseData(data: unknown): unknown {
  if (typeof data !== 'string') return {};
  try {
    return JSON.parse(data);
  } catch {
    return {};
  }
}
