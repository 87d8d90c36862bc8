-- Crash-proof drone job claims (issue 17): the fencing token of each job's latest claim. A claim
-- writes a new random token here in the same batch; a report quoting a token is accepted only while
-- the job is still `claimed` and this row still holds that token, so every end of the lease (done,
-- failed, cancelled, requeued, failed as stale) and every new claim fences out the old holder. A side
-- table because drone_jobs is created by a later-numbered migration (0030). The lease itself stays
-- the progress-renewed hour of spec 05 §5.5 (drone_jobs.started_at / progress_at).
CREATE TABLE IF NOT EXISTS drone_job_leases (
  job_id INTEGER PRIMARY KEY,
  lease_token TEXT NOT NULL
);
