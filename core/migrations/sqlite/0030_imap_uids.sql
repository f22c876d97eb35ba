-- IMAP: each message has a UID in its folder, strictly increasing and never reused there
-- (RFC 9051 §2.3.1.1). A folder counts the UIDs it gave (`uidnext`) and its changes (`modseq`,
-- what an IDLE-ing client polls). The folder's UIDVALIDITY is its id, never reused either.
-- Triggers give the UID in the same transaction as whatever puts a message into a folder
-- (delivery, send, a draft saved, a move): no path can forget it.

ALTER TABLE mail_folders ADD COLUMN uidnext INTEGER NOT NULL DEFAULT 1;
ALTER TABLE mail_folders ADD COLUMN modseq INTEGER NOT NULL DEFAULT 1;
ALTER TABLE messages ADD COLUMN uid INTEGER;

-- Numbered in one pass (a count per message would be quadratic in a large folder).
UPDATE messages SET uid = n.uid
  FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY folder_id ORDER BY id) AS uid FROM messages) n
 WHERE n.id = messages.id;
UPDATE mail_folders SET uidnext = 1 + COALESCE((SELECT MAX(uid) FROM messages m WHERE m.folder_id = mail_folders.id), 0);
-- Not UNIQUE here: SQLite checks it as the move's row changes folder, before the trigger gives
-- the new UID (PostgreSQL gives it before the row is written, and enforces it).
CREATE INDEX messages_folder_uid ON messages (folder_id, uid);

CREATE TRIGGER messages_uid_insert AFTER INSERT ON messages
BEGIN
    UPDATE mail_folders SET uidnext = uidnext + 1, modseq = modseq + 1 WHERE id = NEW.folder_id;
    UPDATE messages SET uid = (SELECT uidnext - 1 FROM mail_folders WHERE id = NEW.folder_id) WHERE id = NEW.id;
END;

CREATE TRIGGER messages_uid_move AFTER UPDATE OF folder_id ON messages WHEN NEW.folder_id <> OLD.folder_id
BEGIN
    UPDATE mail_folders SET modseq = modseq + 1 WHERE id = OLD.folder_id;
    UPDATE mail_folders SET uidnext = uidnext + 1, modseq = modseq + 1 WHERE id = NEW.folder_id;
    UPDATE messages SET uid = (SELECT uidnext - 1 FROM mail_folders WHERE id = NEW.folder_id) WHERE id = NEW.id;
END;

-- A draft saved again is a new message to IMAP (its content changed): a new UID.
CREATE TRIGGER messages_uid_rewrite AFTER UPDATE OF raw ON messages
BEGIN
    UPDATE mail_folders SET uidnext = uidnext + 1, modseq = modseq + 1 WHERE id = NEW.folder_id;
    UPDATE messages SET uid = (SELECT uidnext - 1 FROM mail_folders WHERE id = NEW.folder_id) WHERE id = NEW.id;
END;

CREATE TRIGGER messages_modseq_flags AFTER UPDATE OF unread, flagged ON messages
    WHEN NEW.unread <> OLD.unread OR NEW.flagged <> OLD.flagged
BEGIN
    UPDATE mail_folders SET modseq = modseq + 1 WHERE id = NEW.folder_id;
END;

CREATE TRIGGER messages_modseq_delete AFTER DELETE ON messages
BEGIN
    UPDATE mail_folders SET modseq = modseq + 1 WHERE id = OLD.folder_id;
END;
