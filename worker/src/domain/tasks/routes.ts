import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { badRequest } from '../../http/errors.js';
import { hitAgentWrite } from '../../http/rate-limit.js';
import { MAX_OFFSET, parseIntId, parseWith, queryInt } from '../../http/validate.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { TASK_PRIORITIES, TASK_STATUSES, tasksRepo } from './repo.js';
import { leaseExpiryJob } from '../work-items/lease.js';
import {
  addComment,
  addDeliverable,
  addDependency,
  approveTask,
  claimTask,
  createTask,
  deleteComment,
  deleteTask,
  getTask,
  updateTask,
} from './service.js';

/** Shapes shared by the work-item routers (tasks, plans, bugs). */
export const fields = {
  title: z.string().trim().min(1).max(500),
  description: z.string().max(50_000),
  projectId: z.string().trim().max(200),
  /** Free-text identity-like values (assignee, owner): bounded, never coerced. */
  who: z.string().max(200),
  tags: z.array(z.string().max(100)).max(100),
  flag: z.custom<boolean | 0 | 1>((v) => typeof v === 'boolean' || v === 0 || v === 1, {
    message: 'must be true or false',
  }),
  url: z.string().max(2000),
  content: z.string().trim().min(1).max(100_000),
  /** A claim's fencing token, quoted back on writes (../work-items/lease.ts). */
  leaseToken: z.string().min(1).max(100),
};

/**
 * `limit` (default 50, 1..500) and `offset` (≥ 0) as the spec's parseLimit, but never NaN into SQL
 * and never past what SQLite binds as an integer (a 19-digit offset was a 500).
 */
export function page(q: Record<string, string>, dflt = 50, max = 500) {
  const l = queryInt(q.limit, 'limit', dflt, Number.MIN_SAFE_INTEGER, max);
  return { limit: l < 1 ? dflt : l, offset: queryInt(q.offset, 'offset', 0, 0, MAX_OFFSET) };
}

const createSchema = z.object({
  title: fields.title,
  description: fields.description.optional(),
  project_id: fields.projectId.optional(),
  priority: z.enum(TASK_PRIORITIES).optional(),
  tags: fields.tags.nullable().optional(),
  assignee: fields.who.nullable().optional(),
  needs_approval: fields.flag.optional(),
  blocked_by: z.array(z.number().int().positive()).max(100).optional(),
});

const updateSchema = z.object({
  title: fields.title.optional(),
  description: fields.description.optional(),
  status: z.enum(TASK_STATUSES).optional(),
  assignee: fields.who.nullable().optional(),
  priority: z.enum(TASK_PRIORITIES).optional(),
  tags: fields.tags.nullable().optional(),
  needs_approval: fields.flag.optional(),
  branch: fields.url.nullable().optional(),
  pr_url: fields.url.nullable().optional(),
  repo: fields.url.nullable().optional(),
  review_metadata: z.union([z.string().max(50_000), z.record(z.string(), z.unknown())]).optional(),
  blocked_by: z.union([z.number().int().positive(), z.array(z.number().int().positive()).max(100)]).optional(),
  lease_token: fields.leaseToken.optional(),
});

const claimSchema = z.object({ agent_id: fields.who.optional(), force: z.boolean().optional() });
const commentSchema = z.object({ content: fields.content, author: z.unknown().optional() });
const deliverableSchema = z.object({
  content: z.string().min(1).max(1_000_000),
  kind: z.string().trim().min(1).max(100).optional(),
  format: z.string().trim().min(1).max(100).optional(),
  flags: z.string().max(1000).optional(),
  author: z.unknown().optional(),
});

/** Tasks (spec 03 §3). Thin: parse → guard → service → respond. */
export function taskRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  // Lapsed claims of tasks, bugs and plan steps go back to the queue (issue 17).
  app.jobs.push(leaseExpiryJob);
  const id = (raw: string | undefined) => parseIntId(raw);

  // Literal path before /tasks/:id.
  r.get('/tasks/approval-queue', requireAdmin, async (c) => c.json(await tasksRepo.approvalQueue(app.db)));

  r.get('/tasks', requireAny, async (c) => {
    const q = queryOf(c);
    const { limit, offset } = page(q);
    return c.json(
      await tasksRepo.list(
        app.db,
        {
          project_id: q.project_id,
          status: q.status,
          assignee: q.assignee,
          requester: q.requester,
          priority: q.priority,
        },
        limit,
        offset,
      ),
    );
  });

  r.post('/tasks', requireAny, async (c) => {
    const p = principalOf(c);
    hitAgentWrite(app.limiters, p, c.get('clientIp'));
    // Guardrails see the request before validation, as in the original (spec 03 §0.3).
    await app.guards.check('task.create', bodyOf(c), p);
    const input = parseWith(createSchema, bodyOf(c));
    const task = await createTask(app, p, { ...input, needs_approval: !!input.needs_approval });
    return c.json({ id: task.id, title: task.title });
  });

  r.get('/tasks/:id', requireAny, async (c) => c.json(await getTask(app, id(c.req.param('id')))));

  r.put('/tasks/:id', requireAny, async (c) => {
    const p = principalOf(c);
    const taskId = id(c.req.param('id'));
    await app.guards.check('task.update', { ...bodyOf(c), task_id: taskId }, p);
    await getTask(app, taskId); // 404 before body validation, as the spec orders it
    const input = parseWith(updateSchema, bodyOf(c));
    const blocked =
      input.blocked_by === undefined
        ? undefined
        : Array.isArray(input.blocked_by)
          ? input.blocked_by
          : [input.blocked_by];
    const needs = input.needs_approval === undefined ? undefined : !!input.needs_approval;
    return c.json(await updateTask(app, p, taskId, { ...input, blocked_by: blocked, needs_approval: needs }));
  });

  r.delete('/tasks/:id', requireAdmin, async (c) =>
    c.json(await deleteTask(app, principalOf(c), id(c.req.param('id')))),
  );

  r.post('/tasks/:id/claim', requireAny, async (c) => {
    const taskId = id(c.req.param('id'));
    const input = parseWith(claimSchema, bodyOf(c));
    return c.json(await claimTask(app, principalOf(c), taskId, input));
  });

  r.post('/tasks/:id/dependency', requireAny, async (c) => {
    const raw = bodyOf(c).blocked_by;
    const blocker = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseIntId(raw.trim()) : null;
    if (blocker === null || !Number.isInteger(blocker) || blocker <= 0)
      throw badRequest('blocked_by (task ID) is required');
    return c.json(await addDependency(app, principalOf(c), id(c.req.param('id')), blocker));
  });

  r.put('/tasks/:id/approve', requireAdmin, async (c) =>
    c.json(await approveTask(app, principalOf(c), id(c.req.param('id')))),
  );

  r.get('/tasks/:id/comments', requireAny, async (c) => {
    const task = await getTask(app, id(c.req.param('id')));
    return c.json(await tasksRepo.comments(app.db, task.id));
  });

  r.post('/tasks/:id/comments', requireAny, async (c) => {
    const taskId = id(c.req.param('id'));
    await getTask(app, taskId);
    const input = parseWith(commentSchema, bodyOf(c));
    return c.json(await addComment(app, principalOf(c), taskId, input.content, input.author));
  });

  r.delete('/tasks/:id/comments/:commentId', requireAny, async (c) =>
    c.json(await deleteComment(app, principalOf(c), id(c.req.param('id')), id(c.req.param('commentId')))),
  );

  r.get('/tasks/:id/deliverables', requireAny, async (c) => {
    const task = await getTask(app, id(c.req.param('id')));
    return c.json(await tasksRepo.deliverables(app.db, task.id));
  });

  r.post('/tasks/:id/deliverable', requireAny, async (c) => {
    const taskId = id(c.req.param('id'));
    await getTask(app, taskId);
    const input = parseWith(deliverableSchema, bodyOf(c));
    return c.json(await addDeliverable(app, principalOf(c), taskId, input));
  });

  return r;
}
