-- Foundation: audit trail, outbox, rate limits, contact requests, terms, audience measurement.

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at_ms      INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    ip         TEXT,
    action     TEXT    NOT NULL,
    object     TEXT,
    outcome    TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);

-- The newest record's sequence and hash, updated in the same transaction as each append, so that
-- removing the last records of the chain is detected too.
CREATE TABLE audit_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq   INTEGER NOT NULL,
    last_hash  TEXT    NOT NULL
);
INSERT INTO audit_head (id, last_seq, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms       INTEGER NOT NULL,
    channel          TEXT    NOT NULL CHECK (channel IN ('email', 'sms')),
    category         TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    subject          TEXT,
    reply_to         TEXT,
    body             TEXT,
    status           TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL,
    locked_until_ms  INTEGER,
    last_error       TEXT,
    sent_ms          INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_ms);

CREATE TABLE rate_limits (
    key              TEXT    PRIMARY KEY,
    window_start_ms  INTEGER NOT NULL,
    count            INTEGER NOT NULL
);

CREATE TABLE contact_requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms  INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    outbox_id   INTEGER REFERENCES outbox (id)
);

CREATE TABLE terms_versions (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    version       TEXT    NOT NULL UNIQUE,
    published_on  TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    body_md       TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL
);

CREATE TABLE audience_daily (
    day    TEXT    NOT NULL,
    path   TEXT    NOT NULL,
    views  INTEGER NOT NULL,
    PRIMARY KEY (day, path)
);

CREATE TABLE audience_visitors (
    day      TEXT NOT NULL,
    visitor  TEXT NOT NULL,
    PRIMARY KEY (day, visitor)
);
