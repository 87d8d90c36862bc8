import { z } from 'zod';
import { nameParam } from '../../http/contract.js';

/** Temp files (spec 05 §10): the answers of upload and list. The blob key never leaves. */

export const FileNameParams = z.object({ filename: nameParam });

export const FileUploaded = z.object({
  ok: z.literal(true),
  filename: z.string(),
  url: z.string(),
  size: z.number().int(),
  expires_at: z.string(),
});

export const TempFile = z
  .object({
    filename: z.string(),
    size: z.number().int(),
    uploaded: z.string(),
    expires_in_seconds: z.number().int(),
    url: z.string(),
  })
  .meta({ id: 'TempFile' });
