import type { Queryable } from '../../db/db.js';

/** Work an agent holds: open/in-progress tasks and bugs, pending/in-progress steps (W5). Args: agent id ×3. */
const HELD_SQL = `((SELECT COUNT(*) FROM tasks WHERE assignee = ? AND status IN ('open','in_progress'))
  + (SELECT COUNT(*) FROM plan_steps WHERE assignee = ? AND status IN ('pending','in_progress'))
  + (SELECT COUNT(*) FROM bugs WHERE assignee = ? AND status IN ('open','in_progress')))`;

/** Dispatch candidates (spec 02 §2.5): idle, fresh, not drones, no undelivered directive; with the work they hold. */
export const dispatchRepo = {
  heldSql: () => HELD_SQL,

  idleCandidates(db: Queryable, since: string) {
    return db.all<{ id: string; project_id: string; capabilities: string; max_concurrent: number; held: number }>(
      `SELECT a.id, a.project_id, a.capabilities, COALESCE(pr.max_concurrent, 0) AS max_concurrent,
              (SELECT COUNT(*) FROM tasks t WHERE t.assignee = a.id AND t.status IN ('open','in_progress'))
            + (SELECT COUNT(*) FROM plan_steps s WHERE s.assignee = a.id AND s.status IN ('pending','in_progress'))
            + (SELECT COUNT(*) FROM bugs b WHERE b.assignee = a.id AND b.status IN ('open','in_progress')) AS held
       FROM agents a LEFT JOIN agent_profiles pr ON pr.agent_id = a.id
       WHERE a.status IN ('online','idle') AND COALESCE(a.working_on, '') = '' AND a.last_heartbeat >= ?
         AND a.agent_type != 'drone' AND a.project_id != 'drone' AND a.role != 'drone'
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.msg_type = 'directive' AND m.status = 'sent'
                         AND (m.to_agent = a.id OR m.to_agent IS NULL)
                         AND NOT EXISTS (SELECT 1 FROM message_reads r WHERE r.message_id = m.id AND r.agent_id = a.id))
       ORDER BY a.last_heartbeat DESC, a.id ASC LIMIT 200`,
      [since],
    );
  },
};
