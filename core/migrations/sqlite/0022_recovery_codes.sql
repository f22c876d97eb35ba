-- Recovery codes: ten single-use codes a holder with a terminal prints and keeps, to sign in or
-- reset the password when the terminal is lost. Only a keyed hash of each is stored.
CREATE TABLE recovery_codes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    code_hash   TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    used_ms     INTEGER
);
CREATE INDEX recovery_codes_account ON recovery_codes (account_id);
