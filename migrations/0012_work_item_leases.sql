-- Crash-proof claims (issue 17): a claim on a task, bug or plan step carries a lease.
-- lease_token: the fencing token handed out by the claim (random hex, new on every new claim,
--   cleared when maintenance releases the item); a write that quotes a stale token is refused.
-- attempt: how many times a lapsed lease sent the item back to the queue. On plan_steps it is
--   separate from attempt_count, which counts failed verifications for the self-heal loop.
-- Lease liveness itself is derived (holder's agents.last_heartbeat, or the item's updated_at when
-- later), so a heartbeat renews every lease its agent holds without writing to the items.
ALTER TABLE tasks ADD COLUMN lease_token TEXT;
ALTER TABLE tasks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bugs ADD COLUMN lease_token TEXT;
ALTER TABLE bugs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plan_steps ADD COLUMN lease_token TEXT;
ALTER TABLE plan_steps ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
-- The expiry sweep starts from in_progress rows; tasks and bugs already index status.
CREATE INDEX IF NOT EXISTS idx_plan_steps_status ON plan_steps(status);
