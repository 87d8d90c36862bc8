import { SqlTexts } from '../../db/sql-texts.js';
import type { Statement } from '../../db/types.js';

const APPROVAL_COLS = 'id, action_type, title, status, risk_tier, project_id, created_at, decided_at';
const APPROVAL_JSON = APPROVAL_COLS.split(', ')
  .map((c) => `'${c}', ${c}`)
  .join(', ');

/** Built once: the same SQL text on every heartbeat (the driver's statement cache finds it without hashing a new string). */
const OPEN_APPROVALS_JSON = `SELECT json_group_array(json_object(${APPROVAL_JSON})) FROM (
  SELECT ${APPROVAL_COLS} FROM approvals
  WHERE requested_by = ? AND requester_key = ? AND status IN ('pending','approved') ORDER BY id DESC LIMIT 20)`;

/** The rows of `heartbeatRepo.openApprovalsJson`'s value. */
export function approvalsFrom(value: unknown): { id: number }[] {
  const rows = typeof value === 'string' ? (JSON.parse(value) as { id: number }[]) : [];
  // Newest first (an ORDER BY inside the aggregate would cost a sorter on every heartbeat).
  if (rows.length > 1) rows.sort((a, b) => b.id - a.id);
  return rows;
}

const STANDUP_AT = "SELECT updated_at FROM context_keys WHERE namespace = ? AND key = 'standup'";

/** Heartbeat side reads/writes on tables owned elsewhere (approvals, context keys). */
export const heartbeatRepo = {
  /**
   * The agent's own approvals still open or approved, newest first, at most 20 (spec 02 §3.3 step
   * 13), as ONE JSON array value: a scalar subquery the heartbeat folds into its facts row (issue
   * 11). Read it with `approvalsFrom`, which puts it in that order.
   */
  openApprovalsJson(agentId: string): Statement {
    return { sql: OPEN_APPROVALS_JSON, args: [agentId, `agent:${agentId}`] };
  },

  /** state_snapshot.md_report → context key <agent>/md_report, written by `system` (spec 02 §3.3 step 8). */
  storeMdReport(agentId: string, data: string): Statement {
    return heartbeatRepo.storeAgentKeyInOwnProject(agentId, 'md_report', data);
  },

  /**
   * A system-written key in the agent's own namespace (md_report, standup). It belongs to the
   * agent's project like any key the agent writes itself (spec 04 §3.2, SEC-16): agents of other
   * projects get the cross-project 403. The system is the authority on these keys, so every write
   * (re)stamps the owner — rows written before this rule, or squatted, are brought into scope.
   */
  storeAgentKey(agentId: string, projectId: string, key: 'md_report' | 'standup', data: string): Statement {
    return agentKeyWrite(agentId, key, data, { sql: '?', args: [projectId || null] });
  },

  /** `storeAgentKey` with the owner read from the agent row inside the batch (the heartbeat knows it only there). */
  storeAgentKeyInOwnProject(agentId: string, key: 'md_report' | 'standup', data: string): Statement {
    return agentKeyWrite(agentId, key, data, {
      sql: "NULLIF((SELECT project_id FROM agents WHERE id = ?), '')",
      args: [agentId],
    });
  },

  /** When the calibration block was last stored (NULL: never), as a scalar subquery. */
  standupAtSql(agentId: string): Statement {
    return { sql: STANDUP_AT, args: [agentId] };
  },
};

/** `agentKeyWrite`'s text per owner expression (two): built once, not per heartbeat or boot. */
const agentKeyWriteSql = new SqlTexts(10);

function agentKeyWrite(agentId: string, key: string, data: string, project: Statement): Statement {
  return {
    sql: agentKeyWriteSql.get(
      project.sql,
      () => `INSERT INTO context_keys (namespace, key, data, updated_by, project_id) VALUES (?, ?, ?, 'system', ${project.sql})
          ON CONFLICT(namespace, key) DO UPDATE SET data = excluded.data, updated_at = datetime('now'), updated_by = 'system',
            version = version + 1, project_id = excluded.project_id`,
    ),
    args: [agentId, key, data, ...(project.args ?? [])],
  };
}
