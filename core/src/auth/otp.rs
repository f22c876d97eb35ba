//! One-time codes: six digits from the OS CSPRNG, valid 10 minutes, usable once, stored hashed
//! (SHA-256 over a per-challenge salt, the challenge id and the code), 5 attempts. Resending is
//! limited and never resets the failure count: a new code replaces the old one in the same
//! challenge, attempts included.

use rand::Rng;
use sha2::{Digest, Sha256};

use crate::clock::{Clock, Millis};
use crate::store::{Db, StoreError};

pub const CODE_TTL_MS: Millis = 10 * 60_000;
pub const MAX_ATTEMPTS: i64 = 5;
pub const MAX_RESENDS: i64 = 3;
pub const RESEND_INTERVAL_MS: Millis = 30_000;

/// A code to send. Not `Debug` or `Clone`: it goes to the outbox and nowhere else.
pub struct OtpCode(String);

impl OtpCode {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn new_code() -> OtpCode {
    OtpCode(format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32)))
}

fn code_hash(challenge_id: i64, salt: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("hygie-otp-v1|{challenge_id}|{salt}|{code}").as_bytes()))
}

/// Stored as `salt$hash`.
fn stored(challenge_id: i64, code: &str) -> String {
    let salt = crate::random_hex(16);
    format!("{salt}${}", code_hash(challenge_id, &salt, code))
}

fn matches(challenge_id: i64, stored: &str, code: &str) -> bool {
    let Some((salt, hash)) = stored.split_once('$') else { return false };
    let candidate = code_hash(challenge_id, salt, code);
    // Constant-time comparison of two hex strings of equal length.
    candidate.len() == hash.len() && candidate.bytes().zip(hash.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    Ok,
    Wrong {
        attempts_left: i64,
    },
    /// Too many attempts, expired, used, or unknown: a new sign-in must start over.
    Dead,
}

/// A challenge's purpose, channel and payload, if it is still live.
pub async fn describe(
    db: &Db,
    clock: &dyn Clock,
    challenge_id: i64,
    account_id: i64,
) -> Result<Option<(String, String, Option<String>)>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT purpose, channel, payload FROM otp_challenges WHERE id = $1 AND account_id = $2 AND used_ms IS NULL \
         AND expires_ms > $3 AND attempts < $4")
        .bind(challenge_id).bind(account_id).bind(clock.now_ms()).bind(MAX_ATTEMPTS).fetch_optional(p).await?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    Sent,
    TooSoon { retry_after_ms: Millis },
    LimitReached,
    Dead,
}

/// Starts a challenge for `account_id`; returns its id and the code to send.
pub async fn start(
    db: &Db,
    clock: &dyn Clock,
    account_id: i64,
    purpose: &str,
    channel: &str,
) -> Result<(i64, OtpCode), StoreError> {
    start_with_payload(db, clock, account_id, purpose, channel, None).await
}

/// Starts a challenge that confirms `payload` (a new email address or mobile number).
pub async fn start_with_payload(
    db: &Db,
    clock: &dyn Clock,
    account_id: i64,
    purpose: &str,
    channel: &str,
    payload: Option<&str>,
) -> Result<(i64, OtpCode), StoreError> {
    let now = clock.now_ms();
    let code = new_code();
    let id: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "INSERT INTO otp_challenges (account_id, purpose, channel, code_hash, created_ms, expires_ms, last_sent_ms, payload) \
         VALUES ($1, $2, $3, '', $4, $5, $4, $6) RETURNING id")
        .bind(account_id).bind(purpose).bind(channel).bind(now).bind(now + CODE_TTL_MS).bind(payload)
        .fetch_one(p).await?);
    let h = stored(id, code.expose());
    crate::with_pool!(db, p => { sqlx::query("UPDATE otp_challenges SET code_hash = $1 WHERE id = $2")
        .bind(&h).bind(id).execute(p).await?; });
    Ok((id, code))
}

/// Checks a code typed by the person. Counts the attempt before comparing.
pub async fn verify(
    db: &Db,
    clock: &dyn Clock,
    challenge_id: i64,
    account_id: i64,
    code: &str,
) -> Result<Verify, StoreError> {
    let now = clock.now_ms();
    // Count the attempt atomically, only on a live challenge.
    let row: Option<(String, i64)> = crate::with_pool!(db, p => sqlx::query_as(
        "UPDATE otp_challenges SET attempts = attempts + 1 \
         WHERE id = $1 AND account_id = $2 AND used_ms IS NULL AND expires_ms > $3 AND attempts < $4 \
         RETURNING code_hash, attempts")
        .bind(challenge_id).bind(account_id).bind(now).bind(MAX_ATTEMPTS)
        .fetch_optional(p).await?);
    let Some((hash, attempts)) = row else { return Ok(Verify::Dead) };
    if !matches(challenge_id, &hash, code.trim()) {
        let left = MAX_ATTEMPTS - attempts;
        return Ok(if left > 0 { Verify::Wrong { attempts_left: left } } else { Verify::Dead });
    }
    let used = crate::with_pool!(db, p => sqlx::query("UPDATE otp_challenges SET used_ms = $1 WHERE id = $2 AND used_ms IS NULL")
        .bind(now).bind(challenge_id).execute(p).await?.rows_affected());
    Ok(if used == 1 { Verify::Ok } else { Verify::Dead })
}

/// Replaces the code of a live challenge with a new one, keeping its attempt count and expiry
/// window restarted. Returns the new code when sent.
pub async fn resend(
    db: &Db,
    clock: &dyn Clock,
    challenge_id: i64,
    account_id: i64,
) -> Result<(Resend, Option<OtpCode>), StoreError> {
    resend_via(db, clock, challenge_id, account_id, None).await
}

/// Like `resend`, optionally moving the challenge to another channel (SMS to email).
pub async fn resend_via(
    db: &Db,
    clock: &dyn Clock,
    challenge_id: i64,
    account_id: i64,
    channel: Option<&str>,
) -> Result<(Resend, Option<OtpCode>), StoreError> {
    let now = clock.now_ms();
    let row: Option<(i64, i64, i64, i64, Option<i64>)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT resends, last_sent_ms, expires_ms, attempts, used_ms FROM otp_challenges WHERE id = $1 AND account_id = $2")
        .bind(challenge_id).bind(account_id).fetch_optional(p).await?);
    let Some((resends, last_sent, expires, attempts, used)) = row else { return Ok((Resend::Dead, None)) };
    if used.is_some() || expires <= now || attempts >= MAX_ATTEMPTS {
        return Ok((Resend::Dead, None));
    }
    if resends >= MAX_RESENDS {
        return Ok((Resend::LimitReached, None));
    }
    if now - last_sent < RESEND_INTERVAL_MS {
        return Ok((Resend::TooSoon { retry_after_ms: RESEND_INTERVAL_MS - (now - last_sent) }, None));
    }
    let code = new_code();
    let h = stored(challenge_id, code.expose());
    let n = crate::with_pool!(db, p => sqlx::query(
        "UPDATE otp_challenges SET code_hash = $1, resends = resends + 1, last_sent_ms = $2, expires_ms = $3, \
         channel = COALESCE($6, channel) WHERE id = $4 AND resends = $5")
        .bind(&h).bind(now).bind(now + CODE_TTL_MS).bind(challenge_id).bind(resends).bind(channel)
        .execute(p).await?.rows_affected());
    Ok(if n == 1 { (Resend::Sent, Some(code)) } else { (Resend::LimitReached, None) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{create, AccountRecord, Created};
    use crate::clock::ManualClock;
    use crate::store::testing::TestDb;

    async fn account(db: &Db, clock: &ManualClock) -> i64 {
        let r = AccountRecord {
            address: "a@hygie.example".into(),
            mailbox_type: "personal".into(),
            kind: "other".into(),
            notification_email: "a@exemple.fr".into(),
            ..Default::default()
        };
        let Created::New(id) = create(db, clock, &r).await.unwrap() else { panic!() };
        id
    }

    fn wrong(code: &OtpCode) -> String {
        format!("{:06}", (code.expose().parse::<u32>().unwrap() + 1) % 1_000_000)
    }

    #[test]
    fn codes_are_six_digits_and_hashes_salted() {
        for _ in 0..200 {
            let c = new_code();
            assert_eq!(c.expose().len(), 6);
            assert!(c.expose().bytes().all(|b| b.is_ascii_digit()));
        }
        let a = stored(1, "123456");
        let b = stored(1, "123456");
        assert_ne!(a, b);
        assert!(matches(1, &a, "123456"));
        assert!(!matches(2, &a, "123456"), "bound to its challenge");
        assert!(!matches(1, &a, "123457"));
    }

    #[tokio::test]
    async fn a_code_works_once() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let acc = account(&t.db, &clock).await;
            let (id, code) = start(&t.db, &clock, acc, "signin", "sms").await.unwrap();
            assert_eq!(
                verify(&t.db, &clock, id, acc + 1, code.expose()).await.unwrap(),
                Verify::Dead,
                "another account's challenge"
            );
            assert_eq!(verify(&t.db, &clock, id, acc, code.expose()).await.unwrap(), Verify::Ok);
            assert_eq!(verify(&t.db, &clock, id, acc, code.expose()).await.unwrap(), Verify::Dead, "reuse");
        }
    }

    #[tokio::test]
    async fn expires_after_ten_minutes() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let acc = account(&t.db, &clock).await;
            let (id, code) = start(&t.db, &clock, acc, "signin", "email").await.unwrap();
            clock.advance_ms(CODE_TTL_MS);
            assert_eq!(verify(&t.db, &clock, id, acc, code.expose()).await.unwrap(), Verify::Dead);
        }
    }

    #[tokio::test]
    async fn five_attempts_then_dead_and_resend_does_not_reset_them() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let acc = account(&t.db, &clock).await;
            let (id, code) = start(&t.db, &clock, acc, "signin", "sms").await.unwrap();
            for left in [4, 3] {
                assert_eq!(
                    verify(&t.db, &clock, id, acc, &wrong(&code)).await.unwrap(),
                    Verify::Wrong { attempts_left: left }
                );
            }
            // Too soon to resend, then resent: a new code, the old one dead, attempts kept.
            assert!(matches!(resend(&t.db, &clock, id, acc).await.unwrap().0, Resend::TooSoon { .. }));
            clock.advance_ms(RESEND_INTERVAL_MS);
            let (r, new) = resend(&t.db, &clock, id, acc).await.unwrap();
            assert_eq!(r, Resend::Sent);
            let new = new.unwrap();
            if new.expose() != code.expose() {
                assert_eq!(
                    verify(&t.db, &clock, id, acc, code.expose()).await.unwrap(),
                    Verify::Wrong { attempts_left: 2 }
                );
            } else {
                assert_eq!(
                    verify(&t.db, &clock, id, acc, &wrong(&new)).await.unwrap(),
                    Verify::Wrong { attempts_left: 2 }
                );
            }
            assert_eq!(verify(&t.db, &clock, id, acc, &wrong(&new)).await.unwrap(), Verify::Wrong { attempts_left: 1 });
            assert_eq!(verify(&t.db, &clock, id, acc, &wrong(&new)).await.unwrap(), Verify::Dead);
            // Even the right code is refused now.
            assert_eq!(verify(&t.db, &clock, id, acc, new.expose()).await.unwrap(), Verify::Dead);
            assert_eq!(resend(&t.db, &clock, id, acc).await.unwrap().0, Resend::Dead);
        }
    }

    #[tokio::test]
    async fn resends_are_limited() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let acc = account(&t.db, &clock).await;
            let (id, _) = start(&t.db, &clock, acc, "signin", "sms").await.unwrap();
            for _ in 0..MAX_RESENDS {
                clock.advance_ms(RESEND_INTERVAL_MS);
                assert_eq!(resend(&t.db, &clock, id, acc).await.unwrap().0, Resend::Sent);
            }
            clock.advance_ms(RESEND_INTERVAL_MS);
            assert_eq!(resend(&t.db, &clock, id, acc).await.unwrap().0, Resend::LimitReached);
        }
    }
}
