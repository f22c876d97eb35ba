-- Full-text search over messages: subject, body text, people (names and addresses), attachment
-- names. The row id is the message's id; accents and case are ignored.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    subject, body, people, attachments,
    tokenize = 'unicode61 remove_diacritics 2'
);
