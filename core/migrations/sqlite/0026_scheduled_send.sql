-- Undo send and scheduled send. A message waiting to leave is a draft with one row here saying
-- when it is due (it shows in "Programmés", not in Drafts). The outbox worker claims due rows
-- with a lease (locked_until_ms, lease_owner) and sends each through the same verb as an
-- immediate send; that send deletes this row (only under its lease) and the draft in its own
-- transaction, so a message leaves once.
-- undo_send_secs: how long a message sent from the webmail waits, so that it can be taken back.
ALTER TABLE accounts ADD COLUMN undo_send_secs INTEGER NOT NULL DEFAULT 10 CHECK (undo_send_secs BETWEEN 0 AND 30);
CREATE TABLE scheduled_sends (
    message_id      INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    send_at_ms      INTEGER NOT NULL,
    created_ms      INTEGER NOT NULL,
    locked_until_ms INTEGER,
    lease_owner     TEXT,
    -- The author asked for read receipts (the draft does not keep it).
    read_receipt    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX scheduled_sends_due ON scheduled_sends (send_at_ms);
CREATE INDEX scheduled_sends_account ON scheduled_sends (account_id, send_at_ms);
