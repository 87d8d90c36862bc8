import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { defineRoute } from '../../http/contract.js';
import { AppError, badRequest } from '../../http/errors.js';
import { principalOf } from '../../auth/principal.js';
import { turnCredentials } from './service.js';
import { Peers, PeersQuery, TurnCredentials } from './schema.js';

const tags = ['Voice'];

/**
 * ROOT: GET /api/voice/peers and GET /api/voice/turn-credentials (spec 01 §1.10), outside
 * /api/mycelium as in the original. Same guard as any REST route (admin key, operator JWT, agent key,
 * with the agent-key failure limiter), not the original's looser check (weak spot 14).
 */
export function voiceRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  defineRoute(
    r,
    {
      method: 'get',
      path: '/api/voice/peers',
      tags,
      summary: 'Peers in the voice channels',
      access: 'any',
      query: PeersQuery,
      response: Peers,
      errors: [501],
    },
    async (_c, { query }) => {
      const hub = app.runtime.voice;
      if (!hub)
        throw new AppError(
          501 as AppError['status'],
          'Voice signalling is not available here (bind the VOICE_HUB Durable Object)',
        );
      // Checked after the 501, as before.
      if (query.channel !== undefined && query.channel.length > 50)
        throw badRequest('channel must be at most 50 characters');
      const peers = await hub.peers(query.channel);
      return { peers, count: peers.length };
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/api/voice/turn-credentials',
      tags,
      summary: 'Time-limited STUN/TURN servers for WebRTC',
      access: 'any',
      response: TurnCredentials,
    },
    (c) => turnCredentials(app.config, principalOf(c), app.clock.now()),
  );

  return r;
}
