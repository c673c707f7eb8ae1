-- Bounces of list mail, scored as GNU Mailman does (hub_core::bounces).
-- At the threshold, delivery on that consent row stops (delivery_disabled_at)
-- without changing the person's consent: they did not ask to leave. Any
-- explicit consent change (the member re-joining, a lead's edit) clears it.

ALTER TABLE member_consents ADD COLUMN delivery_disabled_at TIMESTAMPTZ;

CREATE TABLE bounce_scores (
    member_id      UUID PRIMARY KEY REFERENCES members(id) ON DELETE CASCADE,
    score          DOUBLE PRECISION NOT NULL,
    last_bounce_on DATE NOT NULL,
    last_reason    TEXT NOT NULL,
    counted        BIGINT NOT NULL
);
