import type { AppContext } from '../../context.js';

/**
 * Installed skills of an agent (spec 02 §3.2 #11). The skills and agent_skills tables belong to
 * the skills area (spec 05, created by migration 0031); none installed is an empty array.
 */
export async function installedSkills(app: AppContext, agentId: string): Promise<unknown[]> {
  return app.db.all(
    `SELECT s.*, a.installed_at, a.config FROM agent_skills a JOIN skills s ON s.id = a.skill_id
     WHERE a.agent_id = ? ORDER BY s.name`,
    [agentId],
  );
}
