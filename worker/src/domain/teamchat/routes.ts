import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest, forbidden } from '../../http/errors.js';
import type { Principal } from '../../auth/principal.js';
import { Message } from '../messages/schema.js';
import { atomicWrite } from '../events/write.js';
import { teamChatRepo } from './repo.js';
import { PostTeamChat, TeamChatPosted, TeamChatQuery } from './schema.js';

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

const tags = ['Team chat'];
/** The handlers authenticate themselves (studioUser); the contract documents it. */
const ownAuth = async (_c: unknown, next: () => Promise<void>) => next();

export function teamChatRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  defineRoute(
    r,
    {
      method: 'get',
      path: '/team-chat',
      tags,
      summary: 'Team chat lines, newest first (operators and the admin key)',
      access: 'human',
      guard: ownAuth,
      query: TeamChatQuery,
      response: z.array(Message),
    },
    async (c, { query }) => {
      await studioUser(c, true);
      return teamChatRepo.list(app.db, query.limit);
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/team-chat',
      tags,
      summary: 'Write in team chat (an operator login only)',
      access: 'human',
      guard: ownAuth,
      body: PostTeamChat,
      lazyBody: true,
      response: TeamChatPosted,
    },
    async (c, input) => {
      const p = await studioUser(c, false);
      const body = bodyOf(c);
      if (
        body.content === undefined ||
        body.content === null ||
        (typeof body.content === 'string' && !body.content.trim())
      )
        throw badRequest('content is required');
      const { content } = input.body;
      const from = `__user:${p.kind === 'operator' ? p.displayName || p.username : p.who}`;
      const res = await atomicWrite(app)
        .add('message', teamChatRepo.insert(from, content))
        .eventWithNewId(
          {
            type: 'team_chat_message',
            agent: from,
            summary: `${from.slice(7)} wrote in team chat`,
            data: { message_id: 0 },
          },
          'message_id',
        )
        .commit();
      return { ok: true, id: res.row<{ id: number }>('message')!.id };
    },
  );

  return r;
}
