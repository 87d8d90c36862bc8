import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { secretProblem } from '../worker/src/config.js';

export const SECRETS_FILE = 'secrets.json';

export interface ResolvedSecrets {
  adminKey: string;
  jwtSecret: string;
  /** True when this start generated the admin key (print it once). */
  generatedAdminKey: boolean;
  generatedJwtSecret: boolean;
  file: string;
}

export class FatalStartupError extends Error {}

/**
 * Where the two secrets come from. Environment wins. In production a missing or weak one is
 * fatal. Otherwise (a newcomer's first `npm start`) missing ones are generated once and kept in
 * DATA_DIR/secrets.json (0600), so later starts reuse them.
 */
export function resolveSecrets(env: NodeJS.ProcessEnv, dataDir: string): ResolvedSecrets {
  const production = env.NODE_ENV === 'production';
  const file = join(dataDir, SECRETS_FILE);
  const fromEnv = { adminKey: env.ADMIN_KEY || undefined, jwtSecret: env.JWT_SECRET || undefined };

  if (production) {
    const problems = [
      secretProblem('ADMIN_KEY', fromEnv.adminKey),
      secretProblem('JWT_SECRET', fromEnv.jwtSecret),
    ].filter(Boolean);
    if (problems.length) {
      throw new FatalStartupError(`ADMIN_KEY and JWT_SECRET must be set in production (${problems.join('; ')})`);
    }
    return {
      adminKey: fromEnv.adminKey!,
      jwtSecret: fromEnv.jwtSecret!,
      generatedAdminKey: false,
      generatedJwtSecret: false,
      file,
    };
  }

  for (const [name, value] of [
    ['ADMIN_KEY', fromEnv.adminKey],
    ['JWT_SECRET', fromEnv.jwtSecret],
  ] as const) {
    if (value !== undefined) {
      const problem = secretProblem(name, value);
      if (problem) throw new FatalStartupError(problem);
    }
  }

  let stored: { admin_key?: string; jwt_secret?: string } = {};
  if (existsSync(file)) {
    try {
      stored = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      throw new FatalStartupError(`${file} is not valid JSON; fix or remove it`);
    }
  }
  const adminKey = fromEnv.adminKey ?? stored.admin_key;
  const jwtSecret = fromEnv.jwtSecret ?? stored.jwt_secret;
  const generatedAdminKey = !adminKey;
  const generatedJwtSecret = !jwtSecret;
  const result = {
    adminKey: adminKey ?? `myc_admin_${randomBytes(24).toString('hex')}`,
    jwtSecret: jwtSecret ?? randomBytes(48).toString('base64url'),
    generatedAdminKey,
    generatedJwtSecret,
    file,
  };
  if (generatedAdminKey || generatedJwtSecret) {
    const next = {
      ...stored,
      ...(generatedAdminKey ? { admin_key: result.adminKey } : {}),
      ...(generatedJwtSecret ? { jwt_secret: result.jwtSecret } : {}),
    };
    writeFileSync(file, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return result;
}
