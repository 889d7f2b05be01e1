-- Users, their credentials and their project memberships.

-- +goose Up
CREATE TABLE users (
    id            bigserial   PRIMARY KEY,
    name          text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    cluster_admin boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Only a SHA-256 of each secret is stored: a leaked table grants nothing.
CREATE TABLE tokens (
    id           bigserial   PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('api', 'session', 'node')),
    secret_hash  bytea       NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- A name identifies one live token of a user; revoked ones keep theirs for history.
CREATE UNIQUE INDEX tokens_user_name_live ON tokens (user_id, name) WHERE revoked_at IS NULL;
CREATE INDEX tokens_user_id ON tokens (user_id);

CREATE TABLE memberships (
    project    text        NOT NULL,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text        NOT NULL CHECK (role IN ('admin', 'edit', 'view')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project, user_id)
);

CREATE INDEX memberships_user_id ON memberships (user_id);

-- +goose Down
DROP TABLE memberships;
DROP TABLE tokens;
DROP TABLE users;
