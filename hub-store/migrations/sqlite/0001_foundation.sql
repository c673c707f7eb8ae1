-- The foundation: logins, sessions, API tokens, communities, members with
-- per-channel consent, and the hash-chained audit log.
-- Ids are UUIDs stored as 16-byte blobs; times are UTC text as sqlx writes them.

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,       -- normalized
    email_display TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_owner      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL
);

CREATE TABLE communities (
    id         BLOB PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    timezone   TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE members (
    id            BLOB PRIMARY KEY,
    community_id  BLOB NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,              -- normalized: the key
    email_display TEXT NOT NULL,
    name          TEXT NOT NULL,
    name_lower    TEXT NOT NULL,              -- for case-insensitive search
    role          TEXT NOT NULL CHECK (role IN ('lead', 'member')),
    state         TEXT NOT NULL CHECK (state IN ('active', 'left')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CONSTRAINT members_email_unique UNIQUE (community_id, email)
);
CREATE INDEX members_leads_by_email ON members(email) WHERE role = 'lead';

CREATE TABLE member_consents (
    member_id  BLOB NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    channel    TEXT NOT NULL CHECK (channel IN ('email', 'slack', 'zoom', 'conference')),
    status     TEXT NOT NULL CHECK (status IN ('subscribed', 'opted_out', 'none')),
    changed_at TEXT NOT NULL,
    source     TEXT NOT NULL,
    PRIMARY KEY (member_id, channel)
) WITHOUT ROWID;

CREATE TABLE audit_events (
    seq          INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    community_id BLOB,
    subject      TEXT NOT NULL,
    details      TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_by_community ON audit_events(community_id, seq);

-- The log is append-only: the database itself refuses changes and deletions.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
