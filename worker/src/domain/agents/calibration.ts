import type { Queryable } from '../../db/db.js';
import { parseArray, parseObject } from './json.js';

/** Calibration ("node") profiles: resolution of the chain and the calibration block (spec 02 §3.10). */

export interface NodeProfileRow {
  id: string;
  node_type: string;
  layer: string;
  parent_id: string | null;
  rules: string;
  required_concepts: string;
  tool_whitelist: string;
  repo_list: string;
  md_checkpoints: string;
  md_blocklist: string;
  mcp_config: string;
  created_at: string;
  updated_at: string;
}

export interface ResolvedRule {
  severity?: string;
  description?: string;
  source: string;
  [k: string]: unknown;
}

export interface ResolvedChain {
  rules: Record<string, ResolvedRule>;
  required_concepts: unknown[];
  mcp_config: Record<string, unknown>;
  tool_whitelist: unknown[];
  repo_list: unknown[];
  md_checkpoints: unknown[];
  md_blocklist: unknown[];
  layers_applied: { id: string; layer: string; node_type: string }[];
}

const ARRAY_FIELDS = ['required_concepts', 'tool_whitelist', 'repo_list', 'md_checkpoints', 'md_blocklist'] as const;

export async function resolveCalibrationChain(
  db: Queryable,
  agentId: string,
  agentType: string,
): Promise<ResolvedChain> {
  const ids = [`default-${agentType}`, `customer-${agentType}`, agentId];
  const rows = await db.all<NodeProfileRow>('SELECT * FROM node_profiles WHERE id IN (?, ?, ?)', ids);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const out: ResolvedChain = {
    rules: {},
    required_concepts: [],
    mcp_config: {},
    tool_whitelist: [],
    repo_list: [],
    md_checkpoints: [],
    md_blocklist: [],
    layers_applied: [],
  };
  for (const id of ids) {
    const p = byId.get(id);
    if (!p) continue;
    out.layers_applied.push({ id: p.id, layer: p.layer, node_type: p.node_type });
    const source = p.layer === 'platform' ? 'platform' : p.layer === 'customer' ? 'team' : p.layer;
    for (const [key, raw] of Object.entries(parseObject(p.rules))) {
      const rule = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
      const prev = out.rules[key];
      const merged: ResolvedRule = {
        ...(prev ?? {}),
        ...rule,
        source: prev?.source === 'platform' && prev.severity === 'critical' ? 'platform' : source,
      };
      // A platform-critical rule stays critical whatever a later layer says.
      if (prev && prev.source === 'platform' && prev.severity === 'critical') merged.severity = 'critical';
      out.rules[key] = merged;
    }
    Object.assign(out.mcp_config, parseObject(p.mcp_config));
    for (const f of ARRAY_FIELDS) for (const v of parseArray(p[f])) if (!out[f].includes(v)) out[f].push(v);
  }
  return out;
}

/** The calibration block served by boot: drift against the agent's latest md_report. */
export function calibrationBlock(chain: ResolvedChain, mdReport: Record<string, unknown> | null, nowIso: string) {
  const drift: { level: string; rule: string; detail: string }[] = [];
  if (!mdReport) {
    drift.push({ level: 'info', rule: 'md_report_missing', detail: 'No md_report in the latest savepoint' });
  } else {
    const present = new Set(parseArray(JSON.stringify(mdReport.anchors_present ?? [])));
    const found = new Set(parseArray(JSON.stringify(mdReport.blocklist_found ?? [])));
    for (const c of chain.md_checkpoints)
      if (!present.has(c)) drift.push({ level: 'warning', rule: 'md_checkpoint_missing', detail: String(c) });
    for (const b of chain.md_blocklist)
      if (found.has(b)) drift.push({ level: 'critical', rule: 'md_blocklist_found', detail: String(b) });
  }
  const status = drift.some((d) => d.level === 'critical')
    ? 'critical'
    : drift.some((d) => d.level === 'warning')
      ? 'drifted'
      : 'aligned';
  return {
    status,
    profile_chain: chain.layers_applied,
    rules: chain.rules,
    drift,
    md_checkpoints: chain.md_checkpoints,
    md_blocklist: chain.md_blocklist,
    last_standup: nowIso,
  };
}
