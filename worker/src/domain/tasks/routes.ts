import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute, idParam } from '../../http/contract.js';
import { badRequest } from '../../http/errors.js';
import { hitAgentWrite } from '../../http/rate-limit.js';
import { parseIntId } from '../../http/validate.js';
import { principalOf } from '../../auth/principal.js';
import { tasksRepo } from './repo.js';
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
import {
  AddComment,
  AddDeliverable,
  AddDependency,
  Approved,
  ClaimTask,
  Claimed,
  CommentDeleted,
  CreateTask,
  Created,
  Deleted,
  DependencyAdded,
  Task,
  TaskComment,
  TaskDeliverable,
  TaskIdParams,
  TaskListQuery,
  UpdateTask,
  Updated,
} from './schema.js';

const tags = ['Tasks'];

/** Tasks (spec 03 §3). Thin: contract → guard → service → shaped answer. */
export function taskRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  // Lapsed claims of tasks, bugs and plan steps go back to the queue (issue 17).
  app.jobs.push(leaseExpiryJob);
  const id = (raw: string) => parseIntId(raw);

  // Literal path before /tasks/:id.
  defineRoute(
    r,
    {
      method: 'get',
      path: '/tasks/approval-queue',
      tags,
      summary: 'Tasks waiting for a human approval',
      access: 'admin',
      response: z.array(Task),
    },
    () => tasksRepo.approvalQueue(app.db),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/tasks',
      tags,
      summary: 'List tasks, newest change first',
      access: 'any',
      query: TaskListQuery,
      response: z.array(Task),
    },
    (_c, { query: { limit, offset, ...filters } }) => tasksRepo.list(app.db, filters, limit, offset),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/tasks',
      tags,
      summary: 'Create a task',
      access: 'any',
      body: CreateTask,
      lazyBody: true,
      response: Created,
      errors: [429],
    },
    async (c, input) => {
      const p = principalOf(c);
      hitAgentWrite(app.limiters, p, c.get('clientIp'));
      // Guardrails see the request before validation, as in the original (spec 03 §0.3).
      await app.guards.check('task.create', bodyOf(c), p);
      const body = input.body;
      const task = await createTask(app, p, { ...body, needs_approval: !!body.needs_approval });
      return { id: task.id, title: task.title };
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/tasks/:id',
      tags,
      summary: 'One task',
      access: 'any',
      params: TaskIdParams,
      response: Task,
    },
    (_c, { params }) => getTask(app, id(params.id)),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/tasks/:id',
      tags,
      summary: 'Update a task (status `done` runs the completion cascade)',
      description:
        'An agent holding the task may quote the claim `lease_token`; a write quoting a released lease is refused with 409.',
      access: 'any',
      params: TaskIdParams,
      body: UpdateTask,
      lazyBody: true,
      response: Updated,
      errors: [409],
    },
    async (c, input) => {
      const p = principalOf(c);
      const taskId = id(input.params.id);
      await app.guards.check('task.update', { ...bodyOf(c), task_id: taskId }, p);
      await getTask(app, taskId); // 404 before body validation, as the spec orders it
      const body = input.body;
      const blocked =
        body.blocked_by === undefined
          ? undefined
          : Array.isArray(body.blocked_by)
            ? body.blocked_by
            : [body.blocked_by];
      const needs = body.needs_approval === undefined ? undefined : !!body.needs_approval;
      return updateTask(app, p, taskId, { ...body, blocked_by: blocked, needs_approval: needs });
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/tasks/:id',
      tags,
      summary: 'Delete a task',
      access: 'admin',
      params: TaskIdParams,
      response: Deleted,
    },
    (c, { params }) => deleteTask(app, principalOf(c), id(params.id)),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/tasks/:id/claim',
      tags,
      summary: 'Claim a task (atomic; answers a fencing token)',
      access: 'any',
      params: TaskIdParams,
      body: ClaimTask,
      response: Claimed,
      errors: [409, 503],
    },
    (c, { params, body }) => claimTask(app, principalOf(c), id(params.id), body),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/tasks/:id/dependency',
      tags,
      summary: 'Make this task wait for another',
      access: 'any',
      params: TaskIdParams,
      body: AddDependency,
      response: DependencyAdded,
      errors: [409],
    },
    (c, { params, body }) => {
      const raw = body.blocked_by;
      const blocker = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseIntId(raw.trim()) : null;
      if (blocker === null || !Number.isInteger(blocker) || blocker <= 0)
        throw badRequest('blocked_by (task ID) is required');
      return addDependency(app, principalOf(c), id(params.id), blocker);
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/tasks/:id/approve',
      tags,
      summary: 'Approve a task that needs approval',
      access: 'admin',
      params: TaskIdParams,
      response: Approved,
    },
    (c, { params }) => approveTask(app, principalOf(c), id(params.id)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/tasks/:id/comments',
      tags,
      summary: "A task's comments, oldest first",
      access: 'any',
      params: TaskIdParams,
      response: z.array(TaskComment),
    },
    async (_c, { params }) => tasksRepo.comments(app.db, (await getTask(app, id(params.id))).id),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/tasks/:id/comments',
      tags,
      summary: 'Comment on a task',
      access: 'any',
      params: TaskIdParams,
      body: AddComment,
      lazyBody: true,
      response: TaskComment,
    },
    async (c, input) => {
      const taskId = id(input.params.id);
      await getTask(app, taskId);
      const { content, author } = input.body;
      return addComment(app, principalOf(c), taskId, content, author);
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/tasks/:id/comments/:commentId',
      tags,
      summary: 'Delete a comment (its author or an admin)',
      access: 'any',
      params: z.object({ id: idParam, commentId: idParam }),
      response: CommentDeleted,
    },
    (c, { params }) => deleteComment(app, principalOf(c), id(params.id), id(params.commentId)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/tasks/:id/deliverables',
      tags,
      summary: "A task's deliverables (append-only)",
      access: 'any',
      params: TaskIdParams,
      response: z.array(TaskDeliverable),
    },
    async (_c, { params }) => tasksRepo.deliverables(app.db, (await getTask(app, id(params.id))).id),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/tasks/:id/deliverable',
      tags,
      summary: 'Attach a deliverable to a task',
      access: 'any',
      params: TaskIdParams,
      body: AddDeliverable,
      lazyBody: true,
      response: TaskDeliverable,
    },
    async (c, input) => {
      const taskId = id(input.params.id);
      await getTask(app, taskId);
      return addDeliverable(app, principalOf(c), taskId, input.body);
    },
  );

  return r;
}
