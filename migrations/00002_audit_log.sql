-- Who did what to which resource, as seen by the API server.
-- username is text, not a foreign key: entries outlive the users they name.

-- +goose Up
CREATE TABLE audit_log (
    id         bigserial   PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    username   text        NOT NULL DEFAULT '',
    verb       text        NOT NULL DEFAULT '',
    resource   text        NOT NULL DEFAULT '',
    namespace  text        NOT NULL DEFAULT '',
    name       text        NOT NULL DEFAULT '',
    code       integer     NOT NULL DEFAULT 0,
    source_ip  text        NOT NULL DEFAULT '',
    user_agent text        NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_at ON audit_log (at);

-- +goose Down
DROP TABLE audit_log;
