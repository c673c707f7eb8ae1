-- Channels, announcements and their deliveries: the outbox.

CREATE TABLE channels (
    id           UUID PRIMARY KEY,
    community_id UUID NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    settings     TEXT NOT NULL,               -- JSON, no secrets
    secret       TEXT,                        -- encrypted with the instance key
    health       TEXT NOT NULL DEFAULT 'ok' CHECK (health IN ('ok', 'needs_reconnect', 'failing')),
    last_error   TEXT,
    -- Pacing that holds across every worker sharing this database: sends to
    -- this channel start at least min_interval_ms apart, and none before
    -- next_send_at (which a 429's Retry-After also pushes back).
    min_interval_ms BIGINT NOT NULL DEFAULT 0,
    next_send_at TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX channels_by_community ON channels(community_id);

CREATE TABLE announcements (
    id            UUID PRIMARY KEY,
    community_id  UUID NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    title         TEXT NOT NULL,
    body_markdown TEXT NOT NULL,
    author        TEXT NOT NULL,
    send_at       TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX announcements_by_community ON announcements(community_id, created_at);

CREATE TABLE deliveries (
    id                  UUID PRIMARY KEY,
    announcement_id     UUID NOT NULL REFERENCES announcements(id) ON DELETE CASCADE,
    channel_id          UUID NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    state               TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'retry_wait', 'failed', 'dead')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     TIMESTAMPTZ NOT NULL,
    lease_owner         TEXT,
    lease_until         TIMESTAMPTZ,
    remote_ref          TEXT,
    last_error          TEXT,
    possible_duplicates INTEGER NOT NULL DEFAULT 0,
    updated_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT deliveries_once_per_channel UNIQUE (announcement_id, channel_id)
);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state IN ('pending', 'retry_wait');
CREATE INDEX deliveries_leased ON deliveries(lease_until) WHERE state = 'sending';
