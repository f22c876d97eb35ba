-- Web Services API: a send made with an `Idempotency-Key` is recorded here in the same
-- transaction as the send itself, so that a retry with the same key (per holder) gives the
-- first answer and never sends twice. The primary key makes a concurrent retry's transaction
-- fail, and roll back its send, instead of committing a second one. `fingerprint` is a hash of
-- the request: the same key with another request is refused. Kept for 7 days.

CREATE TABLE api_idempotency (
    account_id  BIGINT  NOT NULL REFERENCES accounts (id),
    idem_key    TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    sent_id     BIGINT  NOT NULL,
    created_ms  BIGINT  NOT NULL,
    PRIMARY KEY (account_id, idem_key)
);
CREATE INDEX api_idempotency_created ON api_idempotency (account_id, created_ms);
