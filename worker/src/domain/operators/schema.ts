import { z } from 'zod';
import { idString } from '../../http/validate.js';
import { AVAILABILITY } from './service.js';

/** The wire shapes of the people roster (spec 01 §2.7). Agents see it without email and login link. */

export const OperatorIdParams = z.object({ id: z.string().meta({ example: 'alice' }) });

const text = (max: number) => z.string().max(max);
const email = z.union([z.literal(''), z.email().max(320)]);

export const CreateOperator = z.object({
  id: idString(128),
  display_name: z.string().trim().min(1).max(200),
  role: text(100).optional(),
  responsibilities: text(5000).optional(),
  email: email.optional(),
  studio_user_id: z.number().int().positive().nullable().optional(),
});

export const UpdateOperator = z.object({
  display_name: z.string().trim().min(1).max(200).optional(),
  role: text(100).optional(),
  responsibilities: text(5000).optional(),
  email: email.optional(),
  studio_user_id: z.number().int().positive().nullable().optional(),
  status: z.enum(['active', 'inactive']).optional(),
  availability: z.enum(AVAILABILITY).optional(),
  away_message: text(1000).optional(),
});

export const SetAvailability = z.object({
  availability: z.enum(AVAILABILITY),
  message: text(1000).nullable().optional(),
});

export const Operator = z
  .object({
    id: z.string(),
    display_name: z.string(),
    role: z.string(),
    responsibilities: z.string(),
    email: z.string().optional().meta({ description: 'Not shown to agents' }),
    studio_user_id: z.number().int().nullable().optional().meta({ description: 'Not shown to agents' }),
    status: z.string(),
    availability: z.string(),
    last_seen_at: z.string().nullable(),
    away_message: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    primary_team_id: z.string().nullable(),
  })
  .meta({ id: 'Operator' });
