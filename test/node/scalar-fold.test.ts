import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composedBatch } from '../../worker/src/db/captured.js';
import { ScalarFold } from '../../worker/src/db/scalar-fold.js';
import { recordStatements } from '../support/query-plan.js';
import { startTarget, type Target } from '../support/target.js';

/** ScalarFold (issue 11): one-value reads sent as one statement, each answered with its own row. */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
  await t.db.run("INSERT INTO instance_config (key, value) VALUES ('fold_probe', 'yes')");
});
afterAll(async () => t?.close());

describe('ScalarFold', () => {
  it('folds get() reads into one statement; a value comes back under its column, a missing row as no row', async () => {
    const fold = new ScalarFold(t.db);
    const value = fold.db.get<{ value: string }>('SELECT value FROM instance_config WHERE key = ?', ['fold_probe']);
    const missing = fold.db.get<{ value: string }>('SELECT value FROM instance_config WHERE key = ?', ['fold_none']);
    const count = fold.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM instance_config WHERE key IN (?, ?)', [
      'fold_probe',
      'fold_none',
    ]);
    const rec = recordStatements(t.db);
    await composedBatch((s) => t.db.batch(s), [fold]);
    const sent = rec.stop();
    expect(sent).toHaveLength(1);
    expect(sent[0].args).toEqual(['fold_probe', 'fold_none', 'fold_probe', 'fold_none']);
    expect(await value).toEqual({ value: 'yes' });
    expect(await missing).toBeUndefined();
    expect(Number((await count)!.n)).toBe(1);
  });

  it('refuses what is not a one-column first-row read, before anything is sent', async () => {
    const two = new ScalarFold(t.db);
    void two.db.get('SELECT key, value FROM instance_config WHERE key = ?', ['fold_probe']);
    expect(() => two.statements()).toThrow(/one-column/);
    const rows = new ScalarFold(t.db);
    void rows.db.all('SELECT value FROM instance_config');
    expect(() => rows.statements()).toThrow(/first-row/);
  });
});
