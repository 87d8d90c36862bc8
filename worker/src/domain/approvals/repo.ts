import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';
import type { EventInput } from '../events/bus.js';
import type { EventRowsQuery } from '../events/write.js';
import { inboxRepo } from '../inbox/repo.js';

/** approvals and approval_votes: their SQL lives here (spec 04 §1.1–1.2). */
export interface ApprovalRow {
  id: number;
  action_type: string;
  requested_by: string;
  requester_key: string;
  title: string;
  payload: string;
  subject: string;
  status: string;
  reason: string;
  admin_notes: string;
  decided_by: string | null;
  decided_at: string | null;
  executed_at: string | null;
  project_id: string;
  created_at: string;
  updated_at: string;
  risk_tier: string;
  required_approvals: number;
  current_approvals: number;
  queued_for_morning: number;
  decision_id: string | null;
}

export interface VoteRow {
  id: number;
  approval_id: number;
  voter: string;
  vote: string;
  notes: string;
  created_at: string;
}

/** Wire shape: payload parsed when it is JSON; internal identity columns stay inside. */
export function toPublicApproval(row: ApprovalRow) {
  const { requester_key: _k, decision_id: _d, payload, queued_for_morning, ...rest } = row;
  let parsed: unknown = payload;
  try {
    parsed = JSON.parse(payload);
  } catch {
    /* stored verbatim string */
  }
  return { ...rest, payload: parsed, queued_for_morning: queued_for_morning === 1 };
}

export interface NewApproval {
  action_type: string;
  requested_by: string;
  requester_key: string;
  title: string;
  payload: string;
  subject: string;
  project_id: string;
  risk_tier: string;
  required_approvals: number;
  status: 'pending' | 'approved';
  decided_by: string | null;
  reason: string;
  queued_for_morning: boolean;
  token: string;
}

/**
 * An event written in the same batch as the change, only when the approval row carries this
 * batch's token (and the given status); its data gets the row's real `approval_id`. The rows
 * (zero or one) for `atomicWrite(...).eventPerRow(e, ...)`.
 */
function eventIfToken(e: EventInput, approvalId: number | null, token: string, status?: string): EventRowsQuery {
  const cond = approvalId === null ? 'a.decision_id = ?' : 'a.id = ? AND a.decision_id = ?';
  const args = approvalId === null ? [token] : [approvalId, token];
  return {
    summarySql: '?',
    dataSql: "json_set(?, '$.approval_id', a.id)",
    rest: `FROM approvals a WHERE ${cond}${status ? ' AND a.status = ?' : ''}`,
    args: [e.summary ?? '', JSON.stringify(e.data ?? {}), ...args, ...(status ? [status] : [])],
  };
}

export const approvalsRepo = {
  get(db: Queryable, id: number) {
    return db.get<ApprovalRow>('SELECT * FROM approvals WHERE id = ?', [id]);
  },

  byToken(db: Queryable, token: string) {
    return db.get<ApprovalRow>('SELECT * FROM approvals WHERE decision_id = ?', [token]);
  },

  pendingFor(db: Queryable, actionType: string, projectId: string, subject: string) {
    return db.get<ApprovalRow>(
      "SELECT * FROM approvals WHERE action_type = ? AND project_id = ? AND subject = ? AND status = 'pending'",
      [actionType, projectId, subject],
    );
  },

  list(
    db: Queryable,
    f: {
      status?: string;
      action_type?: string;
      requested_by?: string;
      project_id?: string;
      limit: number;
      scope?: { projects: string[]; requesterKey: string };
    },
  ) {
    const where: string[] = [];
    const args: (string | number)[] = [];
    for (const k of ['status', 'action_type', 'requested_by', 'project_id'] as const) {
      if (f[k] !== undefined) {
        where.push(`${k} = ?`);
        args.push(f[k]!);
      }
    }
    if (f.scope) {
      // Agents see their projects' approvals and their own requests (weak spot A6).
      where.push(`(project_id IN (${f.scope.projects.map(() => '?').join(', ')}) OR requester_key = ?)`);
      args.push(...f.scope.projects, f.scope.requesterKey);
    }
    args.push(f.limit);
    return db.all<ApprovalRow>(
      `SELECT * FROM approvals ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`,
      args,
    );
  },

  /** Pending + approved requests of one requester (heartbeat / boot `approvals`). */
  openByRequester(db: Queryable, requesterKey: string) {
    return db.all<ApprovalRow>(
      "SELECT * FROM approvals WHERE requester_key = ? AND status IN ('pending', 'approved') ORDER BY created_at DESC, id DESC",
      [requesterKey],
    );
  },

  votes(db: Queryable, approvalId: number) {
    return db.all<VoteRow>(
      'SELECT id, approval_id, voter, vote, notes, created_at FROM approval_votes WHERE approval_id = ? ORDER BY created_at, id',
      [approvalId],
    );
  },

  tally(db: Queryable, approvalId: number) {
    return db.get<{ approves: number; denies: number }>(
      `SELECT COALESCE(SUM(vote = 'approve'), 0) AS approves, COALESCE(SUM(vote = 'deny'), 0) AS denies
       FROM approval_votes WHERE approval_id = ?`,
      [approvalId],
    );
  },

  /**
   * The new approval row, stamped with this create's token (the create's other steps find it by
   * that token). A duplicate pending (action, project, subject) inserts nothing and returns no row.
   */
  insert(a: NewApproval): Statement {
    return {
      sql: `INSERT INTO approvals (action_type, requested_by, requester_key, title, payload, subject, project_id, risk_tier,
              required_approvals, status, decided_by, decided_at, reason, queued_for_morning, decision_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CASE WHEN ? = 'approved' THEN datetime('now') END, ?, ?, ?)
            ON CONFLICT DO NOTHING RETURNING id`,
      args: [
        a.action_type,
        a.requested_by,
        a.requester_key,
        a.title,
        a.payload,
        a.subject,
        a.project_id,
        a.risk_tier,
        a.required_approvals,
        a.status,
        a.decided_by,
        a.status,
        a.reason,
        a.queued_for_morning ? 1 : 0,
        a.token,
      ],
    };
  },

  /** One inbox item per active operator for the pending approval this token created. */
  notifyOperators(a: NewApproval): Statement {
    const priority = a.risk_tier === 'high' || a.risk_tier === 'critical' ? 'urgent' : 'normal';
    return inboxRepo.insertSelected(
      `SELECT o.id, 'approval', 'approval', CAST(ap.id AS TEXT), ?, ?, json_object('approval_id', ap.id,
              'action_type', ap.action_type, 'requested_by', ap.requested_by, 'risk_tier', ap.risk_tier), ?
       FROM operators o JOIN approvals ap ON ap.decision_id = ?
       WHERE o.status = 'active'`,
      [`[${a.action_type}] ${a.title}`, `Requested by ${a.requested_by} · ${a.risk_tier} risk`, priority, a.token],
    );
  },

  /** An event about the approval this create's token stamped (none when it inserted nothing). */
  createdEvent(e: EventInput, token: string): EventRowsQuery {
    return eventIfToken(e, null, token);
  },

  /** Upserts one voter's vote while the approval is pending; the latest vote of a voter wins. */
  upsertVote(approvalId: number, voter: string, voterKey: string, vote: 'approve' | 'deny', notes: string): Statement {
    return {
      sql: `INSERT INTO approval_votes (approval_id, voter, voter_key, vote, notes)
            SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM approvals WHERE id = ? AND status = 'pending')
            ON CONFLICT(approval_id, voter_key) DO UPDATE SET vote = excluded.vote, notes = excluded.notes,
              voter = excluded.voter, created_at = datetime('now')
            RETURNING id`,
      args: [approvalId, voter, voterKey, vote, notes, approvalId],
    };
  },

  /**
   * The decision as one conditional statement, evaluated on the votes stored so far: any deny
   * denies, otherwise enough distinct approvers approve. Being a function of the stored vote set
   * (not of the vote being cast), it gives the same outcome whatever the order votes arrive in.
   */
  decide(
    approvalId: number,
    decider: string,
    denyReason: string,
    token: string,
    approveReason: string | null = null,
  ): Statement {
    const approves = `(SELECT COUNT(*) FROM approval_votes WHERE approval_id = approvals.id AND vote = 'approve')`;
    const anyDeny = `EXISTS (SELECT 1 FROM approval_votes WHERE approval_id = approvals.id AND vote = 'deny')`;
    return {
      sql: `UPDATE approvals SET
              current_approvals = ${approves},
              status = CASE WHEN ${anyDeny} THEN 'denied' ELSE 'approved' END,
              reason = CASE WHEN ${anyDeny} THEN ? ELSE COALESCE(?, 'Quorum reached (' || ${approves} || '/' || required_approvals || ')') END,
              decided_by = ?, decided_at = datetime('now'), updated_at = datetime('now'), decision_id = ?
            WHERE id = ? AND status = 'pending' AND (${anyDeny} OR ${approves} >= required_approvals)
            RETURNING *`,
      args: [denyReason, approveReason, decider, token, approvalId],
    };
  },

  syncApprovalCount(approvalId: number): Statement {
    return {
      sql: `UPDATE approvals SET current_approvals = (SELECT COUNT(*) FROM approval_votes WHERE approval_id = approvals.id AND vote = 'approve'),
              updated_at = datetime('now') WHERE id = ? AND status = 'pending'`,
      args: [approvalId],
    };
  },

  /**
   * Side effects of a decision, each conditioned on the decision token (nothing if it did not
   * happen): the approval's inbox items actioned and the requesting agent told. Its events are
   * `decisionEvent`s, the requester's operator told is `notifyRequesterOperator`.
   */
  decisionEffects(approvalId: number, token: string, notice: { approved: string; denied: string }): Statement[] {
    return [
      inboxRepo.markActionedWhere(
        `entity_type = 'approval' AND entity_id = ? AND EXISTS (SELECT 1 FROM approvals WHERE id = ? AND decision_id = ?)`,
        [String(approvalId), approvalId, token],
      ),
      {
        // The requesting agent hears about the decision (messages are the agent's inbox).
        sql: `INSERT INTO messages (from_agent, to_agent, project_id, content, msg_type)
              SELECT '__system__', substr(requester_key, 7), project_id,
                     CASE status WHEN 'approved' THEN ? ELSE ? END, 'info'
              FROM approvals WHERE id = ? AND decision_id = ? AND requester_key LIKE 'agent:%'`,
        args: [notice.approved, notice.denied, approvalId, token],
      },
    ];
  },

  /** The event of a decision with this outcome, written only if this token decided it so. */
  decisionEvent(e: EventInput, approvalId: number, token: string, status: 'approved' | 'denied'): EventRowsQuery {
    return eventIfToken(e, approvalId, token, status);
  },

  /** The operator the requesting agent works for hears of the decision too (spec 04 §2.3). */
  notifyRequesterOperator(approvalId: number, token: string, notice: { approved: string; denied: string }): Statement {
    return inboxRepo.insertSelected(
      `SELECT o.id, 'approval_' || a.status, 'approval', CAST(a.id AS TEXT),
                CASE a.status WHEN 'approved' THEN ? ELSE ? END, a.project_id, '{}', 'normal'
         FROM approvals a JOIN agents ag ON a.requester_key = 'agent:' || ag.id JOIN operators o ON o.id = ag.operator_id
         WHERE a.id = ? AND a.decision_id = ? AND ag.operator_id != ''`,
      [notice.approved, notice.denied, approvalId, token],
    );
  },

  /**
   * Expiry (spec 04 A9): every approval still pending since before `cutoff` becomes `expired`,
   * stamped with one token; its inbox items are actioned, the requesting agent gets a message
   * and (`expiredEvents`, in the same batch) an `approval_expired` event is written per row.
   */
  expireBatch(cutoff: string, token: string, hours: number): Statement[] {
    const reason = `Expired after ${hours} h without a decision`;
    return [
      {
        sql: `UPDATE approvals SET status = 'expired', reason = ?, decided_by = '__system__', decided_at = datetime('now'),
                updated_at = datetime('now'), decision_id = ?
              WHERE status = 'pending' AND created_at < ?`,
        args: [reason, token, cutoff],
      },
      inboxRepo.markActionedWhere(
        `entity_type = 'approval' AND entity_id IN (SELECT CAST(id AS TEXT) FROM approvals WHERE decision_id = ?)`,
        [token],
      ),
      {
        sql: `INSERT INTO messages (from_agent, to_agent, project_id, content, msg_type)
              SELECT '__system__', substr(requester_key, 7), project_id, 'EXPIRED: [' || action_type || '] ' || title || ' — ' || ?, 'info'
              FROM approvals WHERE decision_id = ? AND requester_key LIKE 'agent:%'`,
        args: [reason, token],
      },
    ];
  },

  /** One `approval_expired` event per approval this expiry's token stamped, in id order. */
  expiredEvents(token: string): EventRowsQuery {
    return {
      projectSql: 'project_id',
      summarySql: "'Approval #' || id || ' expired: [' || action_type || '] ' || title",
      dataSql: "json_object('approval_id', id, 'action_type', action_type, 'requested_by', requested_by)",
      rest: 'FROM approvals WHERE decision_id = ? ORDER BY id',
      args: [token],
    };
  },

  /** approved → executed, once (the gate's single use, and PUT …/executed). */
  /** approved → executed as one conditional UPDATE; batch it with its event (abort when it matched nothing). */
  markExecuted(id: number): Statement {
    return {
      sql: `UPDATE approvals SET status = 'executed', executed_at = datetime('now'), updated_at = datetime('now')
       WHERE id = ? AND status = 'approved' RETURNING *`,
      args: [id],
    };
  },

  /** Human voters who can exist on this instance: every studio user plus the admin key. */
  async voterCounts(db: Queryable): Promise<{ humans: number; admins: number }> {
    const r = await db.get<{ humans: number; admins: number }>(
      "SELECT COUNT(*) AS humans, COALESCE(SUM(role = 'admin'), 0) AS admins FROM studio_users",
    );
    return { humans: Number(r?.humans ?? 0) + 1, admins: Number(r?.admins ?? 0) };
  },
};
