-- What Zoom tells of a call once it runs (its webhooks): each time the
-- call's meeting was held (an instance, named by Zoom's meeting UUID) with
-- its start and end, and who joined each time, once per person (`person`:
-- member:<id>, email:<address> or name:<name>; a rejoin keeps the first
-- join).

CREATE TABLE call_instances (
    call_id    BLOB NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    instance   TEXT NOT NULL,
    started_at TEXT,
    ended_at   TEXT,
    PRIMARY KEY (call_id, instance)
);

CREATE TABLE call_attendance (
    call_id   BLOB NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    instance  TEXT NOT NULL,
    person    TEXT NOT NULL,
    member_id BLOB REFERENCES members(id) ON DELETE SET NULL,
    name      TEXT NOT NULL,
    email     TEXT,
    joined_at TEXT NOT NULL,
    PRIMARY KEY (call_id, instance, person)
);

-- Zoom's events name the meeting; the call is found by it.
CREATE INDEX calls_by_zoom_meeting ON calls(community_id, zoom_meeting_id)
    WHERE zoom_meeting_id IS NOT NULL;
