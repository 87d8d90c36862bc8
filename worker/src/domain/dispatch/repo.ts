import type { Queryable } from '../../db/db.js';
import { stepReadySql } from '../plans/repo.js';
import { taskReadySql } from '../tasks/repo.js';

/** Work an agent holds: open/in-progress tasks and bugs, pending/in-progress steps (W5). Args: agent id ×3. */
const HELD_SQL = `((SELECT COUNT(*) FROM tasks WHERE assignee = ? AND status IN ('open','in_progress'))
  + (SELECT COUNT(*) FROM plan_steps WHERE assignee = ? AND status IN ('pending','in_progress'))
  + (SELECT COUNT(*) FROM bugs WHERE assignee = ? AND status IN ('open','in_progress')))`;

/** The exact count of what agent `a` holds (the same three parts as HELD_SQL). */
const HELD_OF_A = `((SELECT COUNT(*) FROM tasks t WHERE t.assignee = a.id AND t.status IN ('open','in_progress'))
            + (SELECT COUNT(*) FROM plan_steps s WHERE s.assignee = a.id AND s.status IN ('pending','in_progress'))
            + (SELECT COUNT(*) FROM bugs b WHERE b.assignee = a.id AND b.status IN ('open','in_progress')))`;

/**
 * No undelivered directive for agent `a` (addressed to it, or broadcast and not read by it): two
 * lookups in the partial index of open directives (migration 0029, the inbox's), not a walk of
 * every directive per agent. Its condition is repeated so the index applies; only `sent` counts here.
 */
const NO_DIRECTIVE = ['m.to_agent = a.id', 'm.to_agent IS NULL']
  .map(
    (to) => `NOT EXISTS (SELECT 1 FROM messages m INDEXED BY idx_messages_open_directives
                         WHERE ${to} AND m.msg_type = 'directive' AND m.status IN ('sent','pending') AND m.status = 'sent'
                         AND NOT EXISTS (SELECT 1 FROM message_reads r WHERE r.message_id = m.id AND r.agent_id = a.id))`,
  )
  .join(' AND ');

/**
 * Some step or task could be dispatched to someone (any scope): read once per statement, before
 * any candidate, so a pass with nothing to hand out reads no agents at all. The open pool by the
 * partial index of migration 0016; steps of active plans only.
 */
const WORK_EXISTS = `(EXISTS (SELECT 1 FROM tasks w INDEXED BY idx_tasks_dispatch_all WHERE w.status = 'open' AND COALESCE(w.assignee, '') = '' AND ${taskReadySql('w')})
     OR EXISTS (SELECT 1 FROM plans wp JOIN plan_steps ws ON ws.plan_id = wp.id
                WHERE wp.status = 'active' AND ws.status = 'pending' AND COALESCE(ws.assignee, '') = '' AND ${stepReadySql('ws')}))`;

/** Dispatch candidates (spec 02 §2.5): idle, fresh, not drones, no undelivered directive; with the work they hold. */
export const dispatchRepo = {
  heldSql: () => HELD_SQL,

  /**
   * Idle-for-dispatch agents (§2.5) that can take work, freshest first, at most 200. Found through
   * `agents.held` (a count kept by triggers, migration 0016) and the partial index of idle agents,
   * so the read stops at its limit instead of counting and sorting every online agent: agents that
   * hold nothing, then the few allowed several items (max_concurrent > 1) that hold fewer than
   * that (read from the profiles' partial index: CROSS JOIN keeps the planner from starting at
   * every online agent). `held` in the answer is the exact count; the pass decides on it.
   */
  idleCandidates(db: Queryable, since: string) {
    const columns = `a.id, a.project_id, a.capabilities, a.last_heartbeat,
              COALESCE(pr.max_concurrent, 0) AS max_concurrent, ${HELD_OF_A} AS held,
              EXISTS (SELECT 1 FROM team_members tm WHERE tm.user_id = a.id AND tm.user_type = 'agent') AS in_team`;
    const idle = `${WORK_EXISTS} AND a.status IN ('online','idle') AND COALESCE(a.working_on, '') = '' AND a.last_heartbeat >= ?
         AND a.agent_type != 'drone' AND a.project_id != 'drone' AND a.role != 'drone'
         AND ${NO_DIRECTIVE}`;
    const freshest = 'ORDER BY a.last_heartbeat DESC, a.id ASC LIMIT 200';
    return db.all<{
      id: string;
      project_id: string;
      capabilities: string;
      max_concurrent: number;
      held: number;
      in_team: number;
    }>(
      `SELECT id, project_id, capabilities, max_concurrent, held, in_team FROM (
         SELECT * FROM (SELECT ${columns} FROM agents a LEFT JOIN agent_profiles pr ON pr.agent_id = a.id
                        WHERE a.held = 0 AND ${idle} ${freshest})
         UNION ALL
         SELECT * FROM (SELECT ${columns} FROM agent_profiles pr CROSS JOIN agents a ON a.id = pr.agent_id
                        WHERE pr.max_concurrent > 1 AND a.held > 0 AND a.held < pr.max_concurrent AND ${idle} ${freshest})
       ) ORDER BY last_heartbeat DESC, id ASC LIMIT 200`,
      [since, since],
    );
  },
};
