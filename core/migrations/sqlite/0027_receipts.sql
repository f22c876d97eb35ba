-- Receipts of the messages a holder sent, one row per recipient and event: delivery status
-- notifications (RFC 3464: delivered, relayed, delayed, failed with the SMTP status) and
-- read receipts (RFC 8098: read, or failed with an MSSanté integration code 900-906). The
-- report that brought it is kept (report_ref) and reachable from the sender's timeline.
CREATE TABLE mail_receipts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    message_ref  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    recipient    TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('delivered', 'relayed', 'delayed', 'failed', 'read', 'read_failed')),
    status       TEXT    NOT NULL DEFAULT '',
    diagnostic   TEXT    NOT NULL DEFAULT '',
    report_ref   INTEGER REFERENCES messages (id) ON DELETE SET NULL,
    at_ms        INTEGER NOT NULL
);
CREATE INDEX mail_receipts_message ON mail_receipts (account_id, message_ref);

-- The read receipts a holder was asked for and answered (sent, or declined): at most one
-- answer per message, so at most one receipt.
CREATE TABLE mail_receipt_answers (
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    message_ref  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    answer       TEXT    NOT NULL CHECK (answer IN ('sent', 'declined')),
    at_ms        INTEGER NOT NULL,
    PRIMARY KEY (account_id, message_ref)
);

-- Whether to send a read receipt when asked: always, ask (the default) or never.
ALTER TABLE accounts ADD COLUMN mail_read_receipts TEXT NOT NULL DEFAULT 'ask'
    CHECK (mail_read_receipts IN ('always', 'ask', 'never'));
