-- Events other systems push to the hub (Slack's Events API), kept before
-- they are acknowledged and processed afterwards. The primary key is what
-- deduplicates a sender's retries.

CREATE TABLE inbound_events (
    source       TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    routing_key  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    processed_at TIMESTAMPTZ,
    outcome      TEXT,
    PRIMARY KEY (source, event_id)
);
CREATE INDEX inbound_events_unprocessed ON inbound_events(received_at) WHERE processed_at IS NULL;
