import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';

/** SQL for temp files (spec 05 §10): a public name, the blob behind it, and when it expires. */

export interface TempFileRow {
  filename: string;
  original_name: string;
  blob_key: string;
  size: number;
  uploaded_by: string;
  created_at: string;
  /** `YYYY-MM-DD HH:MM:SS` UTC, like every timestamp column. */
  expires_at: string;
}

export const tempFilesRepo = {
  insert(f: Omit<TempFileRow, 'created_at'>): Statement {
    return {
      sql: 'INSERT INTO temp_files (filename, original_name, blob_key, size, uploaded_by, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
      args: [f.filename, f.original_name, f.blob_key, f.size, f.uploaded_by, f.expires_at],
    };
  },
  /** A file that has not expired at `now` (SQLite time text). */
  live(db: Queryable, filename: string, now: string) {
    return db.get<TempFileRow>('SELECT * FROM temp_files WHERE filename = ? AND expires_at > ?', [filename, now]);
  },
  listLive(db: Queryable, now: string) {
    return db.all<TempFileRow>(
      'SELECT * FROM temp_files WHERE expires_at > ? ORDER BY created_at DESC, filename LIMIT 1000',
      [now],
    );
  },
  /** Removes expired rows, returning their blob keys (deleted by the caller after the rows). */
  async purgeExpired(db: Queryable, now: string): Promise<string[]> {
    const rows = await db.all<{ blob_key: string }>('DELETE FROM temp_files WHERE expires_at <= ? RETURNING blob_key', [
      now,
    ]);
    return rows.map((r) => r.blob_key);
  },
  async referencedKeys(db: Queryable, keys: string[]): Promise<Set<string>> {
    if (!keys.length) return new Set();
    const rows = await db.all<{ blob_key: string }>(
      `SELECT blob_key FROM temp_files WHERE blob_key IN (${keys.map(() => '?').join(', ')})`,
      keys,
    );
    return new Set(rows.map((r) => r.blob_key));
  },
};

/** SQLite time text (`YYYY-MM-DD HH:MM:SS`, UTC) of an instant. */
