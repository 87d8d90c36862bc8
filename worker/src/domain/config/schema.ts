import { z } from 'zod';
import { documented } from '../../http/contract-fields.js';

/** The wire shapes of instance configuration (spec 01 §5.1, SEC-56). */

export const ConfigKeyParams = z.object({ key: z.string().meta({ example: 'patrol_enabled' }) });

export const ConfigEntry = z
  .object({ key: z.string(), value: z.string(), updated_at: z.string(), updated_by: z.string() })
  .meta({ id: 'ConfigEntry' });

export const ConfigValue = z.object({ key: z.string(), value: z.string() }).meta({ id: 'ConfigValue' });

export const PutConfig = z.looseObject({
  value: documented({
    description: 'Known keys are checked against their own schema; strings are stored verbatim, anything else as JSON',
  }),
});
