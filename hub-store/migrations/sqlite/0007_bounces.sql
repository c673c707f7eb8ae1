-- Bounces of list mail, scored as GNU Mailman does (hub_core::bounces).
-- At the threshold, delivery on that consent row stops (delivery_disabled_at)
-- without changing the person's consent: they did not ask to leave. Any
-- explicit consent change (the member re-joining, a lead's edit) clears it.

ALTER TABLE member_consents ADD COLUMN delivery_disabled_at TEXT;

CREATE TABLE bounce_scores (
    member_id      BLOB PRIMARY KEY REFERENCES members(id) ON DELETE CASCADE,
    score          REAL NOT NULL,
    last_bounce_on TEXT NOT NULL,
    last_reason    TEXT NOT NULL,
    counted        INTEGER NOT NULL
) WITHOUT ROWID;
