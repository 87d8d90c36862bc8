import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { AppError, badRequest } from '../../http/errors.js';
import { principalOf, requireAny } from '../../auth/principal.js';
import { turnCredentials } from './service.js';

/**
 * ROOT: GET /api/voice/peers and GET /api/voice/turn-credentials (spec 01 §1.10), outside
 * /api/mycelium as in the original. Same guard as any REST route (admin key, operator JWT, agent key,
 * with the agent-key failure limiter), not the original's looser check (weak spot 14).
 */
export function voiceRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  r.get('/api/voice/peers', requireAny, async (c) => {
    const hub = app.runtime.voice;
    if (!hub)
      throw new AppError(
        501 as AppError['status'],
        'Voice signalling is not available here (bind the VOICE_HUB Durable Object)',
      );
    const channel = c.req.query('channel');
    if (channel !== undefined && channel.length > 50) throw badRequest('channel must be at most 50 characters');
    const peers = await hub.peers(channel);
    return c.json({ peers, count: peers.length });
  });

  r.get('/api/voice/turn-credentials', requireAny, async (c) =>
    c.json(await turnCredentials(app.config, principalOf(c), app.clock.now())),
  );

  return r;
}
