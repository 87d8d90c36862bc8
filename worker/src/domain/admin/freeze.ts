import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';
import { unavailable } from '../../http/errors.js';

/**
 * The kill switch (spec README "The kill switch", 02 §kill switch): while
 * `instance_config.admin_status = 'frozen'` all agent work routing stops — claims and
 * auto-dispatch answer 503 and `/work` serves an empty queue. Read from the database on every
 * call (not cached) so a freeze takes effect at once on every instance sharing the DB.
 */
export const FROZEN_MESSAGE = 'Claude Admin is frozen. Work routing paused. Contact a human operator.';

/** The kill switch's stored value ('frozen' when on), for reads that fold it in as a column. */
export const FROZEN_VALUE_SQL = "SELECT value FROM instance_config WHERE key = 'admin_status'";

/** Whether a value read with `FROZEN_VALUE_SQL` (NULL: never set) means frozen. */
export function frozenValue(value: unknown): boolean {
  return value === 'frozen';
}

export async function isFrozen(db: Queryable): Promise<boolean> {
  return frozenValue((await db.get<{ value: string }>(FROZEN_VALUE_SQL))?.value);
}

/** Throws 503 `{error: FROZEN_MESSAGE}` while frozen. Call before any assigning write. */
export async function assertNotFrozen(db: Queryable): Promise<void> {
  if (await isFrozen(db)) throw unavailable(FROZEN_MESSAGE);
}

/** The flag's read as a statement, for a caller that folds it into a read of its own (the heartbeat). */
export function frozenStatement(): Statement {
  return { sql: FROZEN_VALUE_SQL, args: [] };
}
