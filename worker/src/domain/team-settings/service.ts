import { parseDbTime } from '../../db/time.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { badRequest } from '../../http/errors.js';
import { atomicWrite } from '../events/write.js';
import { teamSettingsRepo, type TeamSettingRow } from './repo.js';

const SECTIONS = ['coding_standards', 'deploy_workflow', 'brand', 'guardrails', 'team_rules'] as const;

const parsed = (v: string): unknown => {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
};

const strList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const str = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

/** Team settings and their sync into the `customer-agent` node profile (spec 01 §2.9). */
export class TeamSettingsService {
  constructor(private readonly app: AppContext) {}

  private shape(rows: TeamSettingRow[]) {
    const out: Record<string, Record<string, unknown>> = {};
    for (const r of rows) {
      out[r.section] ??= {};
      out[r.section][r.key] = parsed(r.value);
    }
    return out;
  }

  async all() {
    return this.shape(await teamSettingsRepo.all(this.app.db));
  }

  async section(section: string) {
    const all = this.shape(await teamSettingsRepo.section(this.app.db, section));
    // Own keys only: `constructor` or `toString` must not find Object.prototype's (SEC-53).
    return Object.hasOwn(all, section) ? all[section] : {};
  }

  async put(p: Principal, section: string, key: string, value: unknown) {
    if (!(SECTIONS as readonly string[]).includes(section))
      throw badRequest(`Invalid section. Must be one of: ${SECTIONS.join(', ')}`);
    const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
    // The setting and its event commit together (issue 17). The profile is derived from all the
    // settings and rebuilt after; one a crash leaves stale is rebuilt by the next write or sync.
    const res = await atomicWrite(this.app)
      .add('setting', teamSettingsRepo.put(section, key, text, p.who))
      .event({
        type: 'team_settings_updated',
        agent: p.who,
        summary: `Team setting ${section}.${key} updated`,
        data: { section, key },
      })
      .commit();
    const row = res.row<TeamSettingRow>('setting')!;
    await this.sync();
    return {
      ok: true as const,
      setting: {
        id: row.id,
        section: row.section,
        key: row.key,
        value: row.value,
        updated_at: isoOf(row.updated_at),
        updated_by: row.updated_by,
      },
    };
  }

  async remove(p: Principal, section: string, key: string) {
    // A key that was not there changes nothing and records no event.
    await atomicWrite(this.app)
      .add(null, teamSettingsRepo.delete(section, key))
      .eventIfChanged({
        type: 'team_settings_updated',
        agent: p.who,
        summary: `Team setting ${section}.${key} deleted`,
        data: { section, key },
      })
      .commit();
    await this.sync();
    return { ok: true as const };
  }

  /** Rebuilds the customer-agent profile's guidance from the settings (brand is stored only). */
  async sync() {
    const s = await this.all();
    const g = s.guardrails ?? {};
    const rules: Record<string, { description: string; severity: string }> = {};
    const cs = s.coding_standards ?? {};
    const checkpoints = strList(g.md_checkpoints);
    if (Object.keys(cs).length) {
      const langs = strList(cs.languages);
      checkpoints.push(...langs);
      rules.coding_standards = {
        severity: 'high',
        description:
          `Languages: ${langs.join(', ')}. Linter: ${str(cs.linter)}. Formatter: ${str(cs.formatter)}. Tests: ${str(cs.tests)}. ${str(cs.style_notes)}`.trim(),
      };
    }
    const dw = s.deploy_workflow ?? {};
    if (Object.keys(dw).length) {
      rules.deploy_workflow = {
        severity: 'high',
        description: `Stages: ${strList(dw.stages).join(' → ')}. Method: ${str(dw.method)}. PR: ${JSON.stringify(dw.pr ?? null)}`,
      };
    }
    const tr = s.team_rules ?? {};
    if (Object.keys(tr).length) {
      rules.team_rules = {
        severity: 'medium',
        description: `Style: ${str(tr.style)}. TZ: ${str(tr.timezone)}. Hours: ${str(tr.hours)}`,
      };
    }
    if (Array.isArray(g.custom_rules)) {
      for (const r of g.custom_rules as Array<Record<string, unknown>>) {
        if (r && typeof r.key === 'string')
          rules[r.key] = {
            description: str(r.description),
            severity: typeof r.severity === 'string' ? r.severity : 'medium',
          };
      }
    }
    await teamSettingsRepo.upsertCustomerProfile(this.app.db, {
      rules: JSON.stringify(rules),
      tool_whitelist: JSON.stringify(strList(g.tool_whitelist)),
      repo_list: JSON.stringify(strList(g.repo_list)),
      md_checkpoints: JSON.stringify([...new Set(checkpoints)]),
      md_blocklist: JSON.stringify(strList(g.md_blocklist)),
    });
    return { ok: true as const, message: 'Profile sync complete' };
  }
}

function isoOf(sqlite: string) {
  const ms = parseDbTime(sqlite);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : sqlite;
}
