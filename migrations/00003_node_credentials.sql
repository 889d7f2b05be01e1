-- Node trust as Kubernetes has it: a bootstrap token names the node it may
-- join as, expires, and is consumed by the join (revoked_at set); a node's
-- own credential records its node and expires, and is replaced at rotation.
-- node_name is a column, never parsed back out of a token's name.

-- +goose Up
ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_kind_check CHECK (kind IN ('api', 'session', 'node', 'bootstrap'));
ALTER TABLE tokens ADD COLUMN node_name text;

-- Until now a node's credential was the live node token named node-NAME,
-- and never expired: it keeps its node and lives one more day, in which its
-- agent rotates it. Any other node token was a bootstrap token for any
-- node name, with no end of use: those go.
UPDATE tokens SET node_name = substr(name, 6),
                  expires_at = LEAST(COALESCE(expires_at, now() + interval '24 hours'), now() + interval '24 hours')
    WHERE kind = 'node' AND name LIKE 'node-%' AND revoked_at IS NULL;
UPDATE tokens SET revoked_at = now() WHERE kind = 'node' AND node_name IS NULL AND revoked_at IS NULL;

-- A live node or bootstrap token names its node and expires.
ALTER TABLE tokens ADD CONSTRAINT tokens_node_name_check CHECK (
    revoked_at IS NOT NULL
    OR (kind IN ('node', 'bootstrap')) = (node_name IS NOT NULL));
ALTER TABLE tokens ADD CONSTRAINT tokens_node_expiry_check CHECK (
    revoked_at IS NOT NULL OR kind NOT IN ('node', 'bootstrap') OR expires_at IS NOT NULL);
CREATE INDEX tokens_node_name_live ON tokens (node_name) WHERE revoked_at IS NULL;

-- +goose Down
DROP INDEX tokens_node_name_live;
ALTER TABLE tokens DROP CONSTRAINT tokens_node_expiry_check;
ALTER TABLE tokens DROP CONSTRAINT tokens_node_name_check;
-- The old schema knew nodes by token names: what names them by column goes.
UPDATE tokens SET revoked_at = now() WHERE kind IN ('node', 'bootstrap') AND revoked_at IS NULL;
UPDATE tokens SET kind = 'node' WHERE kind = 'bootstrap';
ALTER TABLE tokens DROP COLUMN node_name;
ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_kind_check CHECK (kind IN ('api', 'session', 'node'));
