-- When the holder was last told (at their notification address) that new mail arrived: at most
-- one notice per 15 minutes.
ALTER TABLE accounts ADD COLUMN new_mail_notified_ms INTEGER;
