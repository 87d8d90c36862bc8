import { z } from 'zod';

/**
 * Voice REST (spec 01 §1.10). The channel bound is checked in the handler, after the 501 a runtime
 * without a voice hub answers, so the order stays as it was (the query field is documented here).
 */

export const PeersQuery = z.object({
  channel: z.string().optional().meta({ description: 'Channel name (at most 50 characters); omitted = every channel' }),
});

const VoicePeer = z
  .object({ id: z.string(), name: z.string(), muted: z.boolean(), channel: z.string() })
  .meta({ id: 'VoicePeer' });

export const Peers = z.object({ peers: z.array(VoicePeer), count: z.number().int() });

const IceServer = z
  .object({ urls: z.string(), username: z.string().optional(), credential: z.string().optional() })
  .meta({ id: 'IceServer' });

export const TurnCredentials = z.object({
  iceServers: z.array(IceServer),
  ttl: z.number().int().optional().meta({ description: 'Seconds the TURN credentials stay valid' }),
});
