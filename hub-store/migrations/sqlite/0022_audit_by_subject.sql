-- A member's page lists the audit entries about them (their normalized
-- email is the entry's subject), newest first, within the community.
CREATE INDEX audit_by_subject ON audit_events(community_id, subject, seq);
