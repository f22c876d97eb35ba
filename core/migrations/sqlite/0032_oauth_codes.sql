-- The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636) for mail clients and
-- software on the professional's computer that have a browser. See auth::oauth::code.

-- Where a client may be sent back with its code. A loopback URI (http://127.0.0.1/path,
-- http://[::1]/path) matches any port (RFC 8252 §7.3); any other URI matches exactly.
CREATE TABLE oauth_redirect_uris (
    client_id     INTEGER NOT NULL REFERENCES oauth_clients (id),
    uri           TEXT    NOT NULL,
    PRIMARY KEY (client_id, uri)
);

-- A code the holder's consent gave: single use, short-lived, kept as a hash, bound to its
-- client, redirect URI, PKCE challenge, holder and scope. `grant_id` is the grant its exchange
-- created, revoked if the code comes again (RFC 6749 §4.1.2).
CREATE TABLE oauth_codes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    code_hash       TEXT    NOT NULL UNIQUE,
    client_id       INTEGER NOT NULL REFERENCES oauth_clients (id),
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    redirect_uri    TEXT    NOT NULL,
    code_challenge  TEXT    NOT NULL,
    scope           TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL,
    expires_ms      INTEGER NOT NULL,
    consumed_ms     INTEGER,
    grant_id        INTEGER REFERENCES oauth_grants (id)
);
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_ms);
