-- Membership sync: one job per channel, a record of every run, and the
-- claims that make each cron tick run once across instances.

CREATE TABLE sync_jobs (
    id                  BLOB PRIMARY KEY,
    channel_id          BLOB NOT NULL UNIQUE REFERENCES channels(id) ON DELETE CASCADE,
    direction           TEXT NOT NULL CHECK (direction IN ('import', 'export', 'mirror', 'observe')),
    cron                TEXT NOT NULL,
    max_remove_fraction REAL NOT NULL,
    max_remove_count    INTEGER NOT NULL,
    last_seen           INTEGER,              -- members the last complete read found
    created_at          TEXT NOT NULL
);

CREATE TABLE sync_runs (
    id          BLOB PRIMARY KEY,
    job_id      BLOB NOT NULL REFERENCES sync_jobs(id) ON DELETE CASCADE,
    state       TEXT NOT NULL CHECK (state IN ('planned', 'held', 'applied', 'failed', 'discarded')),
    plan        TEXT NOT NULL,                -- JSON
    counts      TEXT NOT NULL,                -- JSON
    error       TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX sync_runs_by_job ON sync_runs(job_id, started_at);

CREATE TABLE cron_claims (
    job_id     BLOB NOT NULL REFERENCES sync_jobs(id) ON DELETE CASCADE,
    tick       TEXT NOT NULL,
    claimed_by TEXT NOT NULL,
    PRIMARY KEY (job_id, tick)
);
