-- Secure mail to other operators of the trust space goes through the outbox too (channel
-- 'mss'): the row holds the raw message for one recipient until it is delivered, and points
-- back to the sender's account and Sent copy so that a permanent failure can be reported to
-- them. SQLite cannot change a CHECK constraint in place: the table is rebuilt. Foreign keys
-- stay on inside the migration's transaction, so the contact requests' links to it are set
-- aside during the swap and put back after.
CREATE TEMP TABLE contact_outbox_links AS SELECT id, outbox_id FROM contact_requests WHERE outbox_id IS NOT NULL;
UPDATE contact_requests SET outbox_id = NULL WHERE outbox_id IS NOT NULL;
CREATE TABLE outbox_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms       INTEGER NOT NULL,
    channel          TEXT    NOT NULL CHECK (channel IN ('email', 'sms', 'mss')),
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
    sent_ms          INTEGER,
    account_id       INTEGER REFERENCES accounts (id),
    message_ref      INTEGER
);
INSERT INTO outbox_new (id, created_ms, channel, category, recipient, subject, reply_to, body, status, attempts,
                        next_attempt_ms, locked_until_ms, last_error, sent_ms)
    SELECT id, created_ms, channel, category, recipient, subject, reply_to, body, status, attempts,
           next_attempt_ms, locked_until_ms, last_error, sent_ms FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_ms);
CREATE INDEX outbox_message ON outbox (account_id, message_ref);
UPDATE contact_requests SET outbox_id =
    (SELECT l.outbox_id FROM contact_outbox_links l WHERE l.id = contact_requests.id)
    WHERE id IN (SELECT id FROM contact_outbox_links);
DROP TABLE contact_outbox_links;
