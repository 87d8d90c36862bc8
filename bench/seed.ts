/**
 * The realistic database the coordination benches load (bench/README.md): agents in 5 projects,
 * tasks (4 assigned per agent for the first 50, every 10th blocked by the previous, mixed
 * priorities), 5 active plans of 10 steps, 50 bugs, one unread message and one pending request per
 * busy agent. Written straight into a migrated SQLite file (WAL lets a running server share it).
 */
import { createHash, randomBytes } from 'node:crypto';
import Database from 'libsql';

export interface BenchAgent {
  id: string;
  key: string;
  project: string;
}

export interface Seeded {
  agents: BenchAgent[];
  /** Open, unassigned, unblocked tasks: each can be claimed once by an agent of its project. */
  claimable: { id: number; project: string }[];
}

export const SEED_PROJECTS = 5;

/**
 * `history`: that many past events (and a third as many read messages between the agents), spread
 * over the last 30 days in time order, as a server that has run for a month holds them — the growth
 * bench for the append-only logs (an agent's call must not read its projects' whole history).
 */
export function seedDatabase(file: string, opts: { agents: number; tasks: number; history?: number }): Seeded {
  const AGENTS = opts.agents;
  const PROJECTS = SEED_PROJECTS;
  const db = new Database(file);
  db.exec('PRAGMA busy_timeout = 5000');
  const agents: BenchAgent[] = [];
  const insAgent = db.prepare(
    "INSERT INTO agents (id, name, project_id, api_key_hash, status, capabilities, last_heartbeat, working_on) VALUES (?, ?, ?, ?, 'online', '[\"code\"]', datetime('now'), ?)",
  );
  const insTask = db.prepare(
    'INSERT INTO tasks (title, description, project_id, requester, assignee, priority, blocked_by) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
  );
  const insMsg = db.prepare(
    'INSERT INTO messages (from_agent, to_agent, content, msg_type, status) VALUES (?, ?, ?, ?, ?)',
  );
  const joinGeneral = db.prepare(
    "INSERT OR IGNORE INTO channel_members (channel_id, user_id, user_type) SELECT id, ?, 'agent' FROM channels WHERE slug = 'general'",
  );
  const claimable: { id: number; project: string }[] = [];
  db.exec('BEGIN');
  for (let i = 0; i < AGENTS; i++) {
    const key = `dvk_${randomBytes(24).toString('hex')}`;
    const a = { id: `bench-${i}`, key, project: `proj-${i % PROJECTS}` };
    // Agents past the 50 the load drives are online and working on something of their own (a
    // network of 10,000 at work): the dispatch pass must find its candidates among them, not hand
    // each one a task (which, with all of them idle, took every claimable task in a few passes).
    insAgent.run(
      a.id,
      `Bench ${i}`,
      a.project,
      createHash('sha256').update(key).digest('hex'),
      i < 50 ? '' : `bench: elsewhere ${i}`,
    );
    joinGeneral.run(a.id);
    agents.push(a);
  }
  const priorities = ['low', 'normal', 'normal', 'normal', 'high'];
  let prev = 0;
  for (let i = 0; i < opts.tasks; i++) {
    const project = `proj-${i % PROJECTS}`;
    // 20% assigned, 4 to each of the first 50 agents (the ones the benches drive, whatever the
    // number registered), the rest open for claims; every 10th depends on the previous.
    const assignee = i < 4 * Math.min(AGENTS, 50) ? agents[i % Math.min(AGENTS, 50)].id : null;
    const blockedBy = i % 10 === 9 && prev ? JSON.stringify([prev]) : '[]';
    const row = insTask.get(
      `Task ${i}`,
      `Description of task ${i} `.repeat(5),
      assignee ? agents[i % Math.min(AGENTS, 50)].project : project,
      'bench-admin',
      assignee,
      priorities[i % 5],
      blockedBy,
    ) as { id: number };
    prev = Number(row.id);
    if (!assignee && blockedBy === '[]') claimable.push({ id: prev, project });
  }
  for (let p = 0; p < PROJECTS; p++) {
    const plan = db
      .prepare("INSERT INTO plans (title, project_id, status) VALUES (?, ?, 'active') RETURNING id")
      .get(`Plan ${p}`, `proj-${p}`) as { id: number };
    for (let s = 1; s <= 10; s++)
      db.prepare('INSERT INTO plan_steps (plan_id, step_order, title) VALUES (?, ?, ?)').run(plan.id, s, `Step ${s}`);
    for (let b = 0; b < 10; b++)
      db.prepare("INSERT INTO bugs (title, description, project_id, severity) VALUES (?, 'd', ?, ?)").run(
        `Bug ${p}-${b}`,
        `proj-${p}`,
        b % 3 ? 'normal' : 'high',
      );
  }
  for (const a of agents.slice(0, 50)) {
    insMsg.run('bench-admin', a.id, 'hello there', 'message', 'sent');
    insMsg.run(agents[(agents.indexOf(a) + 1) % AGENTS].id, a.id, 'a question', 'request', 'pending');
  }
  const history = opts.history ?? 0;
  if (history > 0) {
    const insEvent = db.prepare(
      "INSERT INTO events (type, agent, project_id, summary, data, created_at) VALUES (?, ?, ?, 'past', '{}', datetime('now', ?))",
    );
    const insOld = db.prepare(
      "INSERT INTO messages (from_agent, to_agent, content, msg_type, status, created_at) VALUES (?, ?, 'old news', 'message', 'read', datetime('now', ?))",
    );
    const types = ['task.updated', 'agent.working_on', 'context.updated', 'message.sent'];
    const span = 30 * 86_400;
    for (let i = 0; i < history; i++) {
      // Oldest first, ending a minute ago: ids follow time, as the server writes them.
      const ago = `-${60 + Math.floor(((history - i) * span) / history)} seconds`;
      const a = agents[i % Math.min(AGENTS, 50)];
      insEvent.run(types[i % types.length], a.id, a.project, ago);
      if (i % 3 === 0) insOld.run(agents[(i + 1) % Math.min(AGENTS, 50)].id, a.id, ago);
    }
  }
  db.exec('COMMIT');
  db.close();
  return { agents, claimable };
}
