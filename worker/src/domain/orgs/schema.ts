import { z } from 'zod';
import { Project } from '../projects/schema.js';

/** The wire shapes of organisations (spec 01 §2.9). */

export const OrgIdParams = z.object({ id: z.string().meta({ example: 'acme' }) });

const orgId = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^/?#\s]+$/, 'must not contain "/", "?", "#" or spaces');

export const CreateOrg = z.object({
  id: orgId,
  name: z.string().trim().min(1).max(200),
  description: z.string().max(5000).optional(),
});

export const UpdateOrg = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(5000).optional(),
  plan: z.string().max(100).optional(),
  status: z.string().max(100).optional(),
});

export const Org = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    owner_id: z.string(),
    plan: z.string(),
    status: z.string(),
    created_at: z.string(),
  })
  .meta({ id: 'Organization' });

export const OrgWithProjects = Org.extend({ projects: z.array(Project) });
