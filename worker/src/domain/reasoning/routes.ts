import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { badRequest } from '../../http/errors.js';
import { hitAgentWrite } from '../../http/rate-limit.js';
import { principalOf, requireAny } from '../../auth/principal.js';
import { actingIdentity } from '../../auth/scope.js';

const STEPS = ['thinking', 'tool_call', 'result', 'done', 'error'];
const MAX_TEXT = 64 * 1024;

/**
 * `POST /reasoning` (spec 01 §5.12): an agent's live reasoning stream, kept as `agent_reasoning`
 * events. Attribution comes from the credentials; body `agent` counts only for admins.
 */
export function reasoningRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  r.post('/reasoning', requireAny, async (c) => {
    const p = principalOf(c);
    hitAgentWrite(app.limiters, p, c.get('clientIp'));
    const b = bodyOf(c);
    const step = b.step === undefined ? 'thinking' : b.step;
    if (typeof step !== 'string' || !STEPS.includes(step)) throw badRequest('invalid step');
    const taskId = b.task_id === undefined || b.task_id === null ? null : b.task_id;
    if (taskId !== null && !(typeof taskId === 'number' && Number.isInteger(taskId) && taskId > 0))
      throw badRequest('task_id must be a positive integer');
    const turn = b.turn === undefined || b.turn === null ? null : b.turn;
    if (turn !== null && !(typeof turn === 'number' && Number.isInteger(turn) && turn >= 0))
      throw badRequest('turn must be a non-negative integer');
    if (b.text !== undefined && b.text !== null && typeof b.text !== 'string')
      throw badRequest('text must be a string');
    const text = typeof b.text === 'string' ? b.text : '';
    if (text.length > MAX_TEXT) throw badRequest(`text exceeds max length (${MAX_TEXT} chars)`);
    const tool = b.tool === undefined || b.tool === null ? null : b.tool;
    if (tool !== null && (typeof tool !== 'object' || Array.isArray(tool))) throw badRequest('tool must be an object');
    const toolName =
      tool && typeof (tool as { name?: unknown }).name === 'string'
        ? (tool as { name: string }).name.slice(0, 100)
        : null;

    const agent = actingIdentity(p, b.agent);
    const summary = `${agent} · ${step}${toolName ? ` · ${toolName}` : ''}${taskId !== null ? ` (task #${taskId})` : ''}`;
    const ev = await app.events.emit({
      type: 'agent_reasoning',
      agent,
      projectId: p.kind === 'agent' && p.projectId ? p.projectId : null,
      summary,
      data: { task_id: taskId, turn, step, text, tool },
    });
    return c.json({ ok: true, id: ev.id });
  });

  return r;
}
