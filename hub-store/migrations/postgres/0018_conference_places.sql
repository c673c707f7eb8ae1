-- One worker at a time opens a published conference's Zoom meetings and
-- Slack conversations: a lease on the conference row.
ALTER TABLE conferences ADD COLUMN places_lease_owner TEXT;
ALTER TABLE conferences ADD COLUMN places_lease_until TIMESTAMPTZ;
