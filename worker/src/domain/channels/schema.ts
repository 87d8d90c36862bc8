import { z } from 'zod';
import { idParam, queryInt } from '../../http/contract.js';
import { documented } from '../../http/contract-fields.js';
import { parseIntId } from '../../http/validate.js';
import { Message } from '../messages/schema.js';
import { CHANNEL_STATUSES, CHANNEL_TYPES, MEMBER_ROLES, MEMBER_TYPES } from './service.js';

/** The wire shapes of channels, members, posts and read markers (spec 03 §9). */

export const ChannelIdParams = z.object({ id: idParam });
export const ChannelMemberParams = z.object({ id: idParam, userId: z.string() });

export const AddChannelMember = z.object({
  user_id: z.string().trim().min(1).max(128),
  user_type: z.enum(MEMBER_TYPES).default('agent'),
  role: z.enum(MEMBER_ROLES).default('member'),
});
export const CreateChannel = z.object({
  name: z.string().trim().min(1).max(200),
  slug: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[a-z0-9][a-z0-9_-]*$/, 'may contain only lower-case letters, digits, "_" and "-"'),
  type: z.enum(CHANNEL_TYPES).default('general'),
  description: z.string().max(2000).default(''),
  linked_type: z.string().max(50).nullable().default(null),
  linked_id: z
    .union([z.string().max(128), z.number().int()])
    .nullable()
    .default(null),
  members: z.array(AddChannelMember).max(500).default([]),
});
export const UpdateChannel = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
  status: z.enum(CHANNEL_STATUSES).optional(),
});
export const PostToChannel = z.object({
  content: z.string().max(100_000),
  metadata: z.record(z.string(), z.unknown()).nullable().optional(),
});
export const MarkRead = z.object({ message_id: z.number().int().min(0).optional() });
/** `user_id` (or its alias `target`) and its type; checked together in the handler. */
export const OpenDm = z.looseObject({
  user_id: documented({ type: 'string', maxLength: 128 }),
  target: documented({ type: 'string', description: 'Alias of user_id' }),
  user_type: documented({ type: 'string', enum: [...MEMBER_TYPES], default: 'operator' }),
});
export const DmTarget = z.object({
  user_id: z.string().trim().min(1).max(128),
  user_type: z.enum(MEMBER_TYPES).default('operator'),
});

const optText = z
  .string()
  .optional()
  .transform((v) => v || undefined);
export const ChannelListQuery = z.object({
  type: optText,
  status: z.string().optional().meta({ description: 'active (default), archived or all' }),
  member: optText,
  limit: queryInt(50, 1, 500),
  offset: queryInt(0, 0, 1_000_000),
});
const optionalId = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    if (raw === undefined || raw === '') return undefined;
    const id = parseIntId(raw);
    if (id === null) {
      ctx.addIssue({ code: 'custom', message: 'must be a positive integer', params: { sentence: true } });
      return z.NEVER;
    }
    return id;
  });
export const ChannelMessagesQuery = z.object({ before: optionalId, after: optionalId, limit: queryInt(50, 1, 500) });

export const Channel = z
  .object({
    id: z.number().int(),
    name: z.string(),
    slug: z.string(),
    type: z.string(),
    linked_type: z.string().nullable(),
    linked_id: z.string().nullable(),
    description: z.string(),
    created_by: z.string(),
    status: z.string(),
    created_at: z.string(),
  })
  .meta({ id: 'Channel' });

export const ChannelMember = z
  .object({
    id: z.number().int(),
    channel_id: z.number().int(),
    user_id: z.string(),
    user_type: z.string(),
    role: z.string(),
    joined_at: z.string(),
  })
  .meta({ id: 'ChannelMember' });

export const ChannelDetail = Channel.extend({ members: z.array(ChannelMember), member_count: z.number().int() });
export const Unread = z.record(z.string(), z.object({ name: z.string(), slug: z.string(), unread: z.number().int() }));
export const ChannelCreated = z.object({
  ok: z.literal(true),
  id: z.number().int(),
  name: z.string(),
  slug: z.string(),
});
export const DmOpened = z.object({ ok: z.literal(true), channel_id: z.number().int(), channel: Channel });
export const ChannelOk = z.object({ ok: z.literal(true), id: z.number().int() });
export const ChannelDeleted = z.object({ ok: z.literal(true), deleted: z.number().int() });
export const MemberAdded = z.object({
  ok: z.literal(true),
  added: z.boolean(),
  channel_id: z.number().int(),
  user_id: z.string(),
});
export const MemberRemoved = z.object({ ok: z.literal(true), removed: z.boolean() });
export const Posted = z.object({ ok: z.literal(true), id: z.number().int(), channel_id: z.number().int() });
export const ReadMarked = z.object({
  ok: z.literal(true),
  channel_id: z.number().int(),
  last_read_message_id: z.number().int().nullable(),
});
export { Message };
