-- When the scenario last moved forward (an event changed its status); updated_at also moves
-- when the reconciler re-drives it, which is not progress.
ALTER TABLE scenario_status ADD COLUMN moved_at timestamptz NOT NULL DEFAULT now();
