-- Indexes for the agents' hot calls (issue 11): work poll, task claim, context put. Each query on
-- those paths is bounded by an index, so a call costs what the agent's own work costs, not what
-- the database holds (test/node/query-plans.test.ts checks the plans).
-- Work poll, bucket 8: "is another planner alive?" reads only planners (agents whose capabilities
-- name reasoning_planning), newest heartbeat first, never every registered agent.
CREATE INDEX IF NOT EXISTS idx_agents_planner_heartbeat ON agents(last_heartbeat) WHERE instr(capabilities, 'reasoning_planning') > 0;
