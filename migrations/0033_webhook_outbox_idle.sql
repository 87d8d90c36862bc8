-- Issue 11 (the hot writes): the outbox trigger of 0023 ran its body — the payload's JSON checks
-- and the join over webhooks — on every event, also when no webhook is active, as on a fresh
-- self-hosted server: ~5 µs of each event insert (claim, context put, boot…). The same trigger,
-- with one more WHEN term: its body runs only while some webhook is active. It inserted nothing
-- without one anyway (the join requires w.active = 1), so what it writes is unchanged.
DROP TRIGGER IF EXISTS webhook_outbox_on_event;
CREATE TRIGGER webhook_outbox_on_event AFTER INSERT ON events
WHEN NEW.type NOT IN ('agent_heartbeat', 'message_sent', 'request_created', 'task_assigned', 'bug_assigned', 'agent_status_changed',
                      'drone_job_created', 'drone_job_failed', 'drone_job_exhausted')
  AND EXISTS (SELECT 1 FROM webhooks WHERE active = 1)
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
