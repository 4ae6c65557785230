-- Scenarios as requested, and the outbox their events leave through.
CREATE TABLE scenarios (
    scenario_id     uuid PRIMARY KEY,
    business_type   text NOT NULL,
    engine          text NOT NULL,
    seed            bigint NOT NULL,
    months          int NOT NULL,
    spec            jsonb NOT NULL,
    idempotency_key text UNIQUE,
    request_hash    text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scenarios_created ON scenarios (created_at DESC, scenario_id DESC);

CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    topic      text NOT NULL,
    key        bytea,
    payload    bytea NOT NULL,
    headers    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- The progress service's projection, read by the gateway.
CREATE TABLE scenario_status (
    scenario_id   uuid PRIMARY KEY,
    status        text NOT NULL,
    stage         text NOT NULL,
    progress      int NOT NULL CHECK (progress BETWEEN 0 AND 100),
    stage_message text,
    months_done   int NOT NULL DEFAULT 0,
    months_total  int NOT NULL,
    months_seen   int[] NOT NULL DEFAULT '{}',
    error_message text,
    event_count   bigint,
    timings       jsonb NOT NULL DEFAULT '{}',
    usage         jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);

-- Events a consumer has applied, written in the same transaction as their effect.
CREATE TABLE processed_events (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- The plan: master data and one plan per month.
CREATE TABLE master_data (
    scenario_id uuid PRIMARY KEY,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE month_plans (
    scenario_id uuid NOT NULL,
    month       int NOT NULL,
    plan        jsonb NOT NULL,
    PRIMARY KEY (scenario_id, month)
);

CREATE TABLE business_events (
    event_id     uuid PRIMARY KEY,
    scenario_id  uuid NOT NULL,
    month        int NOT NULL,
    seq          int NOT NULL,
    occurred_at  timestamptz NOT NULL,
    event_type   text NOT NULL,
    amount       numeric(14, 2),
    currency     text,
    customer_id  text,
    product_id   text,
    room_id      text,
    room_type_id text,
    plan_id      text,
    employee_id  text,
    supplier_id  text,
    attributes   jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX business_events_order ON business_events (scenario_id, month, seq);
CREATE INDEX business_events_type ON business_events (scenario_id, event_type, month, seq);

-- Month results as the validator aggregates them.
CREATE TABLE month_results (
    scenario_id  uuid NOT NULL,
    month        int NOT NULL,
    months_total int NOT NULL,
    status       text NOT NULL,
    event_count  int,
    content_hash text,
    reason       text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scenario_id, month)
);

-- One validation per scenario: the row is the claim that makes the checks run once.
CREATE TABLE validations (
    scenario_id  uuid PRIMARY KEY,
    state        text NOT NULL,
    passed       boolean,
    summary      text,
    checks       jsonb,
    kpis         jsonb,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
