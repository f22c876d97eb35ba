-- Sign-in state: a session is first "password verified" (level 1, waiting for the code) and
-- becomes "signed in" (level 2) under a new token once the code is right.
ALTER TABLE sessions ADD COLUMN level INTEGER NOT NULL DEFAULT 2;
ALTER TABLE sessions ADD COLUMN challenge_id INTEGER;
-- A code confirming a new destination (email, mobile) carries that destination.
ALTER TABLE otp_challenges ADD COLUMN payload TEXT;
-- A password reset link may require the code sent by SMS with it.
ALTER TABLE account_tokens ADD COLUMN challenge_id INTEGER;
CREATE INDEX sessions_expiry ON sessions (expires_ms);
