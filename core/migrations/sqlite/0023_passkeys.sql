-- WebAuthn ceremonies (passkeys and security keys): the state the library needs between the
-- options sent to the browser and its answer. Single use (taken with DELETE ... RETURNING),
-- five minutes. Kept here, never in a cookie, so that any instance can finish what another began.
CREATE TABLE webauthn_ceremonies (
    id          TEXT    PRIMARY KEY,
    -- 'register' (adding a key), 'signin' (a passkey alone, the account found from the key),
    -- 'second_factor' (after the password).
    purpose     TEXT    NOT NULL CHECK (purpose IN ('register', 'signin', 'second_factor')),
    account_id  INTEGER REFERENCES accounts (id),
    -- The session that began it: the holder's (register) or the pending sign-in's.
    session_id  INTEGER,
    name        TEXT,
    state       TEXT    NOT NULL,
    expires_ms  INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_ms);

-- A passkey whose signature counter went backwards may have been copied: it is flagged, proves
-- nothing from then on, and "Mes terminaux" says so until the holder removes it.
ALTER TABLE terminals ADD COLUMN flagged_ms INTEGER;
