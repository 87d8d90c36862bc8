import type { Queryable } from '../../db/db.js';
import { firstIdFrom } from '../../db/time-order.js';
import { SqlTextsByParts } from '../../db/sql-texts.js';
import type { SqlValue, Statement } from '../../db/types.js';

/** context, context_keys and context_history: their SQL lives here (spec 04 §1.4–1.6). */
export interface ContextKeyRow {
  id: number;
  namespace: string;
  key: string;
  data: string;
  category: string;
  expires_at: string | null;
  updated_at: string;
  updated_by: string;
  access_count: number;
  last_accessed_at: string | null;
  project_id: string | null;
  version: number;
}

export interface HistoryRow {
  id: number;
  namespace: string;
  key: string;
  data: string;
  changed_by: string;
  changed_at: string;
  project_id: string | null;
  version: number;
}

export const NAMESPACE_CAP = 200;
export const HISTORY_KEEP = 50;

/**
 * A step of `putBatch`: a statement, or the event rows (one per key row the FROM/WHERE finds)
 * written at that point. Named steps are read by name after the commit: `facts` (the key as the
 * batch found it: its version, and its value when the put may merge), `updated`/`inserted` (the
 * version written: all a put answers), `updateEvent`/`insertEvent`.
 */
export type PutStep =
  | { name: 'facts' | 'updated' | 'inserted' | null; stmt: Statement }
  | { name: 'updateEvent' | 'insertEvent'; eventRows: { rest: string; args: SqlValue[]; single: boolean } };

/** Live = not expired; `expires_at` is ISO UTC everywhere so text comparison is instant order. */
const LIVE = '(expires_at IS NULL OR expires_at > ?)';

/**
 * A put's statements by shape (issue 11): built once, so the driver does not hash a new text on
 * every put. The write rule's fragments are the callers' constants.
 */
const putTexts = new SqlTextsByParts(100);
/** Keeps a key's newest HISTORY_KEEP history entries: one range of its (namespace, key) entries. */
const TRIM_HISTORY = `DELETE FROM context_history WHERE namespace = ? AND key = ? AND id <=
              (SELECT id FROM context_history WHERE namespace = ? AND key = ? ORDER BY id DESC LIMIT 1 OFFSET ${HISTORY_KEEP})`;
const PUT_FACTS = 'SELECT version, NULL AS data FROM context_keys WHERE namespace = ? AND key = ?';
const PUT_FACTS_WITH_DATA = 'SELECT version, data FROM context_keys WHERE namespace = ? AND key = ?';

/** Agents see shared keys and keys of their projects (SEC-16). `null` scope = everything. */
function scopeClause(projects: string[] | null): { sql: string; args: string[] } {
  if (!projects) return { sql: '', args: [] };
  return { sql: ` AND (project_id IS NULL OR project_id IN (${projects.map(() => '?').join(', ')}))`, args: projects };
}

export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export const contextRepo = {
  // ── legacy project documents ────────────────────────────────────────────
  listDocs(db: Queryable) {
    return db.all('SELECT project_id, data, updated_at, updated_by FROM context ORDER BY updated_at DESC, project_id');
  },
  getDoc(db: Queryable, projectId: string) {
    return db.get<{ project_id: string; data: string; updated_at: string | null; updated_by: string }>(
      'SELECT project_id, data, updated_at, updated_by FROM context WHERE project_id = ?',
      [projectId],
    );
  },
  putDoc(projectId: string, data: string, by: string): Statement {
    return {
      sql: `INSERT INTO context (project_id, data, updated_at, updated_by) VALUES (?, ?, datetime('now'), ?)
            ON CONFLICT(project_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      args: [projectId, data, by],
    };
  },

  // ── namespaced keys ─────────────────────────────────────────────────────
  get(db: Queryable, namespace: string, key: string) {
    return db.get<ContextKeyRow>('SELECT * FROM context_keys WHERE namespace = ? AND key = ?', [namespace, key]);
  },

  list(
    db: Queryable,
    f: {
      namespace?: string;
      category?: string;
      updated_by?: string;
      search?: string;
      projects: string[] | null;
      now: string;
      limit: number;
      offset: number;
    },
  ) {
    const where = [LIVE];
    const args: (string | number)[] = [f.now];
    for (const k of ['namespace', 'category', 'updated_by'] as const) {
      if (f[k] !== undefined) {
        where.push(`${k} = ?`);
        args.push(f[k]!);
      }
    }
    if (f.search) {
      where.push("(key LIKE ? ESCAPE '\\' OR data LIKE ? ESCAPE '\\')");
      const pat = `%${escapeLike(f.search)}%`;
      args.push(pat, pat);
    }
    const scope = scopeClause(f.projects);
    args.push(...scope.args, f.limit, f.offset);
    const order = f.namespace !== undefined && !f.search && !f.category && !f.updated_by ? 'key' : 'namespace, key';
    return db.all<ContextKeyRow>(
      `SELECT * FROM context_keys WHERE ${where.join(' AND ')}${scope.sql} ORDER BY ${order} LIMIT ? OFFSET ?`,
      args,
    );
  },

  namespaces(db: Queryable, projects: string[] | null, now: string) {
    const scope = scopeClause(projects);
    return db.all<{ namespace: string; keys: number }>(
      `SELECT namespace, COUNT(*) AS keys FROM context_keys WHERE ${LIVE}${scope.sql} GROUP BY namespace ORDER BY namespace`,
      [now, ...scope.args],
    );
  },

  stats(db: Queryable, now: string) {
    return db.all<{ namespace: string; category: string; count: number; total_bytes: number }>(
      `SELECT namespace, category, COUNT(*) AS count, COALESCE(SUM(LENGTH(CAST(data AS BLOB))), 0) AS total_bytes
       FROM context_keys WHERE ${LIVE} GROUP BY namespace, category ORDER BY namespace, category`,
      [now],
    );
  },

  /** Access counters are best-effort bookkeeping, never part of the answer (weak spot C11). */
  touch(db: Queryable, id: number) {
    return db.run(
      "UPDATE context_keys SET access_count = access_count + 1, last_accessed_at = datetime('now') WHERE id = ?",
      [id],
    );
  },

  deleteIfExpired(db: Queryable, id: number, now: string) {
    return db.run('DELETE FROM context_keys WHERE id = ? AND expires_at IS NOT NULL AND expires_at <= ?', [id, now]);
  },

  /**
   * Creates a key unless it exists or its owner's share of the namespace is full — one
   * statement, so concurrent creators never exceed the cap. The cap counts keys of the same
   * owner in that namespace (weak spot C3): nobody can fill it for another project.
   */
  insertNew(k: {
    namespace: string;
    key: string;
    data: string;
    category: string;
    expires_at: string | null;
    by: string;
    project_id: string | null;
    now: string;
  }): Statement {
    return {
      sql: `INSERT INTO context_keys (namespace, key, data, category, expires_at, updated_by, project_id, version)
       SELECT ?, ?, ?, ?, ?, ?, ?, 1
       WHERE (SELECT COUNT(*) FROM context_keys WHERE namespace = ? AND project_id IS ? AND ${LIVE}) < ${NAMESPACE_CAP}
       ON CONFLICT(namespace, key) DO NOTHING
       RETURNING *`,
      args: [
        k.namespace,
        k.key,
        k.data,
        k.category,
        k.expires_at,
        k.by,
        k.project_id,
        k.namespace,
        k.project_id,
        k.now,
      ],
    };
  },

  /**
   * Overwrite as compare-and-set on `version`: the old value goes to history and the row moves
   * to version + 1 only if it is still at `version` (both statements carry the same condition
   * inside one batch, so they happen together or not at all). History is trimmed to 50.
   */
  overwrite(k: {
    namespace: string;
    key: string;
    version: number;
    data: string;
    category: string;
    expires_at: string | null;
    by: string;
  }): Statement[] {
    return [
      {
        sql: `INSERT INTO context_history (namespace, key, data, changed_by, project_id, version)
              SELECT namespace, key, data, ?, project_id, version FROM context_keys WHERE namespace = ? AND key = ? AND version = ?`,
        args: [k.by, k.namespace, k.key, k.version],
      },
      {
        sql: `UPDATE context_keys SET data = ?, category = ?, expires_at = ?, updated_by = ?, updated_at = datetime('now'), version = version + 1
              WHERE namespace = ? AND key = ? AND version = ? RETURNING *`,
        args: [k.data, k.category, k.expires_at, k.by, k.namespace, k.key, k.version],
      },
      contextRepo.trimHistory(k.namespace, k.key),
    ];
  },

  /**
   * One key write as one batch (issue 11: a context put is one libSQL round trip). In order:
   * drop the key if expired (as a read would), read it as it is now (`FACTS`), then either
   * overwrite it — old value to history, version + 1, event — or create it — capped per owner,
   * event — each only where `permit` (the write rule as SQL) and the version condition hold.
   * The two events are guarded by `changes()` of the write just before them, so exactly one
   * event row is written per write and none for a refused one. History is trimmed to 50.
   * `update`/`insert` null: that branch is off for this round (the service decides, see put).
   */
  putBatch(k: {
    namespace: string;
    key: string;
    now: string;
    by: string;
    /** The write rule for this caller as SQL over the key's row (`project_id`) and constants. */
    permit: { row: { sql: string; args: SqlValue[] }; ns: { sql: string; args: SqlValue[] } };
    update: {
      data: string;
      category: string | null;
      /** undefined: keep the key's expiry. */
      expires_at?: string | null;
      /** Compare-and-set on this version; null: any version. */
      version: number | null;
    } | null;
    insert: { data: string; category: string; expires_at: string | null; project_id: string | null } | null;
    /** The facts carry the stored value only when the put may merge onto it (it can be 256 KB). */
    factsWithData: boolean;
  }): PutStep[] {
    const at = [k.namespace, k.key];
    // Each event step finds its key only if the write just before it changed a row (changes()).
    const eventRows = {
      rest: 'FROM context_keys WHERE namespace = ? AND key = ? AND changes() > 0',
      args: at,
      single: true,
    };
    const u = k.update;
    const stmts: PutStep[] = [
      {
        name: null,
        stmt: {
          sql: 'DELETE FROM context_keys WHERE namespace = ? AND key = ? AND expires_at IS NOT NULL AND expires_at <= ?',
          args: [...at, k.now],
        },
      },
      {
        name: 'facts',
        stmt: {
          sql: k.factsWithData ? PUT_FACTS_WITH_DATA : PUT_FACTS,
          args: at,
          single: true,
        },
      },
    ];
    if (u) {
      const cond = {
        sql: `${k.permit.row.sql} AND ${k.permit.ns.sql}${u.version === null ? '' : ' AND version = ?'}`,
        args: [...k.permit.row.args, ...k.permit.ns.args, ...(u.version === null ? [] : [u.version])],
      };
      const keepExpiry = u.expires_at === undefined;
      // The texts by shape: the write rule's fragments (the callers' constants) and the two flags.
      const shape = [k.permit.row.sql, k.permit.ns.sql, u.version === null, keepExpiry];
      stmts.push(
        {
          name: null,
          stmt: {
            sql: putTexts.get(
              ['history', ...shape],
              () => `INSERT INTO context_history (namespace, key, data, changed_by, project_id, version)
                SELECT namespace, key, data, ?, project_id, version FROM context_keys
                WHERE namespace = ? AND key = ? AND ${cond.sql}`,
            ),
            args: [k.by, ...at, ...cond.args],
          },
        },
        {
          name: 'updated',
          stmt: {
            sql: putTexts.get(
              ['update', ...shape],
              () => `UPDATE context_keys SET data = ?, category = COALESCE(?, category), expires_at = ${keepExpiry ? 'expires_at' : '?'},
                  updated_by = ?, updated_at = datetime('now'), version = version + 1
                WHERE namespace = ? AND key = ? AND ${cond.sql} RETURNING version`,
            ),
            args: [u.data, u.category, ...(keepExpiry ? [] : [u.expires_at ?? null]), k.by, ...at, ...cond.args],
            single: true,
          },
        },
        { name: 'updateEvent', eventRows },
      );
    }
    const i = k.insert;
    if (i) {
      stmts.push(
        {
          name: 'inserted',
          stmt: {
            // A key that exists (just overwritten above, say) stops at the first condition, before
            // the write rule and the owner's count (up to NAMESPACE_CAP rows) are evaluated.
            sql: putTexts.get(
              ['insert', k.permit.ns.sql],
              () => `INSERT INTO context_keys (namespace, key, data, category, expires_at, updated_by, project_id, version)
                SELECT ?, ?, ?, ?, ?, ?, ?, 1
                WHERE NOT EXISTS (SELECT 1 FROM context_keys WHERE namespace = ? AND key = ?)
                  AND ${k.permit.ns.sql}
                  AND (SELECT COUNT(*) FROM context_keys WHERE namespace = ? AND project_id IS ? AND ${LIVE}) < ${NAMESPACE_CAP}
                ON CONFLICT(namespace, key) DO NOTHING
                RETURNING version`,
            ),
            args: [
              ...at,
              i.data,
              i.category,
              i.expires_at,
              k.by,
              i.project_id,
              ...at,
              ...k.permit.ns.args,
              k.namespace,
              i.project_id,
              k.now,
            ],
            single: true,
          },
        },
        { name: 'insertEvent', eventRows },
      );
    }
    if (u) stmts.push({ name: null, stmt: contextRepo.trimHistory(k.namespace, k.key) });
    return stmts;
  },

  /**
   * Keeps the newest HISTORY_KEEP entries of a key: deletes the key's range up to the first entry
   * past them (a range of the (namespace, key) index; nothing when the key has no more than that).
   */
  trimHistory(namespace: string, key: string): Statement {
    return { sql: TRIM_HISTORY, args: [namespace, key, namespace, key] };
  },

  deleteIds(ids: number[]): Statement {
    return { sql: `DELETE FROM context_keys WHERE id IN (${ids.map(() => '?').join(', ')})`, args: ids };
  },

  history(db: Queryable, namespace: string, key: string, limit: number) {
    return db.all<HistoryRow>(
      'SELECT * FROM context_history WHERE namespace = ? AND key = ? ORDER BY id DESC LIMIT ?',
      [namespace, key, limit],
    );
  },

  historyEntry(db: Queryable, id: number) {
    return db.get<HistoryRow>('SELECT * FROM context_history WHERE id = ?', [id]);
  },

  newestHistoryProject(db: Queryable, namespace: string, key: string) {
    return db.get<{ project_id: string | null }>(
      'SELECT project_id FROM context_history WHERE namespace = ? AND key = ? ORDER BY id DESC LIMIT 1',
      [namespace, key],
    );
  },

  purgeExpired(db: Queryable, now: string) {
    return db.run('DELETE FROM context_keys WHERE expires_at IS NOT NULL AND expires_at <= ?', [now]);
  },

  /**
   * History past the cutoff: the id range before its first entry at or after it (entries are
   * written in time order; migration 0025 dropped the index on `changed_at`, two b-tree writes
   * per put). An entry written out of order goes once the entries around it are past it too.
   */
  purgeOldHistory(db: Queryable, cutoff: string) {
    const upTo = firstIdFrom('context_history', 'changed_at', '>=', { sql: '?', args: [cutoff] });
    return db.run(`DELETE FROM context_history WHERE id < ${upTo.sql} AND changed_at < ?`, [...upTo.args, cutoff]);
  },

  async existsProject(db: Queryable, id: string): Promise<boolean> {
    return !!(await db.get('SELECT 1 AS ok FROM projects WHERE id = ?', [id]));
  },

  async existsAgent(db: Queryable, id: string): Promise<boolean> {
    return !!(await db.get('SELECT 1 AS ok FROM agents WHERE id = ?', [id]));
  },
};
