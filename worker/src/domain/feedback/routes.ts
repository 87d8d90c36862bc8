import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { defineRoute } from '../../http/contract.js';
import { OkTrue } from '../../http/contract-fields.js';
import { parseIntId } from '../../http/validate.js';
import { badRequest, notFound } from '../../http/errors.js';
import { principalOf } from '../../auth/principal.js';
import { feedbackRepo } from './repo.js';
import { submitFeedback } from './service.js';
import { CreateFeedback, Feedback, FeedbackIdParams, FeedbackListQuery, FeedbackSummary } from './schema.js';

const tags = ['Feedback'];

/** Ratings of work and agents (spec 03 §12). */
export function feedbackRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  defineRoute(
    r,
    {
      method: 'get',
      path: '/feedback/summary',
      tags,
      summary: 'Totals, averages by agent and type, distribution, latest five',
      access: 'admin',
      response: FeedbackSummary,
    },
    () => feedbackRepo.summary(app.db),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/feedback',
      tags,
      summary: 'Feedback, newest first',
      access: 'admin',
      query: FeedbackListQuery,
      response: z.array(Feedback),
    },
    (_c, { query }) => feedbackRepo.list(app.db, query),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/feedback',
      tags,
      summary: 'Rate a piece of work or an agent (1–5)',
      access: 'any',
      body: CreateFeedback,
      response: Feedback,
      status: 201,
      errors: [403],
    },
    async (c, { body: input }) => {
      const p = principalOf(c);
      const submittedBy = p.who;
      // Guardrails pre-check (kind `feedback_submitted`, spec 03 §12 [HEAD]) before the write.
      await app.guards.check(
        'feedback.submit',
        { agent: submittedBy, rating: input.rating, entity_type: input.entity_type, agent_id: input.agent_id },
        p,
      );
      return submitFeedback(app, { ...input, entity_id: String(input.entity_id), submitted_by: submittedBy });
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/feedback/:id',
      tags,
      summary: 'Delete one feedback entry',
      access: 'admin',
      params: FeedbackIdParams,
      response: OkTrue,
      errors: [404],
    },
    async (_c, { params }) => {
      const id = parseIntId(params.id);
      if (id === null) throw badRequest('Invalid feedback id');
      const r2 = await feedbackRepo.delete(app.db, id);
      if (!r2.changes) throw notFound('Feedback not found');
      return { ok: true };
    },
  );

  return r;
}
