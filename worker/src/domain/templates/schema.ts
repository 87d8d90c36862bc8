import { z } from 'zod';
import { idString } from '../../http/validate.js';
import { Agent } from '../agents/schema.js';

/** The wire shapes of agent templates (spec 02 §3.9). */

export const TemplateIdParams = z.object({ id: z.string().meta({ example: 'reviewer' }) });
export const ApplyParams = z.object({ id: z.string(), agentId: z.string() });

const text = (max = 500) => z.string().max(max);
const fieldsSchema = z.object({
  name: z.string().trim().min(1).max(200),
  description: text(5000),
  runtime: text(200),
  llm_backend: text(200),
  llm_model: text(200),
  agent_type: text(50),
  project_id: text(200),
  capabilities: z.array(z.string().max(100)).max(100),
  team_ids: z.array(z.string().max(128)).max(100),
  profile_rules: z.record(z.string(), z.unknown()),
});
export const CreateTemplate = fieldsSchema
  .partial()
  .extend({ id: idString(128), name: z.string().trim().min(1).max(200) });
export const UpdateTemplate = fieldsSchema.partial();

export const Template = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    runtime: z.string(),
    llm_backend: z.string(),
    llm_model: z.string(),
    agent_type: z.string(),
    capabilities: z.array(z.unknown()),
    project_id: z.string(),
    team_ids: z.array(z.unknown()),
    profile_rules: z.record(z.string(), z.unknown()).meta({ description: 'Free-form rules the admin stored' }),
    created_by: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'AgentTemplate' });

export const TemplateDeleted = z.object({ ok: z.literal(true), deleted: z.string() });
export const TemplateApplied = z.object({ ok: z.literal(true), agent: Agent.nullable(), template: z.string() });
