-- People who left one of a channel's groups (a Slack conversation) by
-- themselves: an export sync does not invite them back into it. Joining it
-- again clears the row.
CREATE TABLE group_departures (
    channel_id  BLOB NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    group_id    TEXT NOT NULL,
    external_id TEXT NOT NULL,
    left_at     TEXT NOT NULL,
    PRIMARY KEY (channel_id, group_id, external_id)
);
