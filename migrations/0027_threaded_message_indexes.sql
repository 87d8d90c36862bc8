-- Issue 11 (growth): GET /messages/threads for an agent finds its threads by walking its visible
-- threaded messages newest first (messages/repo.ts). Walked through the listing's indexes (0026),
-- every message without a thread would be stepped over, so a mailbox with few threads was read
-- whole. These hold only threaded messages: a message outside a thread writes no entry in them.
CREATE INDEX IF NOT EXISTS idx_messages_to_threaded ON messages(to_agent, created_at) WHERE thread_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_messages_from_threaded ON messages(from_agent, created_at) WHERE thread_id IS NOT NULL;
