import { z } from 'zod';
import { documented } from '../../http/contract-fields.js';

/** The wire shapes of the kill switch and sleep mode (spec 01 §5.2–5.3, 02 §3.8). */

export const OverrideBody = z.looseObject({
  action: documented({ type: 'string', enum: ['freeze', 'unfreeze'], default: 'freeze' }),
});

export const OverrideAnswer = z.object({
  ok: z.literal(true),
  admin_status: z.enum(['frozen', 'coordinator']),
  message: z.string(),
});

export const SleepBody = z.looseObject({
  action: documented({ type: 'string', enum: ['on', 'off'] }),
  operator_id: documented({ type: 'string', description: 'Whose sleep (default: the calling operator)' }),
  directive: documented({ type: 'string', maxLength: 5000 }),
  priorities: documented({ type: 'array', maxItems: 100 }),
  approval_policy: documented({ type: 'string', enum: ['queue_high', 'normal'], default: 'queue_high' }),
});

/** The stored sleep state: `active` plus what the operator set when turning it on. */
const SleepState = z.record(z.string(), z.unknown()).meta({ id: 'SleepState' });

export const SleepSet = z.object({
  ok: z.literal(true),
  sleep_mode: SleepState,
  autonomous: z.boolean().optional(),
  auto_away_operators: z.array(z.string()).optional(),
  was_override: z.boolean().optional(),
  slept_since: z.string().nullable().optional(),
  morning_summary: z.unknown().optional().meta({ description: 'What happened while asleep' }),
});

export const SleepOverview = z.object({
  sleep_mode: SleepState,
  autonomous: z.boolean(),
  available_operators: z.number().int(),
  log: z.record(z.string(), z.unknown()).nullable().meta({ description: 'The sleep log (lists of what happened)' }),
});
