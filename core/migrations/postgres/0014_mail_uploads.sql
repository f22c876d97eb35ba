-- Files added in the composer, waiting to leave with a message: deleted when it is sent, or after
-- a day. They count against the holder's quota meanwhile.
CREATE TABLE mail_uploads (
    id            BIGSERIAL PRIMARY KEY,
    account_id    BIGINT  NOT NULL REFERENCES accounts (id),
    name          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    bytes         BYTEA   NOT NULL,
    created_ms    BIGINT  NOT NULL
);
CREATE INDEX mail_uploads_account ON mail_uploads (account_id, created_ms);
-- A mailbox's size (its quota in use) from the index alone.
CREATE INDEX messages_size ON messages (account_id, size);
-- The newest message of a mailbox, which open pages poll to show new mail without a reload.
CREATE INDEX messages_account_newest ON messages (account_id, id);
