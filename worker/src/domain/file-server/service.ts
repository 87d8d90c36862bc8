import type { AppContext } from '../../context.js';
import { hashAgentKey } from '../../auth/agent-keys.js';
import { secretsEqual } from '../../auth/crypto.js';
import { AppError, badRequest, notFound } from '../../http/errors.js';
import { agentsRepo } from '../agents/repo.js';
import { TunnelError } from './hub.js';

export const FILE_DRONE_PATH = '/ws/file-drone';

/** Who may serve files through the tunnel: drone agents only (spec 07 SEC-57). */
const isFileDrone = (a: { role: string; agent_type: string; project_id: string }) =>
  a.role === 'drone' || a.agent_type === 'drone' || a.agent_type === 'file_drone';

export type FileDroneAuth = { ok: true; droneId: string } | { ok: false; code: number; reason: string };

/**
 * Checks a tunnel connection (`key` from the query string or the X-Agent-Key header, which
 * keeps it out of proxy logs) and marks the drone online. Close codes follow spec 05 §11.1.
 */
export async function authenticateFileDrone(
  app: AppContext,
  url: URL,
  headers: Headers,
  ip: string,
): Promise<FileDroneAuth> {
  const key = headers.get('x-agent-key') || url.searchParams.get('key');
  const droneId = url.searchParams.get('drone_id');
  if (!key || !droneId) return { ok: false, code: 4401, reason: 'Missing key or drone_id' };
  // The same failure limiter as agent-key auth: this path is no way around it.
  const limiter = app.limiters.agentKeyFailures;
  limiter.check(ip);
  const agent = await agentsRepo.get(app.db, droneId);
  if (!agent || !(await secretsEqual(await hashAgentKey(key), agent.api_key_hash))) {
    limiter.fail(ip);
    return { ok: false, code: 4403, reason: 'Invalid credentials' };
  }
  if (!isFileDrone(agent)) return { ok: false, code: 4403, reason: 'Only drone agents may serve files' };
  await setDroneStatus(app, droneId, 'online');
  return { ok: true, droneId };
}

export async function setDroneStatus(app: AppContext, droneId: string, status: 'online' | 'offline') {
  await app.db.run(
    status === 'online'
      ? "UPDATE agents SET status = 'online', last_heartbeat = datetime('now') WHERE id = ?"
      : "UPDATE agents SET status = 'offline' WHERE id = ?",
    [droneId],
  );
}

/** Paths go to the drone relative to its root; the server refuses `..` itself (spec 05 §17.4). */
export function tunnelPath(v: unknown, dflt = '/'): string {
  if (v === undefined || v === null || v === '') return dflt;
  if (typeof v !== 'string' || v.length > 4096 || v.includes('\0')) throw badRequest('invalid path');
  if (v.split(/[\\/]/).includes('..')) throw badRequest('invalid path');
  return v;
}

export function droneIdOf(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > 128) throw badRequest('drone_id must be a string');
  return v;
}

/** Tunnel failures as HTTP: no drone 503, failure or timeout 504; drone-side errors 400/404. */
export function tunnelFailure(err: unknown): never {
  if (err instanceof TunnelError) {
    if (err.kind === 'no_drone') throw new AppError(503, err.message);
    throw new AppError(504 as AppError['status'], err.message);
  }
  throw err;
}

export function droneResult(data: unknown): unknown {
  const e = data && typeof data === 'object' ? (data as { error?: unknown }).error : undefined;
  if (typeof e === 'string') throw /not found|no such|does not exist/i.test(e) ? notFound(e) : badRequest(e);
  return data;
}
