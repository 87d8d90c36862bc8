import { z } from 'zod';
import { nameParam } from '../../http/contract.js';
import { B, S, serviceBody } from '../../http/contract-fields.js';

/**
 * GitHub PR proxy (spec 05 §14). The token check comes before any input check (the spec's order),
 * so the bodies are validated by the service, after it; here they are documented.
 */

export const RepoParams = z.object({ owner: nameParam, repo: nameParam });
export const PullParams = z.object({ owner: nameParam, repo: nameParam, number: nameParam });

export const PullsQuery = z.object({
  state: z.string().optional().meta({ description: '`open` (default), `closed` or `all`' }),
});

export const CreatePull = serviceBody({
  title: { ...S, description: 'Required' },
  head: { ...S, description: 'Required: the branch with the changes' },
  base: { ...S, description: 'Required: the branch to merge into' },
  body: S,
  draft: B,
});

export const MergePull = serviceBody({
  merge_method: { type: 'string', enum: ['merge', 'squash', 'rebase'], description: 'Default `squash`' },
  commit_title: S,
  commit_message: S,
});

const PullSummary = z
  .object({
    number: z.number().int(),
    title: z.string(),
    author: z.string().nullable(),
    branch: z.string().nullable(),
    base: z.string().nullable(),
    state: z.string(),
    draft: z.boolean(),
    url: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'PullRequestSummary' });

export const PullList = z.object({ count: z.number().int(), prs: z.array(PullSummary) });
export const PullCreated = z.object({ number: z.number().int(), title: z.string(), url: z.string() });
export const PullMerged = z.object({
  number: z.number().int(),
  sha: z.string().nullable().optional(),
  merged: z.literal(true),
});
