-- An early plan (its numbers, stored while the rest is written) is complete once `later` holds
-- what the full plan adds to it; the month's plan is then `plan` with `later`'s keys over it.
ALTER TABLE month_plans ADD COLUMN later jsonb, ADD COLUMN complete boolean NOT NULL DEFAULT true;
