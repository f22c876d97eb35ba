-- Senders whose remote images a holder chose to see ("show images from this sender").
CREATE TABLE mail_image_senders (
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    sender      TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (account_id, sender)
);
