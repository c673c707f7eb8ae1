-- Which version (SEQUENCE) of a call's invitation each member was mailed,
-- so each version goes to each person once, and a crash resends at most
-- the batch in flight.

CREATE TABLE call_invitations (
    call_id       BLOB NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    member_id     BLOB NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    sequence_sent INTEGER NOT NULL,
    sent_at       TEXT NOT NULL,
    PRIMARY KEY (call_id, member_id)
);
