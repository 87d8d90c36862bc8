import { atomicWrite } from '../events/write.js';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { badRequest, notFound } from '../../http/errors.js';
import { parseWith } from '../../http/validate.js';
import { configRepo, type ConfigRow } from './repo.js';
import { configKeyDef, DEFAULT_RISK_TIERS, isAgentVisible, isSecretKey, RISK_TIERS, type RiskTier } from './keys.js';
import type { Queryable } from '../../db/db.js';

const KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_VALUE_CHARS = 64 * 1024;

/** Who may see a key: admins everything; everyone else only keys marked agent-visible (SEC-56). */
function visibleTo(p: Principal, key: string): boolean {
  if (p.isAdmin) return true;
  return isAgentVisible(key) && !isSecretKey(key);
}

/**
 * Turns a request `value` into its stored text. Known keys are validated against their schema;
 * a string that fails is retried as JSON (clients send `"30"` or `'{"deploy":"high"}'`).
 * Strings are stored verbatim, anything else JSON-encoded (spec 01 §5.1).
 */
function encodeConfigValue(key: string, value: unknown): string {
  const def = configKeyDef(key);
  if (!def) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (text.length > MAX_VALUE_CHARS) throw badRequest(`value exceeds max length (${MAX_VALUE_CHARS} chars)`);
    return text;
  }
  let parsed = def.schema.safeParse(value);
  if (!parsed.success && typeof value === 'string') {
    try {
      const decoded = JSON.parse(value);
      const again = def.schema.safeParse(decoded);
      if (again.success) parsed = again;
    } catch {
      /* not JSON: report the original problem */
    }
  }
  if (!parsed.success) {
    // Re-run through parseWith for the standard 400 naming the field (`value`, `value.deploy`…).
    parseWith(z.object({ value: def.schema }), { value });
    throw badRequest(`value is invalid for ${key}`);
  }
  const v = parsed.data;
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  if (text.length > MAX_VALUE_CHARS) throw badRequest(`value exceeds max length (${MAX_VALUE_CHARS} chars)`);
  return text;
}

/** The configured tier per action type; a broken stored value falls back to the seeded map. */
export async function readRiskTiers(db: Queryable): Promise<Record<string, RiskTier>> {
  const raw = await configRepo.value(db, 'risk_tiers');
  if (!raw) return { ...DEFAULT_RISK_TIERS };
  try {
    const obj = JSON.parse(raw) as Record<string, unknown>;
    const out: Record<string, RiskTier> = {};
    for (const [k, v] of Object.entries(obj ?? {})) {
      if (typeof v === 'string' && (RISK_TIERS as readonly string[]).includes(v)) out[k] = v as RiskTier;
    }
    return out;
  } catch {
    return { ...DEFAULT_RISK_TIERS };
  }
}

export class ConfigService {
  constructor(private readonly app: AppContext) {}

  async list(p: Principal): Promise<ConfigRow[]> {
    const rows = await configRepo.list(this.app.db);
    return rows.filter((r) => visibleTo(p, r.key));
  }

  async get(p: Principal, key: string): Promise<{ key: string; value: string }> {
    const row = await configRepo.get(this.app.db, key);
    // A hidden key answers exactly like a missing one: its existence is not disclosed.
    if (!row || !visibleTo(p, key)) throw notFound('Config key not found');
    return { key: row.key, value: row.value };
  }

  async put(p: Principal, key: string, value: unknown): Promise<{ key: string; value: string }> {
    if (!KEY_PATTERN.test(key))
      throw badRequest('key may contain only letters, digits, "_", ".", ":" and "-" (max 64)');
    if (value === undefined || value === null) throw badRequest('value required');
    const text = encodeConfigValue(key, value);
    const before = await configRepo.value(this.app.db, key);
    const who = p.who;
    const changed = { type: 'config_changed', agent: who, summary: `Config ${key} updated`, data: { key } };
    const w = atomicWrite(this.app)
      .add(null, configRepo.upsert(key, text, who))
      .event(changed);
    // Setting admin_status here is the kill switch too (spec 01 §5.2): same events as /admin/override.
    let semantic: { type: string; agent: string; summary: string } | null = null;
    if (key === 'admin_status' && before !== text) {
      semantic =
        text === 'frozen'
          ? { type: 'admin_frozen', agent: who, summary: `${who} froze Claude Admin` }
          : { type: 'admin_unfrozen', agent: who, summary: `${who} unfroze Claude Admin` };
      w.event(semantic);
    }
    await w.commit();
    return { key, value: text };
  }
}
