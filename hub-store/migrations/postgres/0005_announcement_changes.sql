-- Editing and retracting announcements: each edit raises the revision; a
-- retraction is final. A delivery is a post, an edit or a retraction; a
-- channel has one post per announcement, and as many edits as leads make.
-- A delivery no longer needed is cancelled.

ALTER TABLE announcements ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE announcements ADD COLUMN retracted_at TIMESTAMPTZ;

ALTER TABLE deliveries ADD COLUMN action TEXT NOT NULL DEFAULT 'post'
    CHECK (action IN ('post', 'edit', 'retract'));
ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'sending', 'sent', 'retry_wait', 'failed', 'dead', 'cancelled'));
ALTER TABLE deliveries DROP CONSTRAINT deliveries_once_per_channel;
CREATE UNIQUE INDEX deliveries_one_post_per_channel ON deliveries(announcement_id, channel_id) WHERE action = 'post';
CREATE INDEX deliveries_of_announcement ON deliveries(announcement_id);
