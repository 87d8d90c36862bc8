import { z } from 'zod';

/** The wire shapes of projects (spec 04 §5) and their bug categories (spec 03 §6). */

export const ProjectIdParams = z.object({ id: z.string().meta({ example: 'web' }) });

// Project ids are stored verbatim (SEC-52); they only have to be a usable path segment.
const projectId = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^/?#\s]+$/, 'must not contain "/", "?", "#" or spaces');
const text = (max: number) => z.string().max(max);

export const CreateProject = z.object({
  id: projectId,
  name: z.string().trim().min(1).max(200),
  description: text(5000).optional(),
  org_id: text(200).optional(),
  repo_url: text(2000).optional(),
  repo_path: text(2000).optional(),
  type: text(100).optional(),
});

export const UpdateProject = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: text(5000).optional(),
  repo_url: text(2000).optional(),
  repo_path: text(2000).optional(),
  org_id: text(200).optional(),
  type: text(100).optional(),
  status: text(100).optional(),
  // The original accepted the categories as a JSON string too; a string that is a JSON array still works.
  bug_categories: z
    .preprocess(
      (v) => {
        if (typeof v !== 'string') return v;
        try {
          return JSON.parse(v);
        } catch {
          return v;
        }
      },
      z.array(z.string().trim().min(1).max(100)).max(100),
    )
    .optional(),
  team_id: text(200).nullable().optional(),
});

export const ProjectListQuery = z.object({ org_id: z.string().optional() });

export const Project = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    org_id: z.string(),
    repo_url: z.string(),
    repo_path: z.string(),
    type: z.string(),
    status: z.string(),
    created_at: z.string(),
    bug_categories: z.string().meta({ description: 'JSON array text' }),
    team_id: z.string().nullable(),
  })
  .meta({ id: 'Project' });

export const BugCategories = z.object({ project_id: z.string(), categories: z.array(z.string()) });
export const ProjectDeleted = z.object({ ok: z.literal(true), deleted: z.string() });
