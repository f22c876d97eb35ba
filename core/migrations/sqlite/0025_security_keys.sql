-- A security key that does not verify its holder (no PIN or fingerprint): it proves a sign-in
-- after the password only, never on its own.
ALTER TABLE terminals ADD COLUMN second_factor_only BOOLEAN NOT NULL DEFAULT FALSE;
