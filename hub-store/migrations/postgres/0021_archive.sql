-- The public archive of past announcements: who may read it, per community
-- ('off', 'members' — the default, see `ArchiveVisibility` — or 'public'),
-- and member links of a third kind, mailed to sign a member in to it.

ALTER TABLE communities ADD COLUMN archive TEXT NOT NULL DEFAULT 'members'
    CHECK (archive IN ('off', 'members', 'public'));

-- The archive is read newest first by when each announcement went out.
CREATE INDEX announcements_archive
    ON announcements (community_id, (COALESCE(send_at, created_at)), id);

ALTER TABLE member_links DROP CONSTRAINT member_links_purpose_check;
ALTER TABLE member_links ADD CONSTRAINT member_links_purpose_check
    CHECK (purpose IN ('join', 'preferences', 'archive'));
