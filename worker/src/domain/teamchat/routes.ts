import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { parseWith, queryInt } from '../../http/validate.js';
import { badRequest, forbidden } from '../../http/errors.js';
import type { Principal } from '../../auth/principal.js';
import { teamChatRepo } from './repo.js';

/**
 * Human-only chat (spec 03 §10). Reading: any operator JWT or the admin key; writing: an
 * operator JWT only, so every line has a person behind it. Everyone else: 403 `Studio login required`.
 */
async function studioUser(
  c: { get(k: 'credentials'): AppEnv['Variables']['credentials'] },
  allowAdminKey: boolean,
): Promise<Principal> {
  const creds = c.get('credentials');
  const j = await creds.jwt();
  if (j.state === 'valid') return j.principal;
  if (allowAdminKey && (await creds.adminKey()))
    return { kind: 'admin', isAdmin: true, who: creds.actingAs ?? '__system__', actingAs: creds.actingAs };
  throw forbidden('Studio login required');
}

export function teamChatRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  r.get('/team-chat', async (c) => {
    await studioUser(c, true);
    return c.json(await teamChatRepo.list(app.db, queryInt(c.req.query('limit'), 'limit', 50, 1, 500)));
  });

  r.post('/team-chat', async (c) => {
    const p = await studioUser(c, false);
    const body = bodyOf(c);
    if (
      body.content === undefined ||
      body.content === null ||
      (typeof body.content === 'string' && !body.content.trim())
    )
      throw badRequest('content is required');
    const content = parseWith(z.object({ content: z.string().trim().min(1).max(20_000) }), body).content;
    const from = `__user:${p.kind === 'operator' ? p.displayName || p.username : p.who}`;
    const row = await teamChatRepo.insert(app.db, from, content);
    await app.events.emit({
      type: 'team_chat_message',
      agent: from,
      summary: `${from.slice(7)} wrote in team chat`,
      data: { message_id: row!.id },
    });
    return c.json({ ok: true, id: row!.id });
  });

  return r;
}
