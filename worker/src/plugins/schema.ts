import { z } from 'zod';
import { nameParam } from '../http/contract.js';
import { documented } from '../http/contract-fields.js';

/** Plugin management (spec 06 §3). Install and config bodies are checked by manage.ts (its sentences). */

export const PluginNameParams = z.object({ name: nameParam });

const PluginFields = {
  name: z.string(),
  display_name: z.string(),
  description: z.string(),
  version: z.string(),
  author: z.string(),
  enabled: z.number().int(),
  route_prefix: z.string(),
  mcp_tool_count: z.number().int(),
  installed_at: z.string(),
  updated_at: z.string(),
  loaded: z.boolean(),
  load_error: z.string().nullable(),
};

export const Plugin = z.object(PluginFields).meta({ id: 'Plugin' });

export const PluginDetail = z
  .object({
    ...PluginFields,
    type: z.string(),
    config_schema: z.array(z.record(z.string(), z.unknown())),
    mcp_tools: z.array(z.object({ name: z.string(), description: z.string() })),
    hooks: z.array(z.string()),
    gated_actions: z.array(z.unknown()),
    pages: z.array(z.unknown()),
    public_routes: z.array(z.string()),
    routes: z.array(z.object({ method: z.string(), path: z.string(), auth: z.string() })),
    errors: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'PluginDetail' });

export const PluginConfig = z
  .record(z.string(), z.string())
  .meta({ description: 'Effective config values; secrets masked (SEC-39)' });

export const InstallPlugin = z.looseObject({ name: documented({ type: 'string', description: 'Required' }) });
export const WritePluginConfig = z
  .record(z.string(), z.unknown())
  .meta({ description: 'Config keys and values (the plugin config schema decides)' });
export const UninstallQuery = z.object({
  purge: z.string().optional().meta({ description: '`1`/`true` deletes its data' }),
});
export const UninstallBody = z.object({ purge: documented({ type: 'boolean' }) });

export const Toggled = z.object({
  ok: z.literal(true),
  name: z.string(),
  enabled: z.number().int(),
  loaded: z.boolean().optional(),
  load_error: z.string().nullable().optional(),
});

/** Answers assembled from manifests (free-form plugin-declared JSON). */
export const ManifestList = z.array(z.unknown());
export const ManifestAnswer = z.record(z.string(), z.unknown());
