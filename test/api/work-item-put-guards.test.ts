import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

/**
 * A PUT on a task, bug or plan step must not do what the claim routes refuse (spec README
 * "Claims never steal" and "The kill switch"; spec 07 SEC-49, REL-03): no taking an item held by
 * someone else, no assigning or starting work while frozen — while finishing and reporting work,
 * and every human/admin action, keep working.
 */

let t: Target;
let ann: { id: string; key: string };
let ben: { id: string; key: string };
let op: { id: number; token: string };

const FROZEN = 'Claude Admin is frozen. Work routing paused. Contact a human operator.';

beforeAll(async () => {
  t = await startTarget();
  ann = await registerAgent(t, 'pg-ann', 'pg');
  ben = await registerAgent(t, 'pg-ben', 'pg');
  op = await createOperator(t, 'pg-op', 'operator');
});
afterAll(async () => t?.close());

async function setFrozen(frozen: boolean) {
  await t.db.run("UPDATE instance_config SET value = ? WHERE key = 'admin_status'", [
    frozen ? 'frozen' : 'coordinator',
  ]);
}
/** Runs `fn` while frozen, always unfreezing after (tests in this file share one instance). */
async function whileFrozen(fn: () => Promise<void>) {
  await setFrozen(true);
  try {
    await fn();
  } finally {
    await setFrozen(false);
  }
}

/** The claim routes' kill-switch answer, exactly. */
function expectFrozen(r: { status: number; body: unknown }) {
  expect({ status: r.status, body: r.body }).toEqual({ status: 503, body: { error: FROZEN } });
}

async function newTask(assignee: string | null = null) {
  const r = await t.call('POST', '/tasks', {
    admin: true,
    body: { title: 'guarded task', project_id: 'pg', assignee },
  });
  expect(r.status).toBe(200);
  return r.body.id as number;
}
async function newBug(assignee: string | null = null) {
  const r = await t.call('POST', '/bugs', {
    admin: true,
    body: { title: 'guarded bug', description: 'd', project_id: 'pg', assignee },
  });
  expect(r.status).toBe(200);
  return r.body.id as number;
}
async function newStep(assignee: string | null = null) {
  const r = await t.call('POST', '/plans', {
    admin: true,
    body: { title: 'guarded plan', project_id: 'pg', steps: [{ title: 'only step', assignee }] },
  });
  expect(r.status).toBe(200);
  const s = await t.db.get<{ id: number }>('SELECT id FROM plan_steps WHERE plan_id = ?', [r.body.id]);
  return { planId: r.body.id as number, stepId: Number(s!.id) };
}
const taskRow = (id: number) =>
  t.db.get<{ status: string; assignee: string | null; title: string }>(
    'SELECT status, assignee, title FROM tasks WHERE id = ?',
    [id],
  );
const bugRow = (id: number) =>
  t.db.get<{ status: string; assignee: string | null; admin_notes: string }>(
    'SELECT status, assignee, admin_notes FROM bugs WHERE id = ?',
    [id],
  );
const stepRow = (id: number) =>
  t.db.get<{ status: string; assignee: string | null; title: string }>(
    'SELECT status, assignee, title FROM plan_steps WHERE id = ?',
    [id],
  );

describe('SEC-49: the kill switch also holds on PUT /tasks/:id', () => {
  it('an agent cannot self-assign or start a task while frozen (503, unchanged); it can still finish and report', async () => {
    const free = await newTask();
    const mine = await newTask(ann.id);
    const working = await newTask();
    expect((await t.call('POST', `/tasks/${working}/claim`, { agentKey: ann.key })).status).toBe(200);
    await whileFrozen(async () => {
      expectFrozen(await t.call('PUT', `/tasks/${free}`, { agentKey: ann.key, body: { assignee: ann.id } }));
      expectFrozen(await t.call('PUT', `/tasks/${mine}`, { agentKey: ann.key, body: { status: 'in_progress' } }));
      expectFrozen(
        await t.call('PUT', `/tasks/${free}`, {
          agentKey: ben.key,
          body: { status: 'in_progress', assignee: ben.id, title: 'sneaky' },
        }),
      );
      expect(await taskRow(free)).toEqual({ status: 'open', assignee: null, title: 'guarded task' });
      expect(await taskRow(mine)).toMatchObject({ status: 'open', assignee: ann.id });

      // Winding down: review, done, edits that assign nothing, and comments still work.
      expect(
        (
          await t.call('PUT', `/tasks/${working}`, {
            agentKey: ann.key,
            body: { status: 'review', title: 'ready for review' },
          })
        ).status,
      ).toBe(200);
      expect(
        (await t.call('POST', `/tasks/${working}/comments`, { agentKey: ann.key, body: { content: 'pausing' } }))
          .status,
      ).toBe(200);
      expect((await t.call('PUT', `/tasks/${working}`, { agentKey: ann.key, body: { status: 'done' } })).status).toBe(
        200,
      );
      expect(await taskRow(working)).toEqual({ status: 'done', assignee: ann.id, title: 'ready for review' });
      // Handing one's own open task back is not routing either.
      expect((await t.call('PUT', `/tasks/${mine}`, { agentKey: ann.key, body: { assignee: null } })).status).toBe(200);
      expect((await taskRow(mine))?.assignee).toBeNull();

      // Humans keep full control: admin key and a (non-admin) operator may assign and start.
      expect((await t.call('PUT', `/tasks/${free}`, { admin: true, body: { assignee: ben.id } })).status).toBe(200);
      expect((await t.call('PUT', `/tasks/${free}`, { token: op.token, body: { status: 'in_progress' } })).status).toBe(
        200,
      );
      expect(await taskRow(free)).toMatchObject({ status: 'in_progress', assignee: ben.id });
    });
    // Unfrozen, the same self-assignment goes through.
    expect(
      (await t.call('PUT', `/tasks/${mine}`, { agentKey: ann.key, body: { assignee: ann.id, status: 'in_progress' } }))
        .status,
    ).toBe(200);
    expect(await taskRow(mine)).toMatchObject({ status: 'in_progress', assignee: ann.id });
  });
});

describe('SEC-49: the kill switch also holds on PUT /bugs/:id', () => {
  it('an agent cannot self-assign or start a bug while frozen (503, unchanged); it can still mark its bug fixed', async () => {
    const free = await newBug();
    const working = await newBug();
    expect((await t.call('POST', `/bugs/${working}/claim`, { agentKey: ann.key })).status).toBe(200);
    await whileFrozen(async () => {
      expectFrozen(await t.call('PUT', `/bugs/${free}`, { agentKey: ben.key, body: { assignee: ben.id } }));
      expectFrozen(await t.call('PUT', `/bugs/${free}`, { agentKey: ben.key, body: { status: 'in_progress' } }));
      expect(await bugRow(free)).toMatchObject({ status: 'open', assignee: null });

      expect(
        (
          await t.call('PUT', `/bugs/${working}`, {
            agentKey: ann.key,
            body: { status: 'fixed', admin_notes: 'root cause found' },
          })
        ).status,
      ).toBe(200);
      expect(await bugRow(working)).toEqual({ status: 'fixed', assignee: ann.id, admin_notes: 'root cause found' });
      expect(
        (await t.call('PUT', `/bugs/${free}`, { token: op.token, body: { assignee: ben.id, status: 'in_progress' } }))
          .status,
      ).toBe(200);
      expect(await bugRow(free)).toMatchObject({ status: 'in_progress', assignee: ben.id });
    });
  });
});

describe('SEC-49: the kill switch also holds on PUT /plans/:id/steps/:stepId', () => {
  it('an agent cannot self-assign or start a step while frozen (503, unchanged); it can still complete its step', async () => {
    const free = await newStep();
    const working = await newStep(ann.id);
    expect(
      (
        await t.call('PUT', `/plans/${working.planId}/steps/${working.stepId}`, {
          agentKey: ann.key,
          body: { status: 'in_progress' },
        })
      ).status,
    ).toBe(200);
    await whileFrozen(async () => {
      expectFrozen(
        await t.call('PUT', `/plans/${free.planId}/steps/${free.stepId}`, {
          agentKey: ben.key,
          body: { assignee: ben.id },
        }),
      );
      expectFrozen(
        await t.call('PUT', `/plans/${free.planId}/steps/${free.stepId}`, {
          agentKey: ben.key,
          body: { status: 'in_progress', assignee: ben.id },
        }),
      );
      expect(await stepRow(free.stepId)).toMatchObject({ status: 'pending', assignee: null });

      expect(
        (
          await t.call('POST', `/plans/${working.planId}/steps/${working.stepId}/comments`, {
            agentKey: ann.key,
            body: { content: 'wrapping up' },
          })
        ).status,
      ).toBe(200);
      expect(
        (
          await t.call('PUT', `/plans/${working.planId}/steps/${working.stepId}`, {
            agentKey: ann.key,
            body: { status: 'completed' },
          })
        ).status,
      ).toBe(200);
      expect(await stepRow(working.stepId)).toMatchObject({ status: 'completed', assignee: ann.id });
      expect(
        (
          await t.call('PUT', `/plans/${free.planId}/steps/${free.stepId}`, {
            admin: true,
            body: { assignee: ben.id, status: 'in_progress' },
          })
        ).status,
      ).toBe(200);
      expect(await stepRow(free.stepId)).toMatchObject({ status: 'in_progress', assignee: ben.id });
    });
  });
});

describe('REL-03: claims never steal through PUT, whatever the item status', () => {
  it('tasks: an agent cannot take or drop an open task assigned to another agent (409 as the claim route); self-assign of a free task and admin reassignment work', async () => {
    const held = await newTask(ann.id);
    const take = await t.call('PUT', `/tasks/${held}`, { agentKey: ben.key, body: { assignee: ben.id } });
    expect(take.status).toBe(409);
    expect(take.body).toEqual({ error: 'Task already claimed', assignee: ann.id });
    // The claim route answers the very same way.
    expect((await t.call('POST', `/tasks/${held}/claim`, { agentKey: ben.key })).body).toEqual(take.body);
    const drop = await t.call('PUT', `/tasks/${held}`, { agentKey: ben.key, body: { assignee: null } });
    expect(drop.status).toBe(409);
    expect(drop.body).toEqual({ error: 'Task already claimed', assignee: ann.id });
    expect(await taskRow(held)).toMatchObject({ status: 'open', assignee: ann.id });
    // Edits that leave the assignee alone are still fine for a project member.
    expect(
      (await t.call('PUT', `/tasks/${held}`, { agentKey: ben.key, body: { title: 'clearer title' } })).status,
    ).toBe(200);

    const free = await newTask();
    expect((await t.call('PUT', `/tasks/${free}`, { agentKey: ben.key, body: { assignee: ben.id } })).status).toBe(200);
    expect((await taskRow(free))?.assignee).toBe(ben.id);
    // The holder may hand its own task over.
    expect((await t.call('PUT', `/tasks/${free}`, { agentKey: ben.key, body: { assignee: ann.id } })).status).toBe(200);
    expect((await taskRow(free))?.assignee).toBe(ann.id);
    expect((await t.call('PUT', `/tasks/${held}`, { admin: true, body: { assignee: ben.id } })).status).toBe(200);
    expect((await taskRow(held))?.assignee).toBe(ben.id);
  });

  it('bugs: an agent cannot take an open bug assigned to another agent (409 as the claim route); self-assign and admin reassignment work', async () => {
    const held = await newBug(ann.id);
    const take = await t.call('PUT', `/bugs/${held}`, { agentKey: ben.key, body: { assignee: ben.id } });
    expect(take.status).toBe(409);
    expect(take.body).toEqual({ error: 'Bug already claimed', assignee: ann.id });
    expect((await t.call('POST', `/bugs/${held}/claim`, { agentKey: ben.key })).body).toEqual(take.body);
    expect(await bugRow(held)).toMatchObject({ status: 'open', assignee: ann.id });

    const free = await newBug();
    expect((await t.call('PUT', `/bugs/${free}`, { agentKey: ben.key, body: { assignee: ben.id } })).status).toBe(200);
    expect((await bugRow(free))?.assignee).toBe(ben.id);
    expect((await t.call('PUT', `/bugs/${held}`, { admin: true, body: { assignee: ben.id } })).status).toBe(200);
    expect((await bugRow(held))?.assignee).toBe(ben.id);
  });

  it('steps: an agent cannot take a pending step assigned to another agent (409); self-assign, operator_input hand-back and admin reassignment work', async () => {
    const held = await newStep(ann.id);
    const take = await t.call('PUT', `/plans/${held.planId}/steps/${held.stepId}`, {
      agentKey: ben.key,
      body: { assignee: ben.id },
    });
    expect(take.status).toBe(409);
    expect(take.body).toEqual({ error: 'Plan step already claimed', assignee: ann.id });
    expect(await stepRow(held.stepId)).toMatchObject({ status: 'pending', assignee: ann.id });

    const free = await newStep();
    expect(
      (
        await t.call('PUT', `/plans/${free.planId}/steps/${free.stepId}`, {
          agentKey: ben.key,
          body: { assignee: ben.id },
        })
      ).status,
    ).toBe(200);
    expect((await stepRow(free.stepId))?.assignee).toBe(ben.id);
    // A step parked on operator_input waits for a human; it is not held by anyone.
    const parked = await newStep('operator_input');
    expect(
      (
        await t.call('PUT', `/plans/${parked.planId}/steps/${parked.stepId}`, {
          agentKey: ben.key,
          body: { assignee: ben.id },
        })
      ).status,
    ).toBe(200);
    expect((await stepRow(parked.stepId))?.assignee).toBe(ben.id);
    expect(
      (await t.call('PUT', `/plans/${held.planId}/steps/${held.stepId}`, { admin: true, body: { assignee: ben.id } }))
        .status,
    ).toBe(200);
    expect((await stepRow(held.stepId))?.assignee).toBe(ben.id);
  });
});

describe('issue 17 identity rule: a write without a fencing token is accepted from the holder only', () => {
  it('tasks: a same-project agent cannot complete or edit a task another agent holds (409 as a claim, unchanged); the holder and humans can', async () => {
    const id = await newTask();
    expect((await t.call('POST', `/tasks/${id}/claim`, { agentKey: ann.key })).status).toBe(200);
    const done = await t.call('PUT', `/tasks/${id}`, { agentKey: ben.key, body: { status: 'done' } });
    expect(done.status).toBe(409);
    expect(done.body).toEqual({ error: 'Task already claimed', assignee: ann.id });
    const edit = await t.call('PUT', `/tasks/${id}`, { agentKey: ben.key, body: { title: 'hijacked' } });
    expect(edit.status).toBe(409);
    expect(await taskRow(id)).toMatchObject({ status: 'in_progress', assignee: ann.id, title: 'guarded task' });
    expect(
      await t.db.get(
        "SELECT COUNT(*) AS n FROM events WHERE type = 'task_done' AND json_extract(data, '$.task_id') = ?",
        [id],
      ),
    ).toEqual({ n: 0 });
    // Humans may still edit held work; the holder finishes it without a token (the original SDK).
    expect((await t.call('PUT', `/tasks/${id}`, { token: op.token, body: { description: 'note' } })).status).toBe(200);
    expect((await t.call('PUT', `/tasks/${id}`, { agentKey: ann.key, body: { status: 'done' } })).status).toBe(200);
    expect((await taskRow(id))?.status).toBe('done');
  });

  it('bugs and steps: a same-project agent cannot mark fixed or complete what another agent holds (409); the holder can', async () => {
    const bug = await newBug();
    expect((await t.call('POST', `/bugs/${bug}/claim`, { agentKey: ann.key })).status).toBe(200);
    const fixed = await t.call('PUT', `/bugs/${bug}`, { agentKey: ben.key, body: { status: 'fixed' } });
    expect(fixed.status).toBe(409);
    expect(fixed.body).toEqual({ error: 'Bug already claimed', assignee: ann.id });
    expect(await bugRow(bug)).toMatchObject({ status: 'in_progress', assignee: ann.id });
    expect((await t.call('PUT', `/bugs/${bug}`, { agentKey: ann.key, body: { status: 'fixed' } })).status).toBe(200);

    const step = await newStep(ann.id);
    const path = `/plans/${step.planId}/steps/${step.stepId}`;
    expect((await t.call('PUT', path, { agentKey: ann.key, body: { status: 'in_progress' } })).status).toBe(200);
    const complete = await t.call('PUT', path, { agentKey: ben.key, body: { status: 'completed' } });
    expect(complete.status).toBe(409);
    expect(complete.body).toEqual({ error: 'Plan step already claimed', assignee: ann.id });
    expect(await stepRow(step.stepId)).toMatchObject({ status: 'in_progress', assignee: ann.id });
    expect((await t.call('PUT', path, { agentKey: ann.key, body: { status: 'completed' } })).status).toBe(200);
  });
});
