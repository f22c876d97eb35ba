-- Accounts (secure mailboxes), single-use links, one-time codes, sessions, terms acceptances.

CREATE TABLE accounts (
    id                   BIGSERIAL PRIMARY KEY,
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
    password_changed_ms  BIGINT,
    failed_logins        BIGINT NOT NULL DEFAULT 0,
    locked_ms            BIGINT,
    notify_new_mail      BOOLEAN NOT NULL DEFAULT TRUE,
    liste_rouge          BOOLEAN NOT NULL DEFAULT FALSE,
    publish_phone        BOOLEAN NOT NULL DEFAULT FALSE,
    no_paper             BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms           BIGINT NOT NULL
);

-- Single-use links (activation, password reset, unlock): only the SHA-256 of the token is kept.
CREATE TABLE account_tokens (
    token_hash   TEXT    PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts (id),
    purpose      TEXT    NOT NULL CHECK (purpose IN ('activation', 'reset', 'unlock')),
    created_ms   BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL,
    used_ms      BIGINT
);
CREATE INDEX account_tokens_account ON account_tokens (account_id, purpose);
