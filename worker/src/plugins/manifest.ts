import { z } from 'zod';

/**
 * plugin.json and mcp-tools.json (spec 06 §2.2, §2.8), validated at load. Every field the
 * original accepted is accepted (unknown extra fields are kept, not refused), but the ones the
 * host acts on are typed strictly: a bad manifest refuses that plugin with one log line naming
 * the field, and the server still starts.
 */

const PLUGIN_NAME_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;

const configField = z.object({
  key: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  type: z.enum(['string', 'number', 'boolean', 'select', 'secret']),
  label: z.string().optional(),
  description: z.string().optional(),
  default: z.union([z.string(), z.number(), z.boolean()]).optional(),
  options: z.array(z.string()).optional(),
  required: z.boolean().optional(),
});
export type ConfigField = z.infer<typeof configField>;

const legacyConfigMap = z.record(
  z.string(),
  z.looseObject({
    type: z.string().optional(),
    label: z.string().optional(),
    description: z.string().optional(),
    default: z.unknown().optional(),
  }),
);

export const manifestSchema = z.looseObject({
  name: z.string().regex(PLUGIN_NAME_RE, 'must be lower-case letters, digits and "-"'),
  version: z.string().max(32).default('1.0.0'),
  displayName: z.string().max(200).default(''),
  description: z.string().max(2000).default(''),
  author: z.string().max(200).default(''),
  enabled: z.boolean().optional(),
  routePrefix: z
    .string()
    .regex(/^\/[a-z0-9][a-z0-9-]*$/, 'must be one path segment like "/guardrails"')
    .optional(),
  schema: z.string().optional(),
  mcpTools: z.string().optional(),
  gatedActions: z.array(z.string().regex(/^[a-z0-9_]{1,64}$/)).default([]),
  configSchema: z.array(configField).default([]),
  config_schema: legacyConfigMap.optional(),
  type: z.string().optional(),
  hooks: z.array(z.unknown()).default([]),
  pages: z.array(z.unknown()).default([]),
  dashboard_widgets: z.array(z.unknown()).optional(),
  dashboardWidgets: z.array(z.unknown()).optional(),
  /** Routes reachable without credentials, as "METHOD /path" (SEC-38); each must verify its caller itself. */
  /**
   * The plugin installs a pre-mutation check (guardrails). While it is enabled, a failure to load
   * or to install the check refuses guarded writes instead of letting them through (SEC-36, REL-13).
   */
  preMutationGuard: z.boolean().optional(),
  publicRoutes: z.array(z.string().regex(/^(GET|POST|PUT|DELETE|PATCH) \/\S*$/)).default([]),
});
export type Manifest = z.infer<typeof manifestSchema>;

export const mcpToolSchema = z.looseObject({
  name: z.string().regex(/^[a-z0-9_]{1,64}$/),
  description: z.string().min(1),
  inputSchema: z
    .looseObject({ type: z.literal('object'), properties: z.record(z.string(), z.unknown()).default({}) })
    .optional(),
  schema: z.record(z.string(), z.unknown()).optional(),
  endpoint: z.object({
    method: z.enum(['GET', 'POST', 'PUT', 'DELETE']).default('GET'),
    path: z.string().startsWith('/'),
    queryMap: z.record(z.string(), z.string()).optional(),
    bodyMap: z.record(z.string(), z.string()).optional(),
  }),
});
export type McpTool = z.infer<typeof mcpToolSchema>;

/** First zod issue as "<field>: <message>" for the one log line. */
export function describeIssue(err: z.ZodError): string {
  const i = err.issues[0];
  const field = i.path.map(String).join('.') || '(root)';
  return `${field}: ${i.message}`;
}

/** The effective config schema: `configSchema`, plus a legacy `config_schema` map converted (W10). */
export function configFields(m: Manifest): ConfigField[] {
  const out = [...m.configSchema];
  for (const [key, f] of Object.entries(m.config_schema ?? {})) {
    if (out.some((x) => x.key === key)) continue;
    const looksSecret = f.type === 'secret' || /secret|token|key|password/i.test(key);
    const def = f.default;
    out.push({
      key,
      type: looksSecret ? 'secret' : f.type === 'number' || f.type === 'boolean' ? f.type : 'string',
      label: f.label,
      description: f.description,
      default: typeof def === 'string' || typeof def === 'number' || typeof def === 'boolean' ? def : undefined,
    });
  }
  return out;
}

export function widgetsOf(m: Manifest): unknown[] {
  return m.dashboard_widgets ?? m.dashboardWidgets ?? [];
}

/** Argument names of a tool (JSON-Schema properties or the legacy flat map). */
export function toolArgs(t: McpTool): string[] {
  if (t.inputSchema) return Object.keys(t.inputSchema.properties ?? {});
  return Object.keys(t.schema ?? {});
}
