import type { AppContext } from '../../context.js';

/**
 * Installed skills of an agent (spec 02 §3.2 #11). The skills and agent_skills tables belong to
 * the skills area (spec 05); while they are absent the answer is an empty array, which is the
 * wire shape of "nothing installed".
 */
export async function installedSkills(app: AppContext, agentId: string): Promise<unknown[]> {
  const present = await app.db.get<{ n: number }>(
    "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('skills', 'agent_skills')",
  );
  if (!present || Number(present.n) < 2) return [];
  return app.db.all(
    `SELECT s.*, a.installed_at, a.config FROM agent_skills a JOIN skills s ON s.id = a.skill_id
     WHERE a.agent_id = ? ORDER BY s.name`,
    [agentId],
  );
}
