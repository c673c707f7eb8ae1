-- Each member's own join link for a call whose people register (Zoom gives
-- every registrant one), kept beside the invitation that carried it, so an
-- update or a reminder mails the same link without registering again.

ALTER TABLE call_invitations ADD COLUMN join_url TEXT;
