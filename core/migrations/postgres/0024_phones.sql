-- A phone that approves sign-ins (kind 'phone' in terminals): its device-bound passkey is the
-- terminal's credential; its Web Push subscription and a device token (only its hash) that
-- lets the open app find pending requests when no push arrives.
ALTER TABLE terminals ADD COLUMN push_endpoint TEXT;
ALTER TABLE terminals ADD COLUMN push_p256dh TEXT;
ALTER TABLE terminals ADD COLUMN push_auth TEXT;
ALTER TABLE terminals ADD COLUMN device_token_hash TEXT;
CREATE UNIQUE INDEX terminals_device_token ON terminals (device_token_hash);

-- One-time links (10 minutes) that a phone opens to be added, shown as a QR code.
CREATE TABLE phone_links (
    token_hash  TEXT    PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    expires_ms  BIGINT NOT NULL,
    used_ms     BIGINT
);

-- Sign-ins waiting for the phone: the number the sign-in page shows, the three the phone
-- offers, two minutes to answer. 'approved' by the phone, then 'used' once by the sign-in.
CREATE TABLE approvals (
    id          TEXT    PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    session_id  BIGINT NOT NULL,
    number      BIGINT NOT NULL,
    choices     TEXT    NOT NULL,
    ip          TEXT,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'refused', 'used')),
    terminal_id BIGINT
);
CREATE INDEX approvals_account ON approvals (account_id, status);
