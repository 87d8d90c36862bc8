import { z } from 'zod';
import { documented, S, sentence } from '../../http/contract-fields.js';

/**
 * `/file-server/*` (spec 05 §11.2). `path` and `drone_id` are checked by the tunnel helpers (with
 * their sentences, path first); what a drone answers is its own JSON and passes as sent.
 */

const drone = { ...S, maxLength: 128, description: 'Which file drone (default: the only one connected)' };

export const Browse = z.object({
  path: documented({ ...S, maxLength: 4096, description: 'A path on the drone; `..` is refused' }),
  drone_id: documented(drone),
});

export const Search = Browse.extend({
  query: sentence({ ...S, maxLength: 500, description: 'Glob (default `*`)' }, (v) =>
    v === undefined || v === null || v === '' || (typeof v === 'string' && v.length <= 500) ? null : 'must be a string',
  ),
});

export const DroneQuery = z.object({ drone_id: z.string().optional().meta(drone) });
export const DownloadQuery = DroneQuery.extend({ path: z.string().optional().meta({ description: 'Required' }) });

export const TunnelStatus = z
  .object({
    online: z.boolean(),
    drone_id: z.string().optional(),
    info: z.unknown().optional(),
    message: z.string().optional(),
  })
  .meta({ id: 'FileDroneStatus' });

export const DroneAnswer = z
  .record(z.string(), z.unknown())
  .meta({ description: "The file drone's answer (listing, file info or search hits), as it sent it" });
