-- Hygie as an OAuth 2.0 authorization server for mail clients and business software (IMAP,
-- SMTP submission, the Web Services API): never the password alone. See auth::oauth.

-- Software the operator registered: public clients (the device grant, authorization code with
-- PKCE) or confidential ones acting for an applicative or organisational mailbox (client
-- credentials, with a secret kept as a hash).
CREATE TABLE oauth_clients (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id     TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('public', 'confidential')),
    secret_hash   TEXT,
    account_id    INTEGER REFERENCES accounts (id),
    created_ms    INTEGER NOT NULL,
    disabled_ms   INTEGER
);

-- A device authorization request (RFC 8628): the software shows the user code, the holder
-- types it on the web after a full sign-in and approves or refuses.
CREATE TABLE oauth_device_codes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    device_hash   TEXT    NOT NULL UNIQUE,
    user_code     TEXT    NOT NULL UNIQUE,
    client_id     INTEGER NOT NULL REFERENCES oauth_clients (id),
    scope         TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL,
    interval_s    INTEGER NOT NULL,
    last_poll_ms  INTEGER,
    account_id    INTEGER REFERENCES accounts (id),
    approved      BOOLEAN,
    decided_ms    INTEGER,
    consumed_ms   INTEGER
);

-- What a holder granted to one client: its refresh token (rotated at each use; the one before
-- is kept to recognise a replay, which revokes the grant), listed in the account and revocable.
CREATE TABLE oauth_grants (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id         INTEGER NOT NULL REFERENCES accounts (id),
    client_id          INTEGER NOT NULL REFERENCES oauth_clients (id),
    scope              TEXT    NOT NULL,
    refresh_hash       TEXT    UNIQUE,
    old_refresh_hash   TEXT,
    created_ms         INTEGER NOT NULL,
    last_used_ms       INTEGER NOT NULL,
    last_ip            TEXT,
    revoked_ms         INTEGER
);
CREATE INDEX oauth_grants_account ON oauth_grants (account_id);
CREATE INDEX oauth_grants_old_refresh ON oauth_grants (old_refresh_hash);

-- Short-lived access tokens, by hash.
CREATE TABLE oauth_tokens (
    token_hash    TEXT    PRIMARY KEY,
    grant_id      INTEGER NOT NULL REFERENCES oauth_grants (id),
    expires_ms    INTEGER NOT NULL
);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
