import { z } from 'zod';
import { documented } from '../../http/contract-fields.js';

/** The wire shapes of team settings (spec 01 §2.9). Values are whatever JSON the admin stored. */

export const SectionParams = z.object({ section: z.string().meta({ example: 'guidance' }) });
export const SettingParams = z.object({ section: z.string(), key: z.string() });

export const PutSetting = z.looseObject({ value: documented({ description: 'Any JSON value (≤ 100000 chars)' }) });

/** `{ section: { key: value } }`; values are the stored JSON, parsed. */
export const AllSettings = z.record(z.string(), z.record(z.string(), z.unknown())).meta({ id: 'TeamSettings' });
export const SectionSettings = z.record(z.string(), z.unknown());

export const SettingWritten = z.object({
  ok: z.literal(true),
  setting: z.object({
    id: z.number().int(),
    section: z.string(),
    key: z.string(),
    value: z.string(),
    updated_at: z.string(),
    updated_by: z.string(),
  }),
});
export const Synced = z.object({ ok: z.literal(true), message: z.string() });
