-- Durable webhook outbox (issue 17): the delivery log doubles as the queue. A row is written in the
-- same transaction as the event that causes it (the trigger below), so a restart or crash can lose
-- neither; a sender claims due rows with a lease and records each attempt on the same row.
-- state: pending (waiting for its next attempt) | delivered (2xx) | failed (final answer or refused
-- by the SSRF guard; not retried) | dead (gave up after WEBHOOK_MAX_ATTEMPTS; an admin may redeliver).
-- next_attempt_at: epoch ms; 0 = due now. While an attempt runs it holds the lease's end.
ALTER TABLE webhook_deliveries ADD COLUMN state TEXT NOT NULL DEFAULT 'delivered';
ALTER TABLE webhook_deliveries ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
UPDATE webhook_deliveries SET state = 'failed' WHERE error IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);

-- Bus → outbox, inside the event's own INSERT (every emit path, batched or not). Routing as spec 04
-- §8.2/§8.3: the webhooks of the event's agent plus __global__ that list the type or "*";
-- task_created goes to the task's assignee with its title. Types whose services route them to
-- someone else (message_sent, request_created, task_assigned, bug_assigned, agent_status_changed)
-- are enqueued by those services (webhooks/service.ts enqueueStatement).
CREATE TRIGGER IF NOT EXISTS webhook_outbox_on_event AFTER INSERT ON events
WHEN NEW.type NOT IN ('agent_heartbeat', 'message_sent', 'request_created', 'task_assigned', 'bug_assigned', 'agent_status_changed')
BEGIN
  INSERT INTO webhook_deliveries (webhook_id, event, agent_id, payload, status_code, attempts, delivery_id, state, next_attempt_at)
  SELECT w.id, NEW.type, r.agent,
         json_object('event', NEW.type, 'agent_id', nullif(r.agent, ''), 'data', json(r.data), 'timestamp', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
         NULL, 0, 'msg_' || lower(hex(randomblob(12))), 'pending', 0
  FROM (
    SELECT
      CASE WHEN NEW.type = 'task_created'
        THEN coalesce((SELECT assignee FROM tasks WHERE id = (CASE WHEN json_valid(NEW.data) THEN json_extract(NEW.data, '$.task_id') END)), '')
        ELSE NEW.agent END AS agent,
      CASE WHEN NEW.type = 'task_created'
        THEN json_object('task_id', (CASE WHEN json_valid(NEW.data) THEN json_extract(NEW.data, '$.task_id') END), 'title', coalesce((SELECT title FROM tasks WHERE id = (CASE WHEN json_valid(NEW.data) THEN json_extract(NEW.data, '$.task_id') END)), ''))
        WHEN json_valid(NEW.data) THEN NEW.data ELSE '{}' END AS data
  ) AS r
  JOIN webhooks w ON w.active = 1 AND (w.agent_id = '__global__' OR w.agent_id = r.agent)
  WHERE json_valid(w.events) AND json_type(w.events) = 'array'
    AND EXISTS (SELECT 1 FROM json_each(w.events) AS e WHERE e.value = NEW.type OR e.value = '*');
END;
