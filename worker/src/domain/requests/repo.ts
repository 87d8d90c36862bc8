import type { Statement } from '../../db/types.js';

/**
 * The one task write of the requests area: the auto-task of `POST /requests`, linked to the request
 * through `request_id` so the done-cascade can resolve it (spec 03 W12). It runs in the same batch
 * as the request insert and takes the request's id from last_insert_rowid().
 */
export const requestTasks = {
  insertLinkedToPreviousMessage(t: {
    title: string;
    description: string;
    project_id: string;
    requester: string;
    assignee: string;
    priority: string;
  }): Statement {
    return {
      sql: `INSERT INTO tasks (title, description, project_id, requester, assignee, status, priority, request_id)
            VALUES (?, ?, ?, ?, ?, 'open', ?, last_insert_rowid()) RETURNING id`,
      args: [t.title, t.description, t.project_id, t.requester, t.assignee, t.priority],
    };
  },
};
