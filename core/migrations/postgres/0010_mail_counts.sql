-- Folder counts (total, unread) without reading every message.
CREATE INDEX messages_folder_unread ON messages (folder_id, unread);
