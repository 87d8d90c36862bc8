import type { Target } from './target.js';

/** Registers an agent through the admin API; returns its id and once-shown key. */
export async function registerAgent(t: Target, id: string, projectId = 'proj', extra: Record<string, unknown> = {}) {
  const r = await t.call('POST', '/admin/agents', {
    admin: true,
    body: { id, name: id, project_id: projectId, ...extra },
  });
  if (r.status !== 200) throw new Error(`register ${id} failed: ${r.status} ${r.text}`);
  return { id, key: r.body.api_key as string };
}

/** Creates a studio user with the admin key and logs in; returns the user id and token. */
export async function createOperator(
  t: Target,
  username: string,
  role: 'admin' | 'operator' | 'member' = 'operator',
  password = 'correct horse battery',
) {
  const c = await t.call('POST', '/studio/users', {
    admin: true,
    body: { username, password, display_name: username, role },
  });
  if (c.status !== 200) throw new Error(`create user ${username} failed: ${c.status} ${c.text}`);
  const l = await t.call('POST', '/studio/login', {
    body: { username, password },
    ip: `198.51.100.${Math.floor(Math.random() * 250)}`,
  });
  if (l.status !== 200) throw new Error(`login ${username} failed: ${l.status} ${l.text}`);
  return { id: c.body.id as number, token: l.body.token as string, password };
}

/**
 * Runs `fn` while every insert of one event type fails, as a crash between a write and its event
 * would (issue 17): a write atomic with its event must leave nothing behind.
 */
export async function whileEventFails(t: Target, type: string, fn: () => Promise<void>) {
  await t.db.run(
    `CREATE TRIGGER fail_${type} BEFORE INSERT ON events WHEN NEW.type = '${type}' BEGIN SELECT RAISE(ABORT, 'injected'); END`,
  );
  try {
    await fn();
  } finally {
    await t.db.run(`DROP TRIGGER fail_${type}`);
  }
}
