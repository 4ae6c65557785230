-- Running service processes: when their consumers got partitions, and their last heartbeat.
CREATE TABLE service_instances (
    instance     text PRIMARY KEY,
    service      text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    assigned_at  timestamptz,
    partitions   int NOT NULL DEFAULT 0,
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
