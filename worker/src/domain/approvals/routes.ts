import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { defineRoute } from '../../http/contract.js';
import { parseIntId } from '../../http/validate.js';
import { principalOf } from '../../auth/principal.js';
import { ApprovalService, parseRiskTier } from './service.js';
import {
  Approval,
  ApprovalIdParams,
  ApprovalListQuery,
  ApprovalRequested,
  ApprovalVote,
  CreateApproval,
  Decide,
  Executed,
  Vote,
  VoteResult,
} from './schema.js';

const tags = ['Approvals'];

/** Approvals: requests, quorum votes, decisions, execution (spec 04 §2, README quorum rule). */
export function approvalRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const approvals = new ApprovalService(app);
  // Pending approvals past APPROVAL_EXPIRY_HOURS expire (spec 04 A9); checked every maintenance minute.
  app.jobs.push({ name: 'approvals_expire', everyMs: 60_000, run: () => approvals.expireStale() });

  defineRoute(
    r,
    {
      method: 'post',
      path: '/approvals',
      tags,
      summary: 'Ask for an approval (risk tier decides the quorum)',
      access: 'any',
      body: CreateApproval,
      response: ApprovalRequested,
      errors: [409],
    },
    (c, { body }) => approvals.create(principalOf(c), { ...body, risk_tier: parseRiskTier(body.risk_tier) }),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/approvals',
      tags,
      summary: 'List approvals the caller may see',
      access: 'any',
      query: ApprovalListQuery,
      response: z.array(Approval),
    },
    (c, { query }) => approvals.list(principalOf(c), query),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/approvals/:id',
      tags,
      summary: 'One approval',
      access: 'any',
      params: ApprovalIdParams,
      response: Approval,
    },
    (c, { params }) => approvals.get(principalOf(c), parseIntId(params.id)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/approvals/:id/votes',
      tags,
      summary: "An approval's votes",
      access: 'any',
      params: ApprovalIdParams,
      response: z.array(ApprovalVote),
    },
    (c, { params }) => approvals.votes(principalOf(c), parseIntId(params.id)),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/approvals/:id',
      tags,
      summary: 'Decide an approval directly (admin)',
      access: 'admin',
      params: ApprovalIdParams,
      body: Decide,
      response: VoteResult,
    },
    (c, { params, body }) => approvals.decide(principalOf(c), parseIntId(params.id), body.status, body.reason ?? ''),
  );

  // Any authenticated caller reaches the service, which decides who may vote (humans; agents never at medium+).
  defineRoute(
    r,
    {
      method: 'put',
      path: '/approvals/:id/vote',
      tags,
      summary: 'Vote on an approval (quorum)',
      access: 'any',
      params: ApprovalIdParams,
      body: Vote,
      response: VoteResult,
    },
    (c, { params, body }) => approvals.vote(principalOf(c), parseIntId(params.id), body.vote, body.notes ?? ''),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/approvals/:id/executed',
      tags,
      summary: 'Mark an approved action executed (requester or admin)',
      access: 'any',
      params: ApprovalIdParams,
      response: Executed,
    },
    (c, { params }) => approvals.markExecuted(principalOf(c), parseIntId(params.id)),
  );

  return r;
}
