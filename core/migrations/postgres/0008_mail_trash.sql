-- Where a message in the Trash came from, so that "restore" puts it back.
ALTER TABLE messages ADD COLUMN trashed_from BIGINT REFERENCES mail_folders (id);
