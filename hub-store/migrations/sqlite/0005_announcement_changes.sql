-- Editing and retracting announcements: each edit raises the revision; a
-- retraction is final. A delivery is a post, an edit or a retraction; a
-- channel has one post per announcement, and as many edits as leads make.
-- A delivery no longer needed is cancelled.

ALTER TABLE announcements ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE announcements ADD COLUMN retracted_at TEXT;

-- SQLite cannot change a table's constraints in place: rebuild it.
CREATE TABLE deliveries_new (
    id                  BLOB PRIMARY KEY,
    announcement_id     BLOB NOT NULL REFERENCES announcements(id) ON DELETE CASCADE,
    channel_id          BLOB NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    action              TEXT NOT NULL DEFAULT 'post' CHECK (action IN ('post', 'edit', 'retract')),
    state               TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'retry_wait', 'failed', 'dead', 'cancelled')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     TEXT NOT NULL,
    lease_owner         TEXT,
    lease_until         TEXT,
    remote_ref          TEXT,
    last_error          TEXT,
    possible_duplicates INTEGER NOT NULL DEFAULT 0,
    updated_at          TEXT NOT NULL
);
INSERT INTO deliveries_new (id, announcement_id, channel_id, action, state, attempts, next_attempt_at,
    lease_owner, lease_until, remote_ref, last_error, possible_duplicates, updated_at)
SELECT id, announcement_id, channel_id, 'post', state, attempts, next_attempt_at,
    lease_owner, lease_until, remote_ref, last_error, possible_duplicates, updated_at
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;

CREATE UNIQUE INDEX deliveries_one_post_per_channel ON deliveries(announcement_id, channel_id) WHERE action = 'post';
CREATE INDEX deliveries_of_announcement ON deliveries(announcement_id);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state IN ('pending', 'retry_wait');
CREATE INDEX deliveries_leased ON deliveries(lease_until) WHERE state = 'sending';
