import type { AppContext } from '../../context.js';
import { conflict } from '../../http/errors.js';
import { atomicWrite } from '../events/write.js';
import { skillsRepo, type NewSkill, type SkillRow } from './repo.js';

/** Skill writes with their events (issue 17: the row and its event commit together). */

/** Publishes a skill; 409 (and no event) when the id is taken. */
export async function createSkill(app: AppContext, input: NewSkill): Promise<{ id: string }> {
  const res = await atomicWrite(app)
    .add('skill', skillsRepo.insert(input))
    .requireChanged('skill exists')
    .event({ type: 'skill_created', agent: 'admin', projectId: '', summary: input.name, data: { skill_id: input.id } })
    .commitUnlessAborted();
  if (!res) throw conflict('skill already exists');
  return { id: input.id };
}

/** Installs a skill for an agent (a reinstall updates its config) with `skill_installed`. */
export async function installSkill(app: AppContext, agentId: string, skill: SkillRow, config: string): Promise<void> {
  await atomicWrite(app)
    .addAll(skillsRepo.install(agentId, skill.id, config))
    .event({
      type: 'skill_installed',
      agent: agentId,
      projectId: '',
      summary: skill.name,
      data: { skill_id: skill.id },
    })
    .commit();
}

export function uninstallSkill(app: AppContext, agentId: string, skillId: string) {
  return app.db.batch(skillsRepo.uninstall(agentId, skillId));
}
