-- Streams (log follows, exec, attach) are audited as they start and as they
-- end, with what they ran: the stage says which, details (a JSON object)
-- the container, the command and how long the stream lasted.

-- +goose Up
ALTER TABLE audit_log
    ADD COLUMN stage   text NOT NULL DEFAULT '',
    ADD COLUMN details text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_log
    DROP COLUMN details,
    DROP COLUMN stage;
