import { z } from 'zod';
import { idParam } from '../../http/contract.js';
import { sentence } from '../../http/contract-fields.js';

/** Dashboard widgets pushed by agents (spec 05 §13). */

export const WidgetIdParams = z.object({ id: idParam });

const data = z
  .union([z.string().max(100_000), z.record(z.string(), z.unknown()), z.array(z.unknown())])
  .transform((v) => (typeof v === 'string' ? v : JSON.stringify(v)))
  .meta({ description: 'JSON text, or an object/array stored as JSON text' });

export const CreateWidget = z.object({
  title: sentence({ type: 'string', maxLength: 500 }, (v) => (typeof v !== 'string' || !v.trim() ? 'required' : null), {
    always: true,
  }).pipe(z.string().trim().min(1).max(500)),
  project_id: z.string().max(128).default(''),
  widget_type: z.string().trim().min(1).max(50).default('status'),
  data: data.default('{}'),
  position: z.number().int().min(-1_000_000).max(1_000_000).default(0),
  agent_id: z
    .unknown()
    .optional()
    .meta({ type: 'string', description: 'Owner (admins only; agents own their widgets)' }),
});

export const UpdateWidget = z.object({
  title: z.string().trim().min(1).max(500).optional(),
  widget_type: z.string().trim().min(1).max(50).optional(),
  data: data.optional(),
  position: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  status: z.enum(['active', 'archived']).optional(),
});

export const WidgetListQuery = z.object({ agent_id: z.string().optional(), project_id: z.string().optional() });

export const Widget = z
  .object({
    id: z.number().int(),
    agent_id: z.string(),
    project_id: z.string(),
    title: z.string(),
    widget_type: z.string(),
    data: z.string().meta({ description: 'JSON text' }),
    position: z.number().int(),
    status: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Widget' });

export const WidgetCreated = z.object({ id: z.number().int() });
export const WidgetArchived = z.object({ ok: z.literal(true) });
