-- Dead-lettered messages `cube dlq replay` sent back to their source topic, each once. Several
-- consumers may dead-letter one message, so a replay is keyed by where the message was in its
-- source topic; the payload hash tells apart two messages at one place (a memory-only broker
-- restarts its offsets at 0).
CREATE TABLE dlq_replays (
    source_topic     text NOT NULL,
    source_partition int NOT NULL,
    source_offset    bigint NOT NULL,
    payload_sha256   text NOT NULL,
    scenario_id      uuid,
    error            text,
    replay_partition int,
    replay_offset    bigint,
    replayed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_topic, source_partition, source_offset, payload_sha256)
);
CREATE INDEX dlq_replays_scenario ON dlq_replays (scenario_id);
