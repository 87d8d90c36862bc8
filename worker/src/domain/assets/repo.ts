import type { Queryable } from '../../db/db.js';
import { assignments, whereAll } from '../../db/sql.js';
import type { SqlValue, Statement } from '../../db/types.js';

/** SQL for assets (spec 05 §9). Rows go out raw (metadata is a JSON string), as the spec pins. */

export interface AssetRow {
  id: number;
  name: string;
  type: string;
  project_id: string;
  status: string;
  path: string;
  metadata: string;
  requester: string;
  created_at: string;
  updated_at: string;
  file_path: string;
  download_url: string;
  requested_by: string;
  assigned_to: string;
  drone_job_id: number | null;
  prompt: string;
  file_size: number | null;
}

export type NewAsset = Pick<
  AssetRow,
  | 'name'
  | 'type'
  | 'project_id'
  | 'status'
  | 'path'
  | 'metadata'
  | 'requester'
  | 'prompt'
  | 'assigned_to'
  | 'drone_job_id'
>;
export type AssetChanges = Partial<
  Pick<
    AssetRow,
    'status' | 'path' | 'metadata' | 'drone_job_id' | 'assigned_to' | 'file_path' | 'download_url' | 'prompt'
  >
>;

export const assetsRepo = {
  byId(db: Queryable, id: number) {
    return db.get<AssetRow>('SELECT * FROM assets WHERE id = ?', [id]);
  },
  list(db: Queryable, q: { project_id?: string; type?: string; status?: string; limit: number; offset: number }) {
    const w = whereAll(
      (['project_id', 'type', 'status'] as const)
        .filter((k) => q[k] !== undefined)
        .map((k) => [`${k} = ?`, q[k]!] as [string, SqlValue]),
    );
    return db.all<AssetRow>(`SELECT * FROM assets ${w.sql} ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`, [
      ...w.args,
      q.limit,
      q.offset,
    ]);
  },
  insert(a: NewAsset): Statement {
    return {
      sql: `INSERT INTO assets (name, type, project_id, status, path, metadata, requester, prompt, assigned_to, drone_job_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      args: [
        a.name,
        a.type,
        a.project_id,
        a.status,
        a.path,
        a.metadata,
        a.requester,
        a.prompt,
        a.assigned_to,
        a.drone_job_id,
      ],
    };
  },
  update(id: number, changes: AssetChanges): Statement {
    const { sets, args } = assignments(changes);
    return {
      sql: `UPDATE assets SET ${[...sets, "updated_at = datetime('now')"].join(', ')} WHERE id = ? RETURNING *`,
      args: [...args, id],
    };
  },
  /**
   * Points the asset at a freshly uploaded blob, only if its blob is still the one the upload
   * saw (`previousKey`): a concurrent upload or a delete makes this a no-op (null), and the
   * caller then removes its own blob instead of leaving it unowned.
   */
  attachUpload(
    id: number,
    previousKey: string,
    u: { key: string; path: string; size: number; downloadUrl: string },
  ): Statement {
    return {
      sql: `UPDATE assets SET file_path = ?, path = ?, file_size = ?, download_url = ?, status = 'ready', updated_at = datetime('now')
       WHERE id = ? AND file_path = ? RETURNING *`,
      args: [u.key, u.path, u.size, u.downloadUrl, id, previousKey],
    };
  },
  linkJob(ids: number[], droneJobId: number, status: string | undefined): Statement {
    return {
      sql: `UPDATE assets SET drone_job_id = ?, status = COALESCE(?, status), updated_at = datetime('now') WHERE id IN (${ids.map(() => '?').join(', ')})`,
      args: [droneJobId, status ?? null, ...ids],
    };
  },
  existingIds(db: Queryable, ids: number[]) {
    return db.all<{ id: number; project_id: string }>(
      `SELECT id, project_id FROM assets WHERE id IN (${ids.map(() => '?').join(', ')})`,
      ids,
    );
  },
  delete(id: number): Statement {
    return { sql: 'DELETE FROM assets WHERE id = ? RETURNING *', args: [id] };
  },
  async droneJobExists(db: Queryable, id: number): Promise<boolean> {
    return !!(await db.get('SELECT 1 AS ok FROM drone_jobs WHERE id = ?', [id]));
  },
  /** Which of these blob keys an asset still names (for the orphan sweep). */
  async referencedKeys(db: Queryable, keys: string[]): Promise<Set<string>> {
    if (!keys.length) return new Set();
    const rows = await db.all<{ file_path: string }>(
      `SELECT file_path FROM assets WHERE file_path IN (${keys.map(() => '?').join(', ')})`,
      keys,
    );
    return new Set(rows.map((r) => r.file_path));
  },
};
