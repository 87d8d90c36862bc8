import { z } from 'zod';
import { queryInt } from '../../http/contract.js';

/** The wire shapes of team chat (spec 03 §10); lines are messages of type `chat`. */

export const TeamChatQuery = z.object({ limit: queryInt(50, 1, 500) });
export const PostTeamChat = z.object({ content: z.string().trim().min(1).max(20_000) });
export const TeamChatPosted = z.object({ ok: z.literal(true), id: z.number().int() });
