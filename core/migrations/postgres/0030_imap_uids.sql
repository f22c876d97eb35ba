-- IMAP: each message has a UID in its folder, strictly increasing and never reused there
-- (RFC 9051 §2.3.1.1). A folder counts the UIDs it gave (`uidnext`) and its changes (`modseq`,
-- what an IDLE-ing client polls). The folder's UIDVALIDITY is its id, never reused either.
-- Triggers give the UID in the same transaction as whatever puts a message into a folder
-- (delivery, send, a draft saved, a move): no path can forget it. The folder's row is locked
-- by the UPDATE that takes the UID, so concurrent deliveries get distinct UIDs.

ALTER TABLE mail_folders ADD COLUMN uidnext BIGINT NOT NULL DEFAULT 1;
ALTER TABLE mail_folders ADD COLUMN modseq BIGINT NOT NULL DEFAULT 1;
ALTER TABLE messages ADD COLUMN uid BIGINT;

UPDATE messages SET uid = n.uid
  FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY folder_id ORDER BY id) AS uid FROM messages) n
 WHERE n.id = messages.id;
UPDATE mail_folders SET uidnext = 1 + COALESCE((SELECT MAX(uid) FROM messages m WHERE m.folder_id = mail_folders.id), 0);
ALTER TABLE messages ALTER COLUMN uid SET NOT NULL;
CREATE UNIQUE INDEX messages_folder_uid ON messages (folder_id, uid);

CREATE FUNCTION messages_imap_uid() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT'
       OR NEW.folder_id IS DISTINCT FROM OLD.folder_id
       OR NEW.raw IS DISTINCT FROM OLD.raw THEN
        IF TG_OP = 'UPDATE' AND NEW.folder_id IS DISTINCT FROM OLD.folder_id THEN
            UPDATE mail_folders SET modseq = modseq + 1 WHERE id = OLD.folder_id;
        END IF;
        UPDATE mail_folders SET uidnext = uidnext + 1, modseq = modseq + 1 WHERE id = NEW.folder_id
            RETURNING uidnext - 1 INTO NEW.uid;
    ELSIF NEW.unread IS DISTINCT FROM OLD.unread OR NEW.flagged IS DISTINCT FROM OLD.flagged THEN
        UPDATE mail_folders SET modseq = modseq + 1 WHERE id = NEW.folder_id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER messages_imap_uid BEFORE INSERT OR UPDATE OF folder_id, raw, unread, flagged ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_imap_uid();

CREATE FUNCTION messages_imap_deleted() RETURNS trigger AS $$
BEGIN
    UPDATE mail_folders SET modseq = modseq + 1 WHERE id = OLD.folder_id;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER messages_imap_deleted AFTER DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_imap_deleted();
