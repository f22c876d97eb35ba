-- The message list's density, the holder's choice: comfortable (the default) or compact.
ALTER TABLE accounts ADD COLUMN mail_compact BOOLEAN NOT NULL DEFAULT FALSE;
