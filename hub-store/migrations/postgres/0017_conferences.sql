-- Peer conferences: the conference, its rooms and slots (the venue grid),
-- registrations with their waitlist, the links mailed to registrants,
-- proposed sessions, votes, and the schedule (a session's room and slot).
--
-- Seats are counted from `conference_registrations` (status 'confirmed')
-- inside the writing transaction; the waitlist's order is `confirmed_at`.

CREATE TABLE conferences (
    id                  UUID PRIMARY KEY,
    community_id        UUID NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    slug                TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    starts_on           DATE NOT NULL,
    ends_on             DATE NOT NULL,
    timezone            TEXT NOT NULL,
    venue               TEXT,                   -- NULL: online
    capacity            BIGINT NOT NULL,
    phase               TEXT NOT NULL CHECK (phase IN
                            ('registration', 'proposals', 'voting', 'schedule_published', 'done')),
    registration_closed BOOLEAN NOT NULL,
    vote_budget         BIGINT NOT NULL,
    show_up_factor      DOUBLE PRECISION NOT NULL,
    ranking_public      BOOLEAN NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (community_id, slug)
);
CREATE INDEX conferences_by_community ON conferences(community_id, starts_on);

CREATE TABLE conference_rooms (
    id              UUID PRIMARY KEY,
    conference_id   UUID NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    capacity        BIGINT NOT NULL,
    position        BIGINT NOT NULL,
    zoom_meeting_id TEXT,
    join_url        TEXT
);
CREATE INDEX conference_rooms_by_conference ON conference_rooms(conference_id, position);

CREATE TABLE conference_slots (
    id            UUID PRIMARY KEY,
    conference_id UUID NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
    starts_at     TIMESTAMPTZ NOT NULL,
    ends_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX conference_slots_by_conference ON conference_slots(conference_id, starts_at);

-- `email` is the normalized address (the key), `email_display` as typed.
CREATE TABLE conference_registrations (
    id            UUID PRIMARY KEY,
    conference_id UUID NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    email_display TEXT NOT NULL,
    name          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'waitlisted', 'cancelled')),
    created_at    TIMESTAMPTZ NOT NULL,
    confirmed_at  TIMESTAMPTZ,
    seated_at     TIMESTAMPTZ,
    cancelled_at  TIMESTAMPTZ,
    UNIQUE (conference_id, email)
);
-- Counting the seated and finding the first waitlisted by confirmed_at.
CREATE INDEX conference_registrations_by_status
    ON conference_registrations(conference_id, status, confirmed_at);

-- Links mailed to registrants, stored as the SHA-256 of their secret. Used
-- links keep used_at, so a second use fails.
CREATE TABLE registrant_links (
    token_hash      TEXT PRIMARY KEY,
    purpose         TEXT NOT NULL CHECK (purpose IN ('confirm', 'access')),
    registration_id UUID NOT NULL REFERENCES conference_registrations(id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ
);
CREATE INDEX registrant_links_recent ON registrant_links(registration_id, purpose, created_at);

CREATE TABLE conference_proposals (
    id            UUID PRIMARY KEY,
    conference_id UUID NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
    proposer_id   UUID NOT NULL REFERENCES conference_registrations(id) ON DELETE CASCADE,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL,
    format        TEXT NOT NULL CHECK (format IN ('discussion', 'talk', 'workshop', 'panel', 'demo')),
    co_hosts      TEXT NOT NULL,                -- JSON array of normalized addresses
    state         TEXT NOT NULL CHECK (state IN ('open', 'merged', 'withdrawn')),
    merged_into   UUID REFERENCES conference_proposals(id),
    created_at    TIMESTAMPTZ NOT NULL,
    CHECK ((state = 'merged') = (merged_into IS NOT NULL))
);
CREATE INDEX conference_proposals_by_conference ON conference_proposals(conference_id, created_at);

CREATE TABLE conference_votes (
    proposal_id     UUID NOT NULL REFERENCES conference_proposals(id) ON DELETE CASCADE,
    registration_id UUID NOT NULL REFERENCES conference_registrations(id) ON DELETE CASCADE,
    conference_id   UUID NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (proposal_id, registration_id)
);
-- A registrant's votes in a conference (the budget), and a conference's votes.
CREATE INDEX conference_votes_by_voter ON conference_votes(registration_id, conference_id);
CREATE INDEX conference_votes_by_conference ON conference_votes(conference_id);

-- The schedule: one session per room and slot. A room or slot that goes
-- takes its placements with it.
CREATE TABLE conference_placements (
    proposal_id        UUID PRIMARY KEY REFERENCES conference_proposals(id) ON DELETE CASCADE,
    conference_id      UUID NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
    room_id            UUID NOT NULL REFERENCES conference_rooms(id) ON DELETE CASCADE,
    slot_id            UUID NOT NULL REFERENCES conference_slots(id) ON DELETE CASCADE,
    pinned             BOOLEAN NOT NULL,
    slack_conversation TEXT,
    slack_url          TEXT,
    UNIQUE (room_id, slot_id)
);
CREATE INDEX conference_placements_by_conference ON conference_placements(conference_id);
CREATE INDEX conference_placements_by_slot ON conference_placements(slot_id);
