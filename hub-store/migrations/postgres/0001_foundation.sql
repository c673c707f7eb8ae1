-- The foundation: logins, sessions, API tokens, communities, members with
-- per-channel consent, and the hash-chained audit log.

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,       -- normalized
    email_display TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_owner      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE communities (
    id         UUID PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    timezone   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE members (
    id            UUID PRIMARY KEY,
    community_id  UUID NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    email         TEXT NOT NULL COLLATE "C",  -- normalized: the key; byte order for the cursor
    email_display TEXT NOT NULL,
    name          TEXT NOT NULL,
    name_lower    TEXT NOT NULL,              -- for case-insensitive search
    role          TEXT NOT NULL CHECK (role IN ('lead', 'member')),
    state         TEXT NOT NULL CHECK (state IN ('active', 'left')),
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT members_email_unique UNIQUE (community_id, email)
);
CREATE INDEX members_leads_by_email ON members(email) WHERE role = 'lead';

CREATE TABLE member_consents (
    member_id  UUID NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    channel    TEXT NOT NULL CHECK (channel IN ('email', 'slack', 'zoom', 'conference')),
    status     TEXT NOT NULL CHECK (status IN ('subscribed', 'opted_out', 'none')),
    changed_at TIMESTAMPTZ NOT NULL,
    source     TEXT NOT NULL,
    PRIMARY KEY (member_id, channel)
);

CREATE TABLE audit_events (
    seq          BIGINT PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    community_id UUID,
    subject      TEXT NOT NULL,
    details      TEXT NOT NULL,              -- the exact JSON text that was hashed
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_by_community ON audit_events(community_id, seq);

-- Appends take this row's lock, so concurrent writers chain one after another.
CREATE TABLE audit_head (
    id       SMALLINT PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- The log is append-only: the database itself refuses changes and deletions.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
