-- One-time codes, sessions and terms acceptances.

CREATE TABLE otp_challenges (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    purpose       TEXT    NOT NULL,
    channel       TEXT    NOT NULL CHECK (channel IN ('sms', 'email')),
    code_hash     TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    resends       INTEGER NOT NULL DEFAULT 0,
    last_sent_ms  INTEGER NOT NULL,
    used_ms       INTEGER
);
CREATE INDEX otp_challenges_account ON otp_challenges (account_id);

-- Only the SHA-256 of a session token is stored.
CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash    TEXT    NOT NULL UNIQUE,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    created_ms    INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL,
    authenticated_ms INTEGER NOT NULL,
    ip            TEXT,
    user_agent    TEXT,
    ended_ms      INTEGER
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE terms_acceptances (
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    version      TEXT    NOT NULL,
    accepted_ms  INTEGER NOT NULL,
    PRIMARY KEY (account_id, version)
);
