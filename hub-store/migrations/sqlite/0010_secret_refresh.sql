-- Who is refreshing a channel's rotating token, until when: one instance at
-- a time, so a refresh token (good for one use) is never spent twice.
ALTER TABLE channels ADD COLUMN secret_lease_owner TEXT;
ALTER TABLE channels ADD COLUMN secret_lease_until TEXT;
