-- Senders whose remote images a holder chose to see ("show images from this sender").
CREATE TABLE mail_image_senders (
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    sender      TEXT   NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (account_id, sender)
);
