import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { parseIntId, parseWith } from '../../http/validate.js';
import { badRequest } from '../../http/errors.js';
import { principalOf } from '../../auth/principal.js';
import { CHANNEL_STATUSES, ChannelService } from './service.js';
import {
  AddChannelMember,
  Channel,
  ChannelCreated,
  ChannelDeleted,
  ChannelDetail,
  ChannelIdParams,
  ChannelListQuery,
  ChannelMember,
  ChannelMemberParams,
  ChannelMessagesQuery,
  ChannelOk,
  CreateChannel,
  DmOpened,
  DmTarget,
  MarkRead,
  MemberAdded,
  MemberRemoved,
  Message,
  OpenDm,
  Posted,
  PostToChannel,
  ReadMarked,
  Unread,
  UpdateChannel,
} from './schema.js';

const tags = ['Channels'];

/** Channels, members, posts and read markers (spec 03 §9). Non-numeric ids behave as not found. */
export function channelRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const channels = new ChannelService(app);
  const idOf = (raw: string) => parseIntId(raw);

  defineRoute(
    r,
    {
      method: 'get',
      path: '/channels/unread',
      tags,
      summary: 'Unread counts per channel id',
      access: 'any',
      response: Unread,
    },
    (c) => channels.unread(principalOf(c)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/channels',
      tags,
      summary: 'Channels the caller can see',
      access: 'any',
      query: ChannelListQuery,
      response: z.array(Channel),
    },
    (c, { query }) => {
      const status = query.status || 'active';
      if (status !== 'all' && !(CHANNEL_STATUSES as readonly string[]).includes(status))
        throw badRequest('status must be one of: active, archived, all');
      return channels.list(principalOf(c), { ...query, status });
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/channels',
      tags,
      summary: 'Create a channel (with members)',
      access: 'any',
      body: CreateChannel,
      lazyBody: true,
      response: ChannelCreated,
      errors: [409],
    },
    (c, input) => {
      const body = bodyOf(c);
      if (!body.name || !body.slug) throw badRequest('name and slug are required');
      const ch = input.body;
      return channels.create(principalOf(c), { ...ch, linked_id: ch.linked_id === null ? null : String(ch.linked_id) });
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/channels/dm',
      tags,
      summary: 'Open (or find) the direct channel with someone',
      access: 'any',
      body: OpenDm,
      response: DmOpened,
    },
    (c) => {
      const body = bodyOf(c);
      const target = body.user_id ?? body.target;
      if (target === undefined || target === null || target === '') throw badRequest('user_id is required');
      const input = parseWith(DmTarget, { user_id: target, user_type: body.user_type });
      return channels.dm(principalOf(c), input.user_id, input.user_type);
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/channels/:id',
      tags,
      summary: 'One channel with its members',
      access: 'any',
      params: ChannelIdParams,
      response: ChannelDetail,
    },
    (c, { params }) => channels.get(principalOf(c), idOf(params.id)),
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/channels/:id',
      tags,
      summary: 'Rename, describe or archive a channel',
      access: 'any',
      params: ChannelIdParams,
      body: UpdateChannel,
      response: ChannelOk,
    },
    (c, { params, body }) => channels.update(principalOf(c), idOf(params.id), body),
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/channels/:id',
      tags,
      summary: 'Delete a channel',
      access: 'admin',
      params: ChannelIdParams,
      response: ChannelDeleted,
    },
    (c, { params }) => channels.remove(principalOf(c), idOf(params.id)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/channels/:id/members',
      tags,
      summary: "A channel's members",
      access: 'any',
      params: ChannelIdParams,
      response: z.array(ChannelMember),
    },
    (c, { params }) => channels.members(principalOf(c), idOf(params.id)),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/channels/:id/members',
      tags,
      summary: 'Add a member',
      access: 'any',
      params: ChannelIdParams,
      body: AddChannelMember,
      lazyBody: true,
      response: MemberAdded,
    },
    (c, input) => {
      if (!bodyOf(c).user_id) throw badRequest('user_id is required');
      return channels.addMember(principalOf(c), idOf(input.params.id), input.body);
    },
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/channels/:id/members/:userId',
      tags,
      summary: 'Remove a member',
      access: 'any',
      params: ChannelMemberParams,
      response: MemberRemoved,
    },
    (c, { params }) => channels.removeMember(principalOf(c), idOf(params.id), params.userId),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/channels/:id/messages',
      tags,
      summary: "A channel's messages, newest first",
      access: 'any',
      params: ChannelIdParams,
      query: ChannelMessagesQuery,
      response: z.array(Message),
    },
    (c, { params, query }) => channels.messages(principalOf(c), idOf(params.id), query),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/channels/:id/messages',
      tags,
      summary: 'Post to a channel',
      access: 'any',
      params: ChannelIdParams,
      body: PostToChannel,
      lazyBody: true,
      response: Posted,
    },
    (c, input) => {
      const body = bodyOf(c);
      if (
        body.content === undefined ||
        body.content === null ||
        (typeof body.content === 'string' && !body.content.trim())
      )
        throw badRequest('content is required');
      const { content, metadata } = input.body;
      return channels.post(principalOf(c), idOf(input.params.id), content, metadata ?? {});
    },
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/channels/:id/read',
      tags,
      summary: 'Move the read marker (default: the latest message)',
      access: 'any',
      params: ChannelIdParams,
      body: MarkRead,
      response: ReadMarked,
    },
    (c, { params, body }) => channels.markRead(principalOf(c), idOf(params.id), body.message_id),
  );

  return r;
}
