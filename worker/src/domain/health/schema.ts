import { z } from 'zod';

/**
 * GET /health (spec 01 §1.6, REL-16). Node answers the documented shape; Workers the same facts
 * where they exist there (an isolate's age instead of uptime, no memory figure).
 */
export const Health = z
  .object({
    status: z.enum(['ok', 'degraded']),
    uptime_seconds: z.number().int().optional().meta({ description: 'Node: process uptime' }),
    isolate_age_seconds: z.number().int().optional().meta({ description: 'Workers: age of this isolate' }),
    db_ok: z.boolean(),
    db_latency_ms: z.number().nullable().optional().meta({ description: 'Workers: database round trip' }),
    agents_online: z.number().int(),
    memory_usage_mb: z.number().nullable().optional().meta({ description: 'Node: resident memory' }),
    version: z.string(),
  })
  .meta({ id: 'Health' });
