-- The public archive of past announcements: who may read it, per community
-- ('off', 'members' — the default, see `ArchiveVisibility` — or 'public'),
-- and member links of a third kind, mailed to sign a member in to it.

ALTER TABLE communities ADD COLUMN archive TEXT NOT NULL DEFAULT 'members'
    CHECK (archive IN ('off', 'members', 'public'));

-- The archive is read newest first by when each announcement went out.
CREATE INDEX announcements_archive
    ON announcements (community_id, COALESCE(send_at, created_at), id);

-- SQLite cannot change a CHECK constraint in place: the table is made again
-- with the new list of purposes. Nothing refers to member_links.
CREATE TABLE member_links_new (
    token_hash    TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL CHECK (purpose IN ('join', 'preferences', 'archive')),
    community_id  BLOB NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    email_display TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT
);
INSERT INTO member_links_new
    (token_hash, purpose, community_id, email, email_display, name, created_at, expires_at, used_at)
    SELECT token_hash, purpose, community_id, email, email_display, name, created_at, expires_at, used_at
    FROM member_links;
DROP TABLE member_links;
ALTER TABLE member_links_new RENAME TO member_links;
CREATE INDEX member_links_recent ON member_links(community_id, email, purpose, created_at);
