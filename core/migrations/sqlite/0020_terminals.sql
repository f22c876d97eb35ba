-- The holder's terminals: what proves a sign-in besides the password. An authenticator app
-- (kind 'totp') keeps its shared secret sealed (XChaCha20-Poly1305 under a key derived from the
-- key file outside the database, bound to the account) and the last time step it accepted, so
-- that a code works once. A terminal not yet confirmed (confirmed_ms NULL) proves nothing.
CREATE TABLE terminals (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('totp', 'passkey', 'phone')),
    name          TEXT    NOT NULL,
    sealed_secret BLOB,
    -- A passkey or security key (next): its credential id, bound to one account only, and the
    -- credential as the WebAuthn library keeps it.
    credential_id TEXT    UNIQUE,
    credential    TEXT,
    last_step     INTEGER NOT NULL DEFAULT 0,
    created_ms    INTEGER NOT NULL,
    confirmed_ms  INTEGER,
    last_used_ms  INTEGER,
    removed_ms    INTEGER
);
CREATE INDEX terminals_account ON terminals (account_id);

-- How a session's sign-in was proven: 'sms', 'email', 'totp' (NULL for sessions from before).
ALTER TABLE sessions ADD COLUMN factor TEXT;
-- The terminal that proved it, when one did: removing the terminal ends the sessions it opened.
ALTER TABLE sessions ADD COLUMN terminal_id INTEGER;
