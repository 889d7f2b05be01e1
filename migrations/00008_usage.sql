-- Usage metering (backend/metering). Raw records are what node agents
-- measured, one per container and sampling window, keyed by (node,
-- container, window start) so that a batch delivered twice is stored once.
-- They are partitioned by day of window start (partitions are made as
-- records arrive and dropped whole past the retention). Rollups are kept
-- current in the transaction that stores the records they sum, and kept
-- for good. usage_pods says which node a pod's usage comes from, and whom
-- it is attributed to, as the master saw the pod.

-- +goose Up
CREATE TABLE usage_records (
    node                 text             NOT NULL,
    container_id         text             NOT NULL,
    window_start         timestamptz      NOT NULL,
    window_end           timestamptz      NOT NULL,
    project              text             NOT NULL,
    pod                  text             NOT NULL,
    pod_uid              text             NOT NULL,
    container            text             NOT NULL,
    username             text             NOT NULL,
    cpu_seconds          double precision NOT NULL,
    memory_byte_seconds  double precision NOT NULL,
    memory_bytes         bigint           NOT NULL,
    memory_peak_bytes    bigint           NOT NULL,
    network_rx_bytes     bigint           NOT NULL,
    network_tx_bytes     bigint           NOT NULL,
    running_seconds      double precision NOT NULL,
    pod_seconds          double precision NOT NULL,
    PRIMARY KEY (node, container_id, window_start)
) PARTITION BY RANGE (window_start);

CREATE INDEX usage_records_recent ON usage_records (window_end, pod_uid);

CREATE TABLE usage_rollups (
    period               text             NOT NULL, -- 'hour' or 'day'
    bucket               timestamptz      NOT NULL, -- the period's start (UTC)
    project              text             NOT NULL,
    username             text             NOT NULL,
    pod                  text             NOT NULL,
    cpu_seconds          double precision NOT NULL,
    memory_byte_seconds  double precision NOT NULL,
    memory_peak_bytes    bigint           NOT NULL,
    network_rx_bytes     bigint           NOT NULL,
    network_tx_bytes     bigint           NOT NULL,
    pod_seconds          double precision NOT NULL,
    records              bigint           NOT NULL,
    PRIMARY KEY (period, project, bucket, username, pod)
);

CREATE INDEX usage_rollups_bucket ON usage_rollups (period, bucket);

CREATE TABLE usage_pods (
    pod_uid   text NOT NULL PRIMARY KEY,
    node      text NOT NULL,
    project   text NOT NULL,
    pod       text NOT NULL,
    username  text NOT NULL,
    seen_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE usage_pods;
DROP TABLE usage_rollups;
DROP TABLE usage_records;
