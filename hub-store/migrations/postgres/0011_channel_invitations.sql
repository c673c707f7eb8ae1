-- People the hub invited into a channel's tool by mail (a Slack workspace's
-- invite link), so each is invited once, not at every sync.
CREATE TABLE channel_invitations (
    channel_id UUID NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    sent_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel_id, email)
);
