-- Host images: definitions (rpm-ostree treefiles and the files they name),
-- every edit kept as a revision, builds of a revision with what they made,
-- and each build's log as it was written.

-- +goose Up
CREATE TABLE hostimages (
    name             text        PRIMARY KEY,
    uid              text        NOT NULL,
    revision         bigint      NOT NULL,
    treefile         text        NOT NULL,
    files            jsonb       NOT NULL,
    -- how often the trigger looks for package updates; 0: never
    rebuild_interval bigint      NOT NULL DEFAULT 0,
    -- the expanded treefile's ref and the runner, as of the last edit
    ref              text        NOT NULL DEFAULT '',
    runner           text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- when the trigger last compared the inputs with the last build's
    checked_at       timestamptz
);

CREATE TABLE hostimage_revisions (
    hostimage  text        NOT NULL REFERENCES hostimages (name) ON DELETE CASCADE,
    revision   bigint      NOT NULL,
    treefile   text        NOT NULL,
    files      jsonb       NOT NULL,
    author     text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hostimage, revision)
);

CREATE TABLE hostimage_builds (
    id               bigserial   PRIMARY KEY,
    name             text        NOT NULL UNIQUE,
    hostimage        text        NOT NULL REFERENCES hostimages (name) ON DELETE CASCADE,
    number           bigint      NOT NULL,
    revision         bigint      NOT NULL,
    reason           text        NOT NULL CHECK (reason IN ('Manual', 'Edit', 'Schedule')),
    force            boolean     NOT NULL DEFAULT false,
    requested_by     text        NOT NULL DEFAULT '',
    phase            text        NOT NULL CHECK (phase IN ('Queued', 'Running', 'Succeeded', 'Failed', 'Cancelled')),
    runner           text        NOT NULL DEFAULT '',
    input_hash       text        NOT NULL DEFAULT '',
    no_changes       boolean     NOT NULL DEFAULT false,
    ref              text        NOT NULL DEFAULT '',
    commit_id        text        NOT NULL DEFAULT '',
    parent           text        NOT NULL DEFAULT '',
    version          text        NOT NULL DEFAULT '',
    -- [{"name", "version", "arch"}], from the commit's metadata
    packages         jsonb,
    package_count    integer     NOT NULL DEFAULT 0,
    commit_size      bigint      NOT NULL DEFAULT 0,
    unpacked_size    bigint      NOT NULL DEFAULT 0,
    delta_size       bigint      NOT NULL DEFAULT 0,
    log_size         bigint      NOT NULL DEFAULT 0,
    message          text        NOT NULL DEFAULT '',
    cancel_requested boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    UNIQUE (hostimage, number),
    FOREIGN KEY (hostimage, revision) REFERENCES hostimage_revisions (hostimage, revision) ON DELETE CASCADE
);

CREATE INDEX hostimage_builds_open ON hostimage_builds (hostimage, id) WHERE phase IN ('Queued', 'Running');
CREATE INDEX hostimage_builds_commit ON hostimage_builds (commit_id) WHERE commit_id <> '';

-- A build's log, in the pieces it was written in: offset is where the
-- piece starts in the log (log_offset), so a reader resumes at a byte.
CREATE TABLE hostimage_build_logs (
    build_id   bigint      NOT NULL REFERENCES hostimage_builds (id) ON DELETE CASCADE,
    log_offset bigint      NOT NULL,
    written_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    data       bytea       NOT NULL,
    PRIMARY KEY (build_id, log_offset)
);

-- +goose Down
DROP TABLE hostimage_build_logs;
DROP TABLE hostimage_builds;
DROP TABLE hostimage_revisions;
DROP TABLE hostimages;
