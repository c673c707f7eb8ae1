-- Links mailed to members (join confirmations, preferences), stored as the
-- SHA-256 of their secret. Used links keep used_at, so a second use fails.

CREATE TABLE member_links (
    token_hash    TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL CHECK (purpose IN ('join', 'preferences')),
    community_id  BLOB NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    email_display TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT
);
CREATE INDEX member_links_recent ON member_links(community_id, email, purpose, created_at);
