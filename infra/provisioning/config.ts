import { CLOUDFLARE_DEFAULT_URL } from './cloudflare.js';
import { RAILWAY_DEFAULT_URL } from './railway.js';

/**
 * The token-gated switch: provisioning exists only when all four required variables are set.
 * Routes answer 503 {"error":"Provisioning not configured"} when this returns null.
 */
export interface ProvisioningConfig {
  railwayToken: string;
  railwayApiUrl: string;
  /** Railway team (workspace) that owns tenant projects; personal account when absent. */
  railwayTeamId: string | null;
  cloudflareToken: string;
  cloudflareZoneId: string;
  cloudflareApiUrl: string;
  /** Tenants live at `<slug>.<baseDomain>`. */
  baseDomain: string;
  /** Default source of tenant services: GitHub `owner/repo` ... */
  sourceRepo: string | null;
  sourceBranch: string | null;
  /** ... or a container image (wins when both are set). */
  sourceImage: string | null;
  /** Wall time one advance (the create's waitUntil, one cron pass per job) may spend; null = runtime default. */
  advanceBudgetMs: number | null;
}

export type EnvLike = Record<string, string | undefined>;

const trimmed = (v: string | undefined): string | null => {
  const t = (v ?? '').trim();
  return t === '' ? null : t;
};

export function provisioningConfigFromEnv(env: EnvLike): ProvisioningConfig | null {
  const railwayToken = trimmed(env.RAILWAY_TOKEN);
  const cloudflareToken = trimmed(env.CLOUDFLARE_TOKEN);
  const cloudflareZoneId = trimmed(env.CLOUDFLARE_ZONE_ID);
  const baseDomain =
    trimmed(env.PROVISIONING_BASE_DOMAIN)
      ?.toLowerCase()
      .replace(/^\.+|\.+$/g, '') ?? null;
  if (!railwayToken || !cloudflareToken || !cloudflareZoneId || !baseDomain) return null;
  const repo = trimmed(env.PROVISIONING_SOURCE_REPO);
  const budget = trimmed(env.PROVISIONING_ADVANCE_BUDGET_MS);
  if (budget !== null && !/^[1-9][0-9]{0,6}$/.test(budget))
    throw new Error('PROVISIONING_ADVANCE_BUDGET_MS must be a whole number of milliseconds (1-9999999)');
  return {
    railwayToken,
    railwayApiUrl: trimmed(env.RAILWAY_API_URL) ?? RAILWAY_DEFAULT_URL,
    railwayTeamId: trimmed(env.RAILWAY_TEAM_ID),
    cloudflareToken,
    cloudflareZoneId,
    cloudflareApiUrl: trimmed(env.CLOUDFLARE_API_URL) ?? CLOUDFLARE_DEFAULT_URL,
    baseDomain,
    sourceRepo: repo ? normalizeRepo(repo) : null,
    sourceBranch: trimmed(env.PROVISIONING_SOURCE_BRANCH),
    sourceImage: trimmed(env.PROVISIONING_SOURCE_IMAGE),
    advanceBudgetMs: budget === null ? null : Number(budget),
  };
}

/**
 * Railway expects `owner/repo`; accept a GitHub URL too (the original passed the full URL,
 * which Railway rejects). Returns null for anything that is not recognisably owner/repo.
 */
export function normalizeRepo(input: string): string | null {
  const s = input
    .trim()
    .replace(/^https?:\/\/(www\.)?github\.com\//i, '')
    .replace(/^git@github\.com:/i, '')
    .replace(/\.git$/i, '')
    .replace(/\/+$/, '');
  return /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(s) ? s : null;
}

/** Every variable this module reads, for the app's single env list and .env.example. */
export const PROVISIONING_ENV_VARS = [
  'RAILWAY_TOKEN',
  'RAILWAY_API_URL',
  'RAILWAY_TEAM_ID',
  'CLOUDFLARE_TOKEN',
  'CLOUDFLARE_ZONE_ID',
  'CLOUDFLARE_API_URL',
  'PROVISIONING_BASE_DOMAIN',
  'PROVISIONING_SOURCE_REPO',
  'PROVISIONING_SOURCE_BRANCH',
  'PROVISIONING_SOURCE_IMAGE',
  'PROVISIONING_ADVANCE_BUDGET_MS',
] as const;
