-- The occurrence each invited member was last reminded of (the day before),
-- claimed before the mail goes, so two workers never remind one person twice.

ALTER TABLE call_invitations ADD COLUMN reminded_occurrence TEXT;
ALTER TABLE call_invitations ADD COLUMN reminded_at TEXT;
