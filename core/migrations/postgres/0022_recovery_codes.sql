-- Recovery codes: ten single-use codes a holder with a terminal prints and keeps, to sign in or
-- reset the password when the terminal is lost. Only a keyed hash of each is stored.
CREATE TABLE recovery_codes (
    id          BIGSERIAL PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    code_hash   TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    used_ms     BIGINT
);
CREATE INDEX recovery_codes_account ON recovery_codes (account_id);
