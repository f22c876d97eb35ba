-- Finding a message by its Message-ID in a mailbox (imports skip what is already there).
CREATE INDEX messages_message_id ON messages (account_id, message_id);
