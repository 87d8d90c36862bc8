import { z } from 'zod';
import { nameParam } from '../../http/contract.js';
import { Inbox } from '../heartbeat/schema.js';
import { SavepointDiff } from '../savepoints/schema.js';
import { Task } from '../tasks/schema.js';
import { Bug } from '../bugs/schema.js';

/**
 * The boot payload (spec 02 §3.4). It composes many areas' rows in three variants (slim, smart,
 * verbose); the top level is named here. Rows of areas whose rows hold something that never leaves
 * (a task's or a bug's lease token) are shaped by that area's schema, as its own routes shape them;
 * the other composed rows pass through as the boot service built them.
 */

export const BootParams = z.object({ agentId: nameParam });
export const BootQuery = z.object({
  verbose: z.string().optional().meta({ description: '`true`: the verbose payload' }),
  smart: z.string().optional().meta({ description: '`true`: slim plus scored context keys' }),
});

const composed = (description: string) => z.unknown().optional().meta({ description });
const rows = (description: string) => z.array(z.unknown()).optional().meta({ description });

export const BootAnswer = z
  .object({
    agent: composed('Slim/smart: {id, role, project, capabilities}; verbose: the public agent row'),
    role_contract: composed('Role, capabilities, responsibilities, constraints, guidelines'),
    counts: z.record(z.string(), z.number()).optional(),
    work_queue: rows('Top of the work queue'),
    pending_directives: rows('Directives waiting for this agent'),
    pending_requests: rows('Requests waiting for this agent'),
    other_agents: rows('Agents active recently'),
    crash_recovery: composed('Whether the last session ended without a goodbye, and its savepoint'),
    calibration: composed('The calibration block (spec 02 §3.10)'),
    sleep_mode: composed('Sleep state'),
    autonomous_mode: composed('Whether autonomous mode is on'),
    operators_available: composed('Whether a human operator is reachable'),
    server_time: z.string().optional(),
    // Shaped as GET /agents/:id/savepoint/diff answers it: each changed row as its area shows it
    // (a task's lease token never leaves in a row).
    savepoint: SavepointDiff.optional().meta({ description: 'Diff against the latest savepoint' }),
    profile: composed("The agent's profile"),
    admin_status: z.literal('frozen').optional(),
    enforcement_rules_active: z.array(z.string()).optional(),
    changes_since_last: z.string().optional(),
    inbox: Inbox.optional(),
    team: composed('The primary team'),
    team_members: rows('Members of the primary team'),
    guest_teams: rows('Teams the agent is a guest of'),
    // smart
    context_keys: rows('Smart: scored context keys; verbose: the project namespace'),
    context_meta: composed('Smart: how the keys were chosen'),
    // verbose
    project: composed('The agent’s project row'),
    tasks: z.array(Task).optional().meta({ description: 'Verbose: tasks' }),
    new_messages: rows('Verbose: messages since the last heartbeat'),
    asset_requests: rows('Verbose: always empty (kept for wire compatibility)'),
    platform_context: rows('Verbose: the mycelium namespace'),
    agent_context: rows("Verbose: the agent's own namespace"),
    approval_queue: z.array(Task).optional().meta({ description: 'Verbose: tasks awaiting approval' }),
    my_approvals: rows("Verbose: the agent's approvals"),
    recent_events: rows('Verbose: recent events'),
    open_bugs: z.array(Bug).optional().meta({ description: 'Verbose: open bugs' }),
    plans: rows('Verbose: plans'),
    channels: rows('Verbose: channels'),
    unread_counts: z.record(z.string(), z.number()).optional(),
    concepts: rows('Verbose: concepts'),
    plugins: rows('Verbose: enabled plugins'),
    team_agents: rows('Verbose: agents of the same project'),
    since_last_session: composed('Verbose: counts of changes since the last heartbeat'),
  })
  .meta({ id: 'Boot' });
