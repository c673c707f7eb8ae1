-- One row per person under a delivery to a many-recipient channel (the
-- native list), so a retry resends only what failed and a crash resends at
-- most the batches in flight. The rows are made when the delivery is first
-- worked on (recipients_total is set then), from the members subscribed at
-- that moment.

ALTER TABLE deliveries ADD COLUMN recipients_total INTEGER;

CREATE TABLE recipients (
    delivery_id         BLOB NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    member_id           BLOB NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    email               TEXT NOT NULL,
    name                TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'retry_wait', 'failed', 'dead', 'cancelled')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     TEXT NOT NULL,
    lease_owner         TEXT,
    lease_until         TEXT,
    remote_ref          TEXT,
    last_error          TEXT,
    possible_duplicates INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (delivery_id, member_id)
) WITHOUT ROWID;
CREATE INDEX recipients_due ON recipients(delivery_id, next_attempt_at) WHERE state IN ('pending', 'retry_wait', 'sending');
