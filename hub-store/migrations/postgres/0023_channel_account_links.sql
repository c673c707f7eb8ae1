-- A lead's link between a channel account the channel shares no email for
-- (a Slack user whose address is hidden, say) and a member: syncs then read
-- the account as that member. Gone with the channel or the member.
CREATE TABLE channel_account_links (
    channel_id  UUID NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    member_id   UUID NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    linked_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel_id, external_id)
);
