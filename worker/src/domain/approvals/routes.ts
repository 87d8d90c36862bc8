import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { badRequest } from '../../http/errors.js';
import { parseIntId, parseWith } from '../../http/validate.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { ApprovalService, parseRiskTier } from './service.js';

const createSchema = z.object({
  action_type: z.string().max(64),
  title: z.string().max(500),
  payload: z.unknown(),
  project_id: z.string().trim().max(200).optional(),
  risk_tier: z.unknown().optional(),
  required_approvals: z.number().int().min(0).max(100).optional(),
  subject: z.string().trim().max(500).optional(),
});

const voteSchema = z.object({ vote: z.enum(['approve', 'deny']), notes: z.string().max(5000).optional() });
const decideSchema = z.object({ status: z.enum(['approved', 'denied']), reason: z.string().max(5000).optional() });

/** Approvals: requests, quorum votes, decisions, execution (spec 04 §2, README quorum rule). */
export function approvalRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const approvals = new ApprovalService(app);
  // Pending approvals past APPROVAL_EXPIRY_HOURS expire (spec 04 A9); checked every maintenance minute.
  app.jobs.push({ name: 'approvals_expire', everyMs: 60_000, run: () => approvals.expireStale() });

  r.post('/approvals', requireAny, async (c) => {
    const body = bodyOf(c);
    if (typeof body.action_type !== 'string' || !body.action_type) throw badRequest('action_type is required');
    if (!body.title) throw badRequest('title is required');
    if (
      body.payload === undefined ||
      body.payload === null ||
      body.payload === '' ||
      body.payload === 0 ||
      body.payload === false
    ) {
      throw badRequest('payload is required');
    }
    const input = parseWith(createSchema, body);
    return c.json(await approvals.create(principalOf(c), { ...input, risk_tier: parseRiskTier(input.risk_tier) }));
  });

  r.get('/approvals', requireAny, async (c) => {
    const q = queryOf(c);
    const n = Number(q.limit);
    const limit = /^\d+$/.test(q.limit ?? '') && n >= 1 ? Math.min(n, 500) : 50;
    return c.json(
      await approvals.list(principalOf(c), {
        status: q.status,
        action_type: q.action_type,
        requested_by: q.requested_by,
        project_id: q.project_id,
        limit,
      }),
    );
  });

  r.get('/approvals/:id', requireAny, async (c) =>
    c.json(await approvals.get(principalOf(c), parseIntId(c.req.param('id')))),
  );

  r.get('/approvals/:id/votes', requireAny, async (c) =>
    c.json(await approvals.votes(principalOf(c), parseIntId(c.req.param('id')))),
  );

  r.put('/approvals/:id', requireAdmin, async (c) => {
    const body = bodyOf(c);
    if (body.status !== 'approved' && body.status !== 'denied') throw badRequest('status must be approved or denied');
    const input = parseWith(decideSchema, body);
    return c.json(
      await approvals.decide(principalOf(c), parseIntId(c.req.param('id')), input.status, input.reason ?? ''),
    );
  });

  // Any authenticated caller reaches the service, which decides who may vote (humans; agents never at medium+).
  r.put('/approvals/:id/vote', requireAny, async (c) => {
    const body = bodyOf(c);
    if (body.vote !== 'approve' && body.vote !== 'deny') throw badRequest('vote must be approve or deny');
    const input = parseWith(voteSchema, body);
    return c.json(await approvals.vote(principalOf(c), parseIntId(c.req.param('id')), input.vote, input.notes ?? ''));
  });

  r.put('/approvals/:id/executed', requireAny, async (c) =>
    c.json(await approvals.markExecuted(principalOf(c), parseIntId(c.req.param('id')))),
  );

  return r;
}
