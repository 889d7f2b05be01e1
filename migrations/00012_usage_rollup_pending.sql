-- Rollup additions not folded into usage_rollups yet (backend/metering).
-- A batch of records adds its rollup sums here, in the transaction that
-- stores the records: a plain insert, which takes no lock on the rollup
-- rows that every batch of a node shares. The master folds them into
-- usage_rollups every second or two (delete and add, in one transaction),
-- and reports read both, so that they are exact at once.

-- +goose Up
CREATE TABLE usage_rollup_pending (LIKE usage_rollups);

-- +goose Down
DROP TABLE usage_rollup_pending;
