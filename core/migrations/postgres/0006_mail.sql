-- Mailboxes: folders and messages. Each message is kept whole (raw RFC 5322) beside the
-- metadata the lists need; every row belongs to one account.

CREATE TABLE mail_folders (
    id          BIGSERIAL PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    role        TEXT    NOT NULL CHECK (role IN ('inbox', 'sent', 'drafts', 'archive', 'trash', 'custom')),
    name        TEXT    NOT NULL,
    parent_id   BIGINT REFERENCES mail_folders (id),
    created_ms  BIGINT NOT NULL
);
CREATE UNIQUE INDEX mail_folders_role ON mail_folders (account_id, role) WHERE role <> 'custom';

CREATE TABLE messages (
    id                BIGSERIAL PRIMARY KEY,
    account_id        BIGINT NOT NULL REFERENCES accounts (id),
    folder_id         BIGINT NOT NULL REFERENCES mail_folders (id),
    message_id        TEXT    NOT NULL,
    thread_id         TEXT    NOT NULL,
    in_reply_to       TEXT,
    from_addr         TEXT    NOT NULL,
    from_name         TEXT    NOT NULL DEFAULT '',
    to_addrs          TEXT    NOT NULL DEFAULT '',
    cc_addrs          TEXT    NOT NULL DEFAULT '',
    -- Only in the sender's own copy: Bcc recipients are never disclosed to anyone else.
    bcc_addrs         TEXT    NOT NULL DEFAULT '',
    subject           TEXT    NOT NULL DEFAULT '',
    snippet           TEXT    NOT NULL DEFAULT '',
    date_ms           BIGINT NOT NULL,
    size              BIGINT NOT NULL,
    attachment_names  TEXT    NOT NULL DEFAULT '',
    urgent            BOOLEAN NOT NULL DEFAULT FALSE,
    unread            BOOLEAN NOT NULL DEFAULT TRUE,
    flagged           BOOLEAN NOT NULL DEFAULT FALSE,
    raw               BYTEA    NOT NULL,
    created_ms        BIGINT NOT NULL
);
CREATE INDEX messages_list ON messages (account_id, folder_id, date_ms DESC, id DESC);
CREATE INDEX messages_thread ON messages (account_id, thread_id);
