import { z } from 'zod';

/**
 * The single list of environment variables Mycelium reads. `.env.example` documents each of
 * them; a test fails when the two lists diverge. Both runtimes build their config here.
 */
export const ENV_VARS = [
  'ADMIN_KEY',
  'JWT_SECRET',
  'NODE_ENV',
  'PORT',
  'DATA_DIR',
  'LIBSQL_URL',
  'LIBSQL_AUTH_TOKEN',
  'TRUST_PROXY',
  'PUBLIC_BASE_URL',
  'ALLOWED_HOSTS',
  'CORS_ORIGINS',
  'LOG_LEVEL',
  'RESEND_KEY',
  'RESEND_API_URL',
  'EMAIL_FROM',
  'EMAIL_REPLY_TO',
  'PASSWORD_RESET_PATH',
  'BACKUP_RETENTION',
  'HEARTBEAT_INTERVAL_SECONDS',
  'LEASE_TTL_SECONDS',
  'SQLITE_SYNCHRONOUS',
  'HTTP_HEADERS_TIMEOUT_MS',
  'HTTP_REQUEST_TIMEOUT_MS',
  'HTTP_KEEPALIVE_TIMEOUT_MS',
  'HTTP_IDLE_TIMEOUT_MS',
  'MYCELIUM_WEBHOOK_ALLOW_LOOPBACK',
  'WEBHOOK_MAX_ATTEMPTS',
  'WEBHOOK_RETRY_BASE_MS',
  'APPROVAL_EXPIRY_HOURS',
  'RAILWAY_TOKEN',
  'RAILWAY_API_URL',
  'CLOUDFLARE_TOKEN',
  'CLOUDFLARE_ZONE_ID',
  'CLOUDFLARE_API_URL',
  'PROVISIONING_BASE_DOMAIN',
  'RAILWAY_TEAM_ID',
  'PROVISIONING_SOURCE_REPO',
  'PROVISIONING_SOURCE_BRANCH',
  'PROVISIONING_SOURCE_IMAGE',
  'PROVISIONING_ADVANCE_BUDGET_MS',
  'UPLOAD_MAX_BYTES',
  'GITHUB_TOKEN',
  'GITHUB_API_URL',
  'MEMORY_EMBEDDINGS_URL',
  'MEMORY_EMBEDDINGS_MODEL',
  'MEMORY_EMBEDDINGS_KEY',
  'AUTO_MEMORY_LLM_PROVIDER',
  'AUTO_MEMORY_LLM_URL',
  'AUTO_MEMORY_LLM_MODEL',
  'AUTO_MEMORY_LLM_KEY',
  'MEMORY_PROVIDER_ALLOW_PRIVATE',
  'STUN_URLS',
  'TURN_URLS',
  'TURN_SECRET',
  'TURN_TTL_SECONDS',
] as const;

/** The variables plugins may read through `api.env` (provider settings of the memory plugins); core secrets never. */
export const PLUGIN_ENV_VARS: ReadonlySet<string> = new Set<EnvName>([
  'MEMORY_EMBEDDINGS_URL',
  'MEMORY_EMBEDDINGS_MODEL',
  'MEMORY_EMBEDDINGS_KEY',
  'AUTO_MEMORY_LLM_PROVIDER',
  'AUTO_MEMORY_LLM_URL',
  'AUTO_MEMORY_LLM_MODEL',
  'AUTO_MEMORY_LLM_KEY',
  'MEMORY_PROVIDER_ALLOW_PRIVATE',
]);

export type EnvName = (typeof ENV_VARS)[number];
export type Env = Partial<Record<EnvName, string | undefined>> & Record<string, unknown>;

/** Values that appear in tutorials and compose files; never accepted as real secrets. */
export const PLACEHOLDER_SECRETS = new Set([
  'change-this-secret-in-production',
  'local-admin-key',
  'changeme',
  'change-me',
  'secret',
  'your-secret-here',
  'your-admin-key',
]);

export const MIN_SECRET_LENGTH = 32;

/**
 * `'local-peer'` is the default (TRUST_PROXY unset): forwarded headers count only when the TCP
 * peer itself is on a loopback, private, link-local or unique-local address (a proxy on the same
 * host or network), so a directly exposed server cannot be handed a new client address per request.
 */
export type TrustProxy = boolean | number | string[] | 'local-peer';

export interface Config {
  adminKey: string;
  jwtSecret: string;
  production: boolean;
  port: number;
  dataDir: string;
  libsqlUrl?: string;
  libsqlAuthToken?: string;
  trustProxy: TrustProxy;
  publicBaseUrl?: string;
  allowedHosts?: string[];
  corsOrigins: string[];
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  resendKey?: string;
  resendApiUrl: string;
  emailFrom: string;
  emailReplyTo?: string;
  passwordResetPath: string;
  backupRetention: number;
  /** The slowest heartbeat interval a well-behaved agent uses (the reference MCP client idles at 5 min). */
  heartbeatIntervalSeconds: number;
  /** A claim's lease lapses when its holder has been silent this long (default 3 heartbeat intervals). */
  leaseTtlSeconds: number;
  /** Node: SQLite durability level (PRAGMA synchronous) of every database file. */
  sqliteSynchronous: 'NORMAL' | 'FULL';
  /** Node HTTP server timeouts (ms), set deliberately so slow or silent clients cannot hold sockets. */
  httpTimeouts: { headers: number; request: number; keepAlive: number; idle: number };
  webhookAllowLoopback: string[];
  /** Largest accepted upload (temp files, assets), in bytes (spec 05 §0.4: 200 MiB). */
  uploadMaxBytes: number;
  githubToken?: string;
  githubApiUrl: string;
  /** Attempts per webhook delivery before it is dead-lettered (issue 17 outbox). */
  webhookMaxAttempts: number;
  /** Wait before the 2nd attempt; doubles per attempt (with jitter), capped at one hour. */
  webhookRetryBaseMs: number;
  /** Pending approvals expire after this many hours without a decision; 0 = never (spec 04 A9). */
  approvalExpiryHours: number;
  /** Voice ICE servers (spec 01 §1.10): TURN credentials only when both TURN_URLS and TURN_SECRET are set. */
  voice: { stunUrls: string[]; turnUrls: string[]; turnSecret?: string; turnTtlSeconds: number };
  env: Env;
}

/** No third-party TURN relay and no shared default secret (spec 01 weak spot 14); one public STUN server. */
function voiceConfig(str: (k: EnvName) => string | undefined): Config['voice'] {
  const ttl = str('TURN_TTL_SECONDS');
  const turnTtlSeconds = ttl === undefined ? 86_400 : Number(ttl);
  if (!Number.isInteger(turnTtlSeconds) || turnTtlSeconds < 60 || turnTtlSeconds > 7 * 86_400)
    throw new ConfigError('TURN_TTL_SECONDS must be an integer from 60 to 604800');
  const stun = str('STUN_URLS');
  return {
    // An explicit empty value (STUN_URLS=) is `undefined` here too; `none` turns STUN off.
    stunUrls: stun === 'none' ? [] : (csv(stun) ?? ['stun:stun.l.google.com:19302']),
    turnUrls: csv(str('TURN_URLS')) ?? [],
    turnSecret: str('TURN_SECRET'),
    turnTtlSeconds,
  };
}

export const DEFAULT_CORS_ORIGINS = ['http://localhost:3002', 'http://localhost:5173'];

/** Why a secret is unusable, or null when it is fine. */
export function secretProblem(name: string, value: string | undefined): string | null {
  if (!value) return `${name} is not set`;
  if (PLACEHOLDER_SECRETS.has(value.trim().toLowerCase())) return `${name} is a known placeholder value`;
  if (value.length < MIN_SECRET_LENGTH) return `${name} must be at least ${MIN_SECRET_LENGTH} characters`;
  return null;
}

/** TRUST_PROXY: unset/'' → 'local-peer'; 'true' → true; 'false' → false; digits → hop count; else a list. */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const v = (raw ?? '').trim();
  if (v === '') return 'local-peer';
  if (v.toLowerCase() === 'true') return true;
  if (v.toLowerCase() === 'false') return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const csv = (v: string | undefined) =>
  v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3002),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  BACKUP_RETENTION: z.coerce.number().int().min(1).max(1000).default(28),
  HEARTBEAT_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
  LEASE_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(10)
    .max(7 * 86_400)
    .optional(),
  UPLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(5 * 1024 ** 3)
    .default(200 * 1024 * 1024),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(12),
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(100).max(3_600_000).default(2000),
  APPROVAL_EXPIRY_HOURS: z.coerce.number().int().min(0).max(8760).default(72),
  SQLITE_SYNCHRONOUS: z.enum(['NORMAL', 'FULL']).default('NORMAL'),
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(20_000),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  HTTP_KEEPALIVE_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(5_000),
  HTTP_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(120_000),
});

export class ConfigError extends Error {}

/** Builds the typed config. Throws ConfigError with one sentence naming the problem. */
export function loadConfig(env: Env): Config {
  const str = (k: EnvName) => {
    const v = env[k];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  for (const name of ['ADMIN_KEY', 'JWT_SECRET'] as const) {
    const problem = secretProblem(name, str(name));
    if (problem) throw new ConfigError(problem);
  }
  const parsed = schema.safeParse({
    PORT: str('PORT'),
    LOG_LEVEL: str('LOG_LEVEL'),
    BACKUP_RETENTION: str('BACKUP_RETENTION'),
    HEARTBEAT_INTERVAL_SECONDS: str('HEARTBEAT_INTERVAL_SECONDS'),
    LEASE_TTL_SECONDS: str('LEASE_TTL_SECONDS'),
    UPLOAD_MAX_BYTES: str('UPLOAD_MAX_BYTES'),
    WEBHOOK_MAX_ATTEMPTS: str('WEBHOOK_MAX_ATTEMPTS'),
    WEBHOOK_RETRY_BASE_MS: str('WEBHOOK_RETRY_BASE_MS'),
    APPROVAL_EXPIRY_HOURS: str('APPROVAL_EXPIRY_HOURS'),
    SQLITE_SYNCHRONOUS: str('SQLITE_SYNCHRONOUS')?.toUpperCase(),
    HTTP_HEADERS_TIMEOUT_MS: str('HTTP_HEADERS_TIMEOUT_MS'),
    HTTP_REQUEST_TIMEOUT_MS: str('HTTP_REQUEST_TIMEOUT_MS'),
    HTTP_KEEPALIVE_TIMEOUT_MS: str('HTTP_KEEPALIVE_TIMEOUT_MS'),
    HTTP_IDLE_TIMEOUT_MS: str('HTTP_IDLE_TIMEOUT_MS'),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${String(issue.path[0])} is invalid: ${issue.message}`);
  }
  const publicBaseUrl = str('PUBLIC_BASE_URL')?.replace(/\/+$/, '');
  if (publicBaseUrl && !/^https?:\/\//.test(publicBaseUrl)) {
    throw new ConfigError('PUBLIC_BASE_URL must start with http:// or https://');
  }
  return {
    adminKey: str('ADMIN_KEY')!,
    jwtSecret: str('JWT_SECRET')!,
    production: str('NODE_ENV') === 'production',
    port: parsed.data.PORT,
    dataDir: str('DATA_DIR') ?? './data',
    libsqlUrl: str('LIBSQL_URL'),
    libsqlAuthToken: str('LIBSQL_AUTH_TOKEN'),
    trustProxy: parseTrustProxy(str('TRUST_PROXY')),
    publicBaseUrl,
    allowedHosts: csv(str('ALLOWED_HOSTS'))?.map((h) => h.toLowerCase()),
    corsOrigins: csv(str('CORS_ORIGINS')) ?? DEFAULT_CORS_ORIGINS,
    logLevel: parsed.data.LOG_LEVEL,
    resendKey: str('RESEND_KEY'),
    resendApiUrl: str('RESEND_API_URL') ?? 'https://api.resend.com',
    emailFrom: str('EMAIL_FROM') ?? 'Mycelium <noreply@localhost>',
    emailReplyTo: str('EMAIL_REPLY_TO'),
    passwordResetPath: str('PASSWORD_RESET_PATH') ?? '/studio/#/reset-password',
    backupRetention: parsed.data.BACKUP_RETENTION,
    heartbeatIntervalSeconds: parsed.data.HEARTBEAT_INTERVAL_SECONDS,
    // Three missed heartbeats: one late beat or a slow restart never costs an agent its work.
    leaseTtlSeconds: parsed.data.LEASE_TTL_SECONDS ?? 3 * parsed.data.HEARTBEAT_INTERVAL_SECONDS,
    sqliteSynchronous: parsed.data.SQLITE_SYNCHRONOUS,
    httpTimeouts: {
      headers: parsed.data.HTTP_HEADERS_TIMEOUT_MS,
      // Node requires the whole-request deadline to be at least the headers deadline.
      request: Math.max(parsed.data.HTTP_REQUEST_TIMEOUT_MS, parsed.data.HTTP_HEADERS_TIMEOUT_MS),
      keepAlive: parsed.data.HTTP_KEEPALIVE_TIMEOUT_MS,
      idle: parsed.data.HTTP_IDLE_TIMEOUT_MS,
    },
    webhookAllowLoopback: csv(str('MYCELIUM_WEBHOOK_ALLOW_LOOPBACK')) ?? [],
    uploadMaxBytes: parsed.data.UPLOAD_MAX_BYTES,
    githubToken: str('GITHUB_TOKEN'),
    githubApiUrl: (str('GITHUB_API_URL') ?? 'https://api.github.com').replace(/\/+$/, ''),
    webhookMaxAttempts: parsed.data.WEBHOOK_MAX_ATTEMPTS,
    webhookRetryBaseMs: parsed.data.WEBHOOK_RETRY_BASE_MS,
    approvalExpiryHours: parsed.data.APPROVAL_EXPIRY_HOURS,
    voice: voiceConfig(str),
    env,
  };
}
