import { z } from 'zod';
import { idParam, queryInt } from '../../http/contract.js';

/** The wire shapes of feedback (spec 03 §12). Ratings are integers 1–5, never coerced (W22). */

export const FeedbackIdParams = z.object({ id: idParam });

const ratingFilter = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    if (raw === undefined || raw === '') return undefined;
    if (!/^[1-5]$/.test(raw)) {
      ctx.addIssue({ code: 'custom', message: 'must be an integer from 1 to 5', params: { sentence: true } });
      return z.NEVER;
    }
    return Number(raw);
  });
const optText = z
  .string()
  .optional()
  .transform((v) => v || undefined);

export const FeedbackListQuery = z.object({
  entity_type: optText,
  agent_id: optText,
  submitted_by: optText,
  rating: ratingFilter,
  min_rating: ratingFilter,
  limit: queryInt(50, 1, 500),
  offset: queryInt(0, 0, 1_000_000),
});

export const CreateFeedback = z.object({
  // First: the rating's own sentence comes before any other field's (W22).
  rating: z.custom<number>((v) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 5, {
    message: 'must be 1-5',
    params: { sentence: true },
  }),
  entity_type: z.string().trim().min(1).max(50).default('general'),
  entity_id: z.union([z.string().max(128), z.number()]).default(''),
  subject: z.string().max(500).default(''),
  comment: z.string().max(10_000).default(''),
  agent_id: z.string().max(128).default(''),
});

export const Feedback = z
  .object({
    id: z.number().int(),
    entity_type: z.string(),
    entity_id: z.string(),
    subject: z.string(),
    rating: z.number().int(),
    comment: z.string(),
    submitted_by: z.string(),
    agent_id: z.string(),
    created_at: z.string(),
  })
  .meta({ id: 'Feedback' });

const group = { count: z.number().int(), avg_rating: z.number().nullable() };
export const FeedbackSummary = z.object({
  total: z.number().int(),
  avg_rating: z.number(),
  by_agent: z.array(z.object({ agent_id: z.string(), ...group })),
  by_type: z.array(z.object({ entity_type: z.string(), ...group })),
  rating_dist: z.array(z.object({ rating: z.number().int(), count: z.number().int() })),
  recent: z.array(Feedback),
});
