import type { AppContext } from '../../context.js';
import { agentsRepo } from '../agents/repo.js';

/** §3.0: trimmed, matched case-insensitively against agent id or name; unknown values kept as given. */
export async function resolveAssignee(ctx: AppContext, value: string | null | undefined): Promise<string | null> {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  if (!v) return '';
  return (await agentsRepo.resolveId(ctx.db, v)) ?? v;
}
