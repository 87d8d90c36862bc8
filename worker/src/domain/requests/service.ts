import { displayName } from '../../auth/who.js';
import { toDbTime } from '../../db/time.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import type { Statement } from '../../db/types.js';
import type { EventInput } from '../events/bus.js';
import { badRequest, forbidden, invalidEnum } from '../../http/errors.js';
import { canonicalWho } from '../operators/service.js';
import { assertProjectScope } from '../../auth/scope.js';
import { agentsRepo } from '../agents/repo.js';
import { messagesRepo } from '../messages/repo.js';
import { atomicWrite } from '../events/write.js';
import { contentOf, insertWithFollowUps, metadataOf, optString, requestInboxItem } from '../messages/service.js';
import { requestTasks } from './repo.js';
import { WebhookService } from '../webhooks/service.js';

const TASK_PRIORITIES = ['low', 'normal', 'high'] as const;
const STALE_MS = 72 * 3_600_000;

export class RequestService {
  constructor(private readonly app: AppContext) {}

  /**
   * GET /requests/pending: `agent_id` is honoured only for admins (spec 03 W9, spec 01 §2.5);
   * anyone else reads the requests addressed to themselves — an operator under either of its
   * identities (display name or operator id) — and asking for someone else is a 403.
   */
  async pending(p: Principal, asked: string | undefined) {
    const own = [p.who, await canonicalWho(this.app, p)];
    if (asked !== undefined && !p.isAdmin && !own.includes(asked))
      throw forbidden('Can only read your own pending requests');
    return messagesRepo.pendingRequestRows(this.app.db, asked ?? own[0]);
  }

  /** POST /requests: a pending, urgent request; with `auto_task` a linked task (spec 03 §8.1, W12). */
  async create(p: Principal, body: Record<string, unknown>) {
    const { db } = this.app;
    const content = contentOf(body);
    const to = body.to_agent;
    if (to === undefined || to === null || to === '')
      throw badRequest('to_agent is required for requests — use POST /messages for broadcasts');
    if (typeof to !== 'string' || to.length > 128) throw badRequest('to_agent must be a string');
    const sender = p.who;
    const thread = optString(body, 'thread_id', 200);
    const project = optString(body, 'project_id', 200);
    const metadata = metadataOf(body);
    const autoTask = body.auto_task === true || body.auto_task === 1 || body.auto_task === 'true';
    let taskTitle = '';
    let priority = 'normal';
    if (autoTask) {
      const t = optString(body, 'task_title', 500);
      taskTitle = t ?? content.slice(0, 80);
      if (body.priority !== undefined && body.priority !== null) {
        if (typeof body.priority !== 'string' || !(TASK_PRIORITIES as readonly string[]).includes(body.priority))
          throw invalidEnum('priority', body.priority, TASK_PRIORITIES);
        priority = body.priority;
      }
    }
    // The auto-task is a work item: the sender needs write scope on its project (spec README).
    if (autoTask) await assertProjectScope(db, p, project ?? '');
    const stmts: Statement[] = [
      messagesRepo.insert({
        from_agent: sender,
        to_agent: to,
        thread_id: thread,
        project_id: project,
        content,
        metadata,
        msg_type: 'request',
        status: 'pending',
        channel_id: null,
        priority: 'urgent',
      }),
    ];
    // Must directly follow the message insert: it links the task through last_insert_rowid().
    if (autoTask)
      stmts.push(
        requestTasks.insertLinkedToPreviousMessage({
          title: taskTitle,
          description: content,
          project_id: project ?? '',
          requester: sender,
          assignee: to,
          priority,
        }),
      );
    const recipient = await agentsRepo.get(db, to);
    // The request, its task, inbox item and events commit together (see insertWithFollowUps).
    const hooks = new WebhookService(this.app);
    const { id, taskId } = await insertWithFollowUps(this.app, stmts, (res) => {
      const id = Number(res[0].rows[0].id);
      const taskId = autoTask ? Number(res[1].rows[0].id) : undefined;
      const follow: Statement[] = [];
      if (recipient?.operator_id)
        follow.push(requestInboxItem(recipient.operator_id, id, sender, to, content, project));
      // The recipient's webhook (spec 04 §8.3) commits with the request.
      follow.push(
        hooks.enqueueStatement('request_created', to, { message_id: id, from: sender, content: content.slice(0, 200) }),
      );
      const events: EventInput[] = [
        {
          type: 'request_created',
          agent: sender,
          projectId: project,
          summary: `${displayName(sender)} sent request to ${displayName(to)}`,
          data: { message_id: id },
        },
        {
          type: 'request_received',
          agent: to,
          projectId: project,
          summary: `${displayName(sender)} → ${displayName(to)}`,
          data: { message_id: id, from: sender, blocking: true },
        },
      ];
      if (taskId !== undefined) {
        events.push({
          type: 'task_created',
          agent: sender,
          projectId: project,
          summary: `Auto-task from request: ${taskTitle} → ${displayName(to)}`,
          data: { task_id: taskId, message_id: id },
        });
      }
      return { stmts: follow, events, result: { id, taskId } };
    });
    hooks.kick();
    return taskId !== undefined ? { id, task_id: taskId } : { id };
  }
}

/** Maintenance: requests pending for over 72 h are closed by the system, with an event each (spec 03 §8.5, W26). */
export async function resolveStaleRequests(app: AppContext): Promise<number> {
  const cutoff = toDbTime(app.clock.now().getTime() - STALE_MS);
  const stale = messagesRepo.staleRequests(cutoff);
  // One batch: an event row per request about to close, then the close with the same condition,
  // so every closed request has its event and no event names a request left open (issue 17).
  const res = await atomicWrite(app)
    .eventPerRow(
      { type: 'request_resolved', agent: 'system' },
      {
        summarySql: "'System auto-resolved request #' || id || ' (pending over 72 hours)'",
        dataSql: "json_object('message_id', id, 'auto', json('true'))",
        projectSql: 'project_id',
        rest: stale.rest,
        args: stale.args,
      },
    )
    .add('closed', messagesRepo.resolveStale(cutoff))
    .commit();
  return res.changes('closed');
}
