-- Full-text search over messages with the French text-search configuration: subject (weight
-- A), body, people (names and addresses) and attachment names.
ALTER TABLE messages ADD COLUMN search tsvector;
CREATE INDEX messages_search ON messages USING GIN (search);
