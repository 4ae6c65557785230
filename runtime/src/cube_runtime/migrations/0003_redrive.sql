-- Re-driving work from the database: an outbox row can name its partition (months spread over
-- the partitions of month.requested), and a scenario counts its retries and its re-drives.
ALTER TABLE outbox ADD COLUMN partition int;
ALTER TABLE scenario_status ADD COLUMN attempt int NOT NULL DEFAULT 1;
ALTER TABLE scenario_status ADD COLUMN redrives int NOT NULL DEFAULT 0;
CREATE INDEX scenario_status_open ON scenario_status (updated_at) WHERE status IN ('queued', 'processing');
