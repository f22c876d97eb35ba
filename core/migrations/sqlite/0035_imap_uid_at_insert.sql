-- The UID of a new message is written by the INSERT itself (`uid` = the folder's `uidnext`),
-- and the trigger only counts it. Before, the trigger set the UID by updating the new row, and
-- SQLite rewrites a whole row on update, its raw message included: every delivery wrote each
-- message twice (inbound SMTP over one connection went from 254 to 130 messages a second).
-- The trigger still corrects a path that gives no UID or a wrong one, so none can forget it.
-- (PostgreSQL gives the UID in a BEFORE trigger, before the row is written: nothing to change.)

DROP TRIGGER messages_uid_insert;

CREATE TRIGGER messages_uid_insert AFTER INSERT ON messages
BEGIN
    UPDATE messages SET uid = (SELECT uidnext FROM mail_folders WHERE id = NEW.folder_id)
     WHERE id = NEW.id AND NEW.uid IS NOT (SELECT uidnext FROM mail_folders WHERE id = NEW.folder_id);
    UPDATE mail_folders SET uidnext = uidnext + 1, modseq = modseq + 1 WHERE id = NEW.folder_id;
END;
