-- Accounts (secure mailboxes), single-use links, one-time codes, sessions, terms acceptances.

CREATE TABLE accounts (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    address              TEXT    NOT NULL UNIQUE,
    mailbox_type         TEXT    NOT NULL CHECK (mailbox_type IN ('personal', 'organisational', 'applicative')),
    kind                 TEXT    NOT NULL CHECK (kind IN ('health', 'other')),
    last_name            TEXT    NOT NULL DEFAULT '',
    first_name           TEXT    NOT NULL DEFAULT '',
    id_kind              TEXT    CHECK (id_kind IN ('rpps', 'adeli')),
    id_value             TEXT,
    profession           TEXT,
    specialty            TEXT,
    practice_place       TEXT,
    authority            TEXT,
    role                 TEXT,
    notification_email   TEXT    NOT NULL,
    mobile               TEXT,
    status               TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'suspended', 'closed')),
    password_hash        TEXT,
    password_changed_ms  INTEGER,
    failed_logins        INTEGER NOT NULL DEFAULT 0,
    locked_ms            INTEGER,
    notify_new_mail      BOOLEAN NOT NULL DEFAULT TRUE,
    liste_rouge          BOOLEAN NOT NULL DEFAULT FALSE,
    publish_phone        BOOLEAN NOT NULL DEFAULT FALSE,
    no_paper             BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms           INTEGER NOT NULL
);

-- Single-use links (activation, password reset, unlock): only the SHA-256 of the token is kept.
CREATE TABLE account_tokens (
    token_hash   TEXT    PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    purpose      TEXT    NOT NULL CHECK (purpose IN ('activation', 'reset', 'unlock')),
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    used_ms      INTEGER
);
CREATE INDEX account_tokens_account ON account_tokens (account_id, purpose);
