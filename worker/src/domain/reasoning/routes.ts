import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest } from '../../http/errors.js';
import { hitAgentWrite } from '../../http/rate-limit.js';
import { principalOf } from '../../auth/principal.js';
import { actingIdentity } from '../../auth/scope.js';
import { REASONING_STEPS, ReasoningRecorded, ReasoningStep } from './schema.js';

/**
 * `POST /reasoning` (spec 01 §5.12): an agent's live reasoning stream, kept as `agent_reasoning`
 * events. Attribution comes from the credentials; body `agent` counts only for admins.
 */
export function reasoningRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  defineRoute(
    r,
    {
      method: 'post',
      path: '/reasoning',
      tags: ['Reasoning'],
      summary: "Record a step of an agent's reasoning (an `agent_reasoning` event)",
      access: 'any',
      body: ReasoningStep,
      lazyBody: true,
      response: ReasoningRecorded,
      errors: [429],
    },
    async (c, input) => {
      const p = principalOf(c);
      hitAgentWrite(app.limiters, p, c.get('clientIp'));
      // The step is checked first, as before; its sentence names no field, so it stays here.
      const rawStep = bodyOf(c).step;
      const step = rawStep === undefined ? 'thinking' : rawStep;
      if (typeof step !== 'string' || !(REASONING_STEPS as readonly string[]).includes(step))
        throw badRequest('invalid step');
      const b = input.body;
      const taskId = (b.task_id ?? null) as number | null;
      const turn = (b.turn ?? null) as number | null;
      const text = typeof b.text === 'string' ? b.text : '';
      const tool = (b.tool ?? null) as Record<string, unknown> | null;
      const toolName = tool && typeof tool.name === 'string' ? tool.name.slice(0, 100) : null;

      const agent = actingIdentity(p, b.agent);
      const summary = `${agent} · ${step}${toolName ? ` · ${toolName}` : ''}${taskId !== null ? ` (task #${taskId})` : ''}`;
      const ev = await app.events.emit({
        type: 'agent_reasoning',
        agent,
        projectId: p.kind === 'agent' && p.projectId ? p.projectId : null,
        summary,
        data: { task_id: taskId, turn, step, text, tool },
      });
      return { ok: true as const, id: ev.id };
    },
  );

  return r;
}
