import { createClient, type Client, type InStatement, type ResultSet as LibsqlResult } from '@libsql/client/web';
import type { DbDriver, DbExecutor, ResultSet, Statement } from './types.js';

/**
 * libSQL over HTTP (Hrana) — the Workers runtime's database, also usable from Node against a
 * remote libSQL server. Batches are atomic on the server (one pipeline request).
 */
export class LibsqlHttpDriver implements DbDriver {
  private readonly client: Client;

  constructor(url: string, authToken?: string) {
    // No client-side request queue: the client's default limit (20 in flight) parks extra
    // requests on promises that a *different* request later resolves, which workerd refuses
    // across request contexts (the parked request is cancelled → 500 under load). The database
    // server does its own queueing.
    this.client = createClient({ url, authToken, intMode: 'number', concurrency: Number.MAX_SAFE_INTEGER });
  }

  async execute(s: Statement): Promise<ResultSet> {
    return toResultSet(await this.client.execute(toIn(s)));
  }

  async batch(stmts: Statement[]): Promise<ResultSet[]> {
    return (await this.client.batch(stmts.map(toIn), 'write')).map(toResultSet);
  }

  async transaction<T>(fn: (tx: DbExecutor) => Promise<T>): Promise<T> {
    const tx = await this.client.transaction('write');
    try {
      const result = await fn({ execute: async (s) => toResultSet(await tx.execute(toIn(s))) });
      await tx.commit();
      return result;
    } catch (err) {
      await tx.rollback().catch(() => undefined);
      throw err;
    } finally {
      tx.close();
    }
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

function toIn(s: Statement): InStatement {
  // Integers go as bigint so Hrana encodes them as integers, not floats (LIMIT ?, integer columns).
  const args = (s.args ?? []).map((a) =>
    typeof a === 'boolean' ? BigInt(a ? 1 : 0) : typeof a === 'number' && Number.isSafeInteger(a) ? BigInt(a) : a,
  );
  return { sql: s.sql, args: args as InStatement extends { args?: infer A } ? A : never };
}

function toResultSet(r: LibsqlResult): ResultSet {
  const rows = r.rows.map((row) => {
    const o: Record<string, unknown> = {};
    r.columns.forEach((c, i) => {
      const v = row[i];
      o[c] = v instanceof ArrayBuffer ? new Uint8Array(v) : v;
    });
    return o;
  });
  return {
    rows,
    rowsAffected: r.rowsAffected,
    lastInsertRowid: r.lastInsertRowid === undefined ? null : Number(r.lastInsertRowid),
  };
}
