-- One-time codes, sessions and terms acceptances.

CREATE TABLE otp_challenges (
    id            BIGSERIAL PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts (id),
    purpose       TEXT    NOT NULL,
    channel       TEXT    NOT NULL CHECK (channel IN ('sms', 'email')),
    code_hash     TEXT    NOT NULL,
    created_ms    BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    resends       BIGINT NOT NULL DEFAULT 0,
    last_sent_ms  BIGINT NOT NULL,
    used_ms       BIGINT
);
CREATE INDEX otp_challenges_account ON otp_challenges (account_id);

-- Only the SHA-256 of a session token is stored.
CREATE TABLE sessions (
    id            BIGSERIAL PRIMARY KEY,
    token_hash    TEXT    NOT NULL UNIQUE,
    account_id    BIGINT NOT NULL REFERENCES accounts (id),
    created_ms    BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL,
    authenticated_ms BIGINT NOT NULL,
    ip            TEXT,
    user_agent    TEXT,
    ended_ms      BIGINT
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE terms_acceptances (
    account_id   BIGINT NOT NULL REFERENCES accounts (id),
    version      TEXT    NOT NULL,
    accepted_ms  BIGINT NOT NULL,
    PRIMARY KEY (account_id, version)
);
