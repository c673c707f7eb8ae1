-- Calls, and where each stands in each channel. A landing is the call's
-- outbox for one channel: every change raises `revision` and adds what it
-- touched to `pending` (JSON: "series" or an occurrence's original local
-- start); a worker brings the channel in line and records the revision it
-- reached in `landed_revision`.

CREATE TABLE calls (
    id                    UUID PRIMARY KEY,
    community_id          UUID NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    title                 TEXT NOT NULL,
    agenda                TEXT NOT NULL,
    starts_at_local       TEXT NOT NULL,          -- YYYY-MM-DDTHH:MM:SS in `timezone`
    timezone              TEXT NOT NULL,
    duration_minutes      BIGINT NOT NULL,
    rrule                 TEXT,
    overrides             TEXT NOT NULL,          -- JSON
    cancelled_occurrences TEXT NOT NULL,          -- JSON
    registration          BOOLEAN NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
    zoom_meeting_id       TEXT,
    join_url              TEXT,
    recording_url         TEXT,
    sequence              BIGINT NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX calls_by_community ON calls(community_id, starts_at_local);

CREATE TABLE call_landings (
    call_id         UUID NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    channel_id      UUID NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    revision        BIGINT NOT NULL,
    landed_revision BIGINT NOT NULL DEFAULT 0,
    pending         TEXT NOT NULL,                -- JSON
    remote_ref      TEXT,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'landed', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ,
    last_error      TEXT,
    PRIMARY KEY (call_id, channel_id)
);
CREATE INDEX call_landings_due ON call_landings(next_attempt_at) WHERE state = 'pending';
