import { z } from 'zod';
import { nameParam } from '../../http/contract.js';
import { documented, S } from '../../http/contract-fields.js';
import { idString } from '../../http/validate.js';

/** The skills registry (spec 05 §12). */

export const SkillIdParams = z.object({ id: nameParam });

/** JSON-ish columns: objects and arrays are stored as JSON text, strings verbatim (spec 05 §0.2). */
const jsonText = z
  .union([z.string().max(100_000), z.record(z.string(), z.unknown()), z.array(z.unknown())])
  .transform((v) => (typeof v === 'string' ? v : JSON.stringify(v)))
  .meta({ description: 'JSON text, or an object/array stored as JSON text' });
const text = (max: number) => z.string().max(max);

export const CreateSkill = z.object({
  id: idString(128),
  name: z.string().trim().min(1).max(200),
  description: text(10_000).default(''),
  category: text(100).default('general'),
  version: text(50).default('1.0.0'),
  author: text(200).default(''),
  install_type: text(100).default('concept'),
  install_data: jsonText.default('{}'),
  required_capabilities: jsonText.default('[]'),
  tags: jsonText.default('[]'),
});

export const UpdateSkill = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: text(10_000).optional(),
  category: text(100).optional(),
  version: text(50).optional(),
  install_data: jsonText.optional(),
  required_capabilities: jsonText.optional(),
  tags: jsonText.optional(),
  status: text(50).optional(),
});

const agentField = documented({ ...S, description: 'Admins and operators: the agent (agents install for themselves)' });

export const InstallSkill = z.object({
  agent_id: agentField,
  config: jsonText.nullable().optional(),
});
export const UninstallSkill = z.object({ agent_id: agentField });

export const SkillListQuery = z.object({ category: z.string().optional(), search: z.string().optional() });

export const Skill = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    category: z.string(),
    version: z.string(),
    author: z.string(),
    install_type: z.string(),
    install_data: z.string().meta({ description: 'JSON text' }),
    required_capabilities: z.string().meta({ description: 'JSON array text' }),
    tags: z.string().meta({ description: 'JSON array text' }),
    status: z.string(),
    install_count: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Skill' });

export const SkillCreated = z.object({ id: z.string() });
export const SkillInstalled = z.object({ ok: z.literal(true), skill_id: z.string(), agent_id: z.string() });
export const SkillUninstalled = z.object({ ok: z.literal(true) });
