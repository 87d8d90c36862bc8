import type { AppContext } from '../../context.js';

/** Blobs younger than this are never swept: their row may be a statement away. */
const ORPHAN_GRACE_MS = 60 * 60_000;

/**
 * Deletes blobs under `prefix` that no row references and that are older than the grace period.
 * An upload writes its blob first and its row second, so a crash in between leaves a blob
 * without a row; this sweep is what makes that orphan temporary. `referenced(keys)` answers
 * which of a batch of keys some row still names.
 */
export async function sweepOrphanBlobs(
  app: AppContext,
  prefix: string,
  referenced: (keys: string[]) => Promise<Set<string>>,
  graceMs = ORPHAN_GRACE_MS,
): Promise<number> {
  const cutoff = app.clock.now().getTime() - graceMs;
  const old = (await app.runtime.blobs.list(prefix)).filter((b) => b.uploaded.getTime() < cutoff).map((b) => b.key);
  let deleted = 0;
  for (let i = 0; i < old.length; i += 100) {
    const batch = old.slice(i, i + 100);
    const keep = await referenced(batch);
    for (const key of batch) {
      if (keep.has(key)) continue;
      await app.runtime.blobs.delete(key);
      deleted++;
    }
  }
  if (deleted) app.log.info('orphan blobs removed', { prefix, deleted });
  return deleted;
}
