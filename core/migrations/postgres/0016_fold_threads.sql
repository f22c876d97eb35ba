-- Message lists fold each conversation into one line, unless the holder turns it off.
ALTER TABLE accounts ADD COLUMN mail_fold_threads BOOLEAN NOT NULL DEFAULT TRUE;
-- A folder's conversations: the newest message of each, and how many there are.
CREATE INDEX messages_folder_thread ON messages (account_id, folder_id, thread_id);
