-- Peer conferences: the conference, its rooms and slots (the venue grid),
-- registrations with their waitlist, the links mailed to registrants,
-- proposed sessions, votes, and the schedule (a session's room and slot).
--
-- Seats are counted from `conference_registrations` (status 'confirmed')
-- inside the writing transaction; the waitlist's order is `confirmed_at`.

CREATE TABLE conferences (
    id                  BLOB PRIMARY KEY,
    community_id        BLOB NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    slug                TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    starts_on           TEXT NOT NULL,          -- YYYY-MM-DD
    ends_on             TEXT NOT NULL,          -- YYYY-MM-DD
    timezone            TEXT NOT NULL,
    venue               TEXT,                   -- NULL: online
    capacity            INTEGER NOT NULL,
    phase               TEXT NOT NULL CHECK (phase IN
                            ('registration', 'proposals', 'voting', 'schedule_published', 'done')),
    registration_closed INTEGER NOT NULL,
    vote_budget         INTEGER NOT NULL,
    show_up_factor      REAL NOT NULL,
    ranking_public      INTEGER NOT NULL,
    created_at          TEXT NOT NULL,
    UNIQUE (community_id, slug)
);
CREATE INDEX conferences_by_community ON conferences(community_id, starts_on);

CREATE TABLE conference_rooms (
    id              BLOB PRIMARY KEY,
    conference_id   BLOB NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    capacity        INTEGER NOT NULL,
    position        INTEGER NOT NULL,
    zoom_meeting_id TEXT,
    join_url        TEXT
);
CREATE INDEX conference_rooms_by_conference ON conference_rooms(conference_id, position);

CREATE TABLE conference_slots (
    id            BLOB PRIMARY KEY,
    conference_id BLOB NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
    starts_at     TEXT NOT NULL,
    ends_at       TEXT NOT NULL
);
CREATE INDEX conference_slots_by_conference ON conference_slots(conference_id, starts_at);

-- `email` is the normalized address (the key), `email_display` as typed.
CREATE TABLE conference_registrations (
    id            BLOB PRIMARY KEY,
    conference_id BLOB NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    email_display TEXT NOT NULL,
    name          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'waitlisted', 'cancelled')),
    created_at    TEXT NOT NULL,
    confirmed_at  TEXT,
    seated_at     TEXT,
    cancelled_at  TEXT,
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
    registration_id BLOB NOT NULL REFERENCES conference_registrations(id) ON DELETE CASCADE,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    used_at         TEXT
);
CREATE INDEX registrant_links_recent ON registrant_links(registration_id, purpose, created_at);

CREATE TABLE conference_proposals (
    id            BLOB PRIMARY KEY,
    conference_id BLOB NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
    proposer_id   BLOB NOT NULL REFERENCES conference_registrations(id) ON DELETE CASCADE,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL,
    format        TEXT NOT NULL CHECK (format IN ('discussion', 'talk', 'workshop', 'panel', 'demo')),
    co_hosts      TEXT NOT NULL,                -- JSON array of normalized addresses
    state         TEXT NOT NULL CHECK (state IN ('open', 'merged', 'withdrawn')),
    merged_into   BLOB REFERENCES conference_proposals(id),
    created_at    TEXT NOT NULL,
    CHECK ((state = 'merged') = (merged_into IS NOT NULL))
);
CREATE INDEX conference_proposals_by_conference ON conference_proposals(conference_id, created_at);

CREATE TABLE conference_votes (
    proposal_id     BLOB NOT NULL REFERENCES conference_proposals(id) ON DELETE CASCADE,
    registration_id BLOB NOT NULL REFERENCES conference_registrations(id) ON DELETE CASCADE,
    conference_id   BLOB NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (proposal_id, registration_id)
);
-- A registrant's votes in a conference (the budget), and a conference's votes.
CREATE INDEX conference_votes_by_voter ON conference_votes(registration_id, conference_id);
CREATE INDEX conference_votes_by_conference ON conference_votes(conference_id);

-- The schedule: one session per room and slot. A room or slot that goes
-- takes its placements with it.
CREATE TABLE conference_placements (
    proposal_id        BLOB PRIMARY KEY REFERENCES conference_proposals(id) ON DELETE CASCADE,
    conference_id      BLOB NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
    room_id            BLOB NOT NULL REFERENCES conference_rooms(id) ON DELETE CASCADE,
    slot_id            BLOB NOT NULL REFERENCES conference_slots(id) ON DELETE CASCADE,
    pinned             INTEGER NOT NULL,
    slack_conversation TEXT,
    slack_url          TEXT,
    UNIQUE (room_id, slot_id)
);
CREATE INDEX conference_placements_by_conference ON conference_placements(conference_id);
CREATE INDEX conference_placements_by_slot ON conference_placements(slot_id);
