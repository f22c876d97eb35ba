-- A search looks in one mailbox, yet the index held every mailbox's words together: a common
-- word made each search walk the matches of every holder on the instance. Each indexed message
-- now carries its holder as a token ("a" and the account id, in the column owner), which the
-- search matches first. Rebuilt from the old index, so nothing is indexed again from the raw mail.
CREATE VIRTUAL TABLE messages_fts_owned USING fts5(
    subject, body, people, attachments, owner,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts_owned (rowid, subject, body, people, attachments, owner)
    SELECT f.rowid, f.subject, f.body, f.people, f.attachments, 'a' || m.account_id
    FROM messages_fts f JOIN messages m ON m.id = f.rowid;
DROP TABLE messages_fts;
ALTER TABLE messages_fts_owned RENAME TO messages_fts;
