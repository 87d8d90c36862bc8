import { z } from 'zod';
import { idString } from '../../http/validate.js';
import { Project } from '../projects/schema.js';

/** The wire shapes of teams (spec 01 §2.9). */

export const TeamIdParams = z.object({ id: z.string().meta({ example: 'core' }) });
export const MemberParams = z.object({ id: z.string(), userId: z.string() });
export const TeamListQuery = z.object({
  org_id: z
    .string()
    .optional()
    .transform((v) => v || undefined),
});

export const CreateTeam = z.object({
  id: idString(100),
  org_id: z.string().trim().min(1).max(128),
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).default(''),
});
export const UpdateTeam = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
  org_id: z.string().trim().min(1).max(128).optional(),
});
const ROLES = ['member', 'lead', 'admin'] as const;
export const AddMember = z.object({
  user_id: z.string().trim().min(1).max(128),
  user_type: z.enum(['operator', 'agent']).default('operator'),
  role: z.enum(ROLES).default('member'),
  is_primary: z.boolean().default(false),
});
export const UpdateMember = z.object({ role: z.enum(ROLES).optional(), is_primary: z.boolean().optional() });

const teamFields = {
  id: z.string(),
  org_id: z.string(),
  name: z.string(),
  description: z.string(),
  created_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
};

export const TeamMember = z
  .object({
    id: z.number().int(),
    team_id: z.string(),
    user_id: z.string(),
    user_type: z.string(),
    role: z.string(),
    is_primary: z.number().int(),
    joined_at: z.string(),
  })
  .meta({ id: 'TeamMember' });

export const TeamList = z.object({
  teams: z.array(z.object({ ...teamFields, member_count: z.number().int() }).meta({ id: 'TeamSummary' })),
});
export const Team = z
  .object({ ...teamFields, members: z.array(TeamMember), projects: z.array(Project).optional() })
  .meta({ id: 'Team' });
export const TeamProjects = z.object({ projects: z.array(Project) });
