import { z } from 'zod';
import { sentence } from '../../http/contract-fields.js';

/** `POST /reasoning` (spec 01 §5.12). Sentences as the route always answered them. */

export const REASONING_STEPS = ['thinking', 'tool_call', 'result', 'done', 'error'] as const;
const MAX_REASONING_TEXT = 64 * 1024;

const absent = (v: unknown) => v === undefined || v === null;

export const ReasoningStep = z.object({
  // `invalid step` names no field first, so the handler keeps that one check.
  step: z
    .unknown()
    .optional()
    .meta({ type: 'string', enum: [...REASONING_STEPS], description: 'Default `thinking`' }),
  task_id: sentence({ type: ['integer', 'null'], minimum: 1 }, (v) =>
    absent(v) || (typeof v === 'number' && Number.isInteger(v) && v > 0) ? null : 'must be a positive integer',
  ),
  turn: sentence({ type: ['integer', 'null'], minimum: 0 }, (v) =>
    absent(v) || (typeof v === 'number' && Number.isInteger(v) && v >= 0) ? null : 'must be a non-negative integer',
  ),
  text: sentence({ type: ['string', 'null'], maxLength: MAX_REASONING_TEXT }, (v) =>
    absent(v)
      ? null
      : typeof v !== 'string'
        ? 'must be a string'
        : v.length > MAX_REASONING_TEXT
          ? `exceeds max length (${MAX_REASONING_TEXT} chars)`
          : null,
  ),
  tool: sentence({ type: ['object', 'null'], description: 'The tool called (`name` is shown in the summary)' }, (v) =>
    absent(v) || (typeof v === 'object' && !Array.isArray(v)) ? null : 'must be an object',
  ),
  agent: z.unknown().optional().meta({ type: 'string', description: 'Whose reasoning (admins only)' }),
});

export const ReasoningRecorded = z.object({ ok: z.literal(true), id: z.number().int() });
