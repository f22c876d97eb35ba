-- Secure mail to other operators of the trust space goes through the outbox too (channel
-- 'mss'): the row holds the raw message for one recipient until it is delivered, and points
-- back to the sender's account and Sent copy so that a permanent failure can be reported to
-- them.
ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check CHECK (channel IN ('email', 'sms', 'mss'));
ALTER TABLE outbox ADD COLUMN account_id BIGINT REFERENCES accounts (id);
ALTER TABLE outbox ADD COLUMN message_ref BIGINT;
CREATE INDEX outbox_message ON outbox (account_id, message_ref);
