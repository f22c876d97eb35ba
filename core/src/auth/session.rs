//! Sessions: an opaque 256-bit token in the browser, only its SHA-256 in the database, so that
//! every Hygie instance behind a load balancer sees the same sessions and a stolen database
//! does not hand out live cookies.
//!
//! A session is first `Level::Password` (password verified, waiting for the code, 10 minutes)
//! and is replaced by a `Level::Full` one under a new token once the code is right.

use sha2::{Digest, Sha256};

use crate::clock::{Clock, Millis};
use crate::store::{Db, StoreError};

/// How long a password-verified session waits for its code.
pub const PENDING_TTL_MS: Millis = 10 * 60_000;
/// Longest idle timeout an operator may configure.
pub const MAX_IDLE_MS: Millis = 2 * 3_600_000;
/// `last_seen` is written at most this often, to spare the database.
const TOUCH_EVERY_MS: Millis = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle_ms: Millis,
    pub absolute_ms: Millis,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy { idle_ms: 30 * 60_000, absolute_ms: 12 * 3_600_000 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Password verified; the one-time code is awaited.
    Password = 1,
    /// Signed in with both factors.
    Full = 2,
}

/// A live session, as found from its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub account_id: i64,
    pub level: Level,
    pub created_ms: Millis,
    pub authenticated_ms: Millis,
    pub challenge_id: Option<i64>,
}

/// One line of "my sessions".
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub created_ms: Millis,
    pub last_seen_ms: Millis,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What proved the sign-in (`passkey`, `totp`, `recovery`, `sms`, `email`); none for older
    /// ones, and for a sign-in still waiting for its second factor.
    pub factor: Option<String>,
    /// 1: the password only (waiting for the second factor); 2: signed in.
    pub level: i64,
}

/// A session token to put in the cookie. Not `Debug`: it goes to the browser and nowhere else.
pub struct SessionToken(String);

impl SessionToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(format!("hygie-session-v1|{token}").as_bytes()))
}

pub struct NewSession<'a> {
    pub account_id: i64,
    pub level: Level,
    pub challenge_id: Option<i64>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// For a signed-in session: what proved it besides the password, and the terminal if one did.
    pub factor: Option<(Factor, Option<i64>)>,
}

/// What proved a sign-in besides the password, weakest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// A passkey with user verification: a sign-in on its own, bound to hardware.
    Passkey,
    /// The holder's phone approved it (the right number, confirmed with its device passkey).
    Phone,
    /// An authenticator app's code.
    Totp,
    /// One of the printed recovery codes (the terminal lost).
    Recovery,
    Sms,
    Email,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Passkey => "passkey",
            Factor::Phone => "phone",
            Factor::Totp => "totp",
            Factor::Recovery => "recovery",
            Factor::Sms => "sms",
            Factor::Email => "email",
        }
    }
}

/// Starts a session and returns its id and token.
pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    policy: &SessionPolicy,
    s: NewSession<'_>,
) -> Result<(i64, SessionToken), StoreError> {
    let token = SessionToken(crate::random_hex(32));
    let now = clock.now_ms();
    let expires = now + if s.level == Level::Full { policy.absolute_ms } else { PENDING_TTL_MS };
    let ua: Option<String> = s.user_agent.map(|u| u.chars().take(300).collect());
    let id: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "INSERT INTO sessions (token_hash, account_id, created_ms, last_seen_ms, expires_ms, authenticated_ms, ip, \
         user_agent, level, challenge_id, factor, terminal_id) \
         VALUES ($1, $2, $3, $3, $4, $3, $5, $6, $7, $8, $9, $10) RETURNING id")
        .bind(token_hash(&token.0)).bind(s.account_id).bind(now).bind(expires).bind(s.ip).bind(&ua)
        .bind(s.level as i64).bind(s.challenge_id).bind(s.factor.map(|f| f.0.as_str())).bind(s.factor.and_then(|f| f.1))
        .fetch_one(p).await?);
    Ok((id, token))
}

/// Gives a pending sign-in a one-time code to wait for (the holder chose a code by SMS or email
/// over their authenticator app).
pub async fn attach_challenge(db: &Db, session_id: i64, challenge_id: i64) -> Result<(), StoreError> {
    crate::with_pool!(db, p => sqlx::query("UPDATE sessions SET challenge_id = $1 WHERE id = $2 AND level = 1")
        .bind(challenge_id).bind(session_id).execute(p).await?.rows_affected());
    Ok(())
}

/// Whether a request is the holder's doing, or the page's own (the new-mail poll): only the
/// holder's keep a session from timing out when idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Person,
    Background,
}

/// Finds the live session of `token`: not ended, not past its absolute lifetime, not idle for
/// longer than the policy allows. Records the activity when it is the person's.
pub async fn lookup(
    db: &Db,
    clock: &dyn Clock,
    policy: &SessionPolicy,
    token: &str,
    activity: Activity,
) -> Result<Option<Session>, StoreError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let now = clock.now_ms();
    type Row = (i64, i64, i64, i64, i64, i64, i64, Option<i64>);
    let row: Option<Row> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, account_id, level, created_ms, authenticated_ms, last_seen_ms, expires_ms, challenge_id \
         FROM sessions WHERE token_hash = $1 AND ended_ms IS NULL")
        .bind(token_hash(token)).fetch_optional(p).await?);
    let Some((id, account_id, level, created_ms, authenticated_ms, last_seen, expires, challenge_id)) = row else {
        return Ok(None);
    };
    let idle_ms = policy.idle_ms.min(MAX_IDLE_MS);
    if now >= expires || now - last_seen >= idle_ms {
        end(db, clock, id).await?;
        return Ok(None);
    }
    if activity == Activity::Person && now - last_seen >= TOUCH_EVERY_MS {
        crate::with_pool!(db, p => { sqlx::query("UPDATE sessions SET last_seen_ms = $1 WHERE id = $2")
            .bind(now).bind(id).execute(p).await?; });
    }
    let level = if level >= 2 { Level::Full } else { Level::Password };
    Ok(Some(Session { id, account_id, level, created_ms, authenticated_ms, challenge_id }))
}

/// Ends one session. Returns whether it was live.
pub async fn end(db: &Db, clock: &dyn Clock, id: i64) -> Result<bool, StoreError> {
    let n = crate::with_pool!(db, p => sqlx::query("UPDATE sessions SET ended_ms = $1 WHERE id = $2 AND ended_ms IS NULL")
        .bind(clock.now_ms()).bind(id).execute(p).await?.rows_affected());
    Ok(n == 1)
}

/// Ends every session of an account, but `keep`. Returns how many were ended.
pub async fn end_all(db: &Db, clock: &dyn Clock, account_id: i64, keep: Option<i64>) -> Result<u64, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query(
        "UPDATE sessions SET ended_ms = $1 WHERE account_id = $2 AND ended_ms IS NULL AND id <> $3")
        .bind(clock.now_ms()).bind(account_id).bind(keep.unwrap_or(-1)).execute(p).await?.rows_affected()))
}

/// The account's live sessions, most recent first: signed in, or waiting for their second
/// factor (someone typed the right password: the holder sees it and can end it).
pub async fn list(
    db: &Db,
    clock: &dyn Clock,
    policy: &SessionPolicy,
    account_id: i64,
) -> Result<Vec<SessionRow>, StoreError> {
    let now = clock.now_ms();
    let idle_since = now - policy.idle_ms.min(MAX_IDLE_MS);
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, created_ms, last_seen_ms, ip, user_agent, factor, level FROM sessions \
         WHERE account_id = $1 AND ended_ms IS NULL AND expires_ms > $2 AND last_seen_ms > $3 \
         ORDER BY last_seen_ms DESC, id DESC")
        .bind(account_id).bind(now).bind(idle_since).fetch_all(p).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{create as create_account, AccountRecord, Created};
    use crate::clock::ManualClock;
    use crate::store::testing::TestDb;

    async fn account(db: &Db, clock: &ManualClock) -> i64 {
        let r = AccountRecord {
            address: "s@hygie.example".into(),
            mailbox_type: "personal".into(),
            kind: "other".into(),
            notification_email: "s@exemple.fr".into(),
            ..Default::default()
        };
        let Created::New(id) = create_account(db, clock, &r).await.unwrap() else { panic!() };
        id
    }

    fn full(account_id: i64) -> NewSession<'static> {
        NewSession {
            account_id,
            level: Level::Full,
            challenge_id: None,
            ip: Some("192.0.2.1"),
            user_agent: Some("Firefox"),
            factor: Some((Factor::Sms, None)),
        }
    }

    #[tokio::test]
    async fn idle_and_absolute_limits_end_sessions() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let policy = SessionPolicy::default();
            let acc = account(&t.db, &clock).await;
            let (_, tok) = create(&t.db, &clock, &policy, full(acc)).await.unwrap();
            assert!(lookup(&t.db, &clock, &policy, tok.expose(), Activity::Person).await.unwrap().is_some());
            // Active every 29 minutes for 11 h 36: still alive.
            for _ in 0..24 {
                clock.advance_ms(29 * 60_000);
                assert!(lookup(&t.db, &clock, &policy, tok.expose(), Activity::Person).await.unwrap().is_some());
            }
            // Past 12 hours: ended however active.
            clock.advance_ms(29 * 60_000);
            assert!(lookup(&t.db, &clock, &policy, tok.expose(), Activity::Person).await.unwrap().is_none());

            let (_, idle) = create(&t.db, &clock, &policy, full(acc)).await.unwrap();
            clock.advance_ms(30 * 60_000);
            assert!(
                lookup(&t.db, &clock, &policy, idle.expose(), Activity::Person).await.unwrap().is_none(),
                "30 min idle"
            );
            assert!(lookup(&t.db, &clock, &policy, "zz", Activity::Person).await.unwrap().is_none());

            // The page's own requests (the new-mail poll) do not keep a session alive.
            let (_, polled) = create(&t.db, &clock, &policy, full(acc)).await.unwrap();
            for _ in 0..179 {
                clock.advance_ms(10_000);
                assert!(lookup(&t.db, &clock, &policy, polled.expose(), Activity::Background).await.unwrap().is_some());
            }
            clock.advance_ms(10_000);
            assert!(
                lookup(&t.db, &clock, &policy, polled.expose(), Activity::Background).await.unwrap().is_none(),
                "30 min of polling alone ends the session"
            );
        }
    }

    #[tokio::test]
    async fn ending_sessions() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let policy = SessionPolicy::default();
            let acc = account(&t.db, &clock).await;
            let (a, ta) = create(&t.db, &clock, &policy, full(acc)).await.unwrap();
            let (b, tb) = create(&t.db, &clock, &policy, full(acc)).await.unwrap();
            let (_, tc) = create(&t.db, &clock, &policy, full(acc)).await.unwrap();
            assert_eq!(list(&t.db, &clock, &policy, acc).await.unwrap().len(), 3);
            let holder = |account_id| crate::auth::holder::Holder {
                account_id,
                address: String::new(),
                name: String::new(),
                level: Level::Full,
                terms_accepted: true,
                session: None,
                ip: None,
            };
            let (other, own) = (holder(acc + 1), holder(acc));
            let end_one = |h, id| crate::accounts::settings::end_sessions(&t.db, &clock, h, Some(id));
            assert_eq!(end_one(&other, b).await.unwrap(), 0, "not another account's");
            assert_eq!(end_one(&own, b).await.unwrap(), 1);
            assert!(lookup(&t.db, &clock, &policy, tb.expose(), Activity::Person).await.unwrap().is_none());
            assert_eq!(end_all(&t.db, &clock, acc, Some(a)).await.unwrap(), 1);
            assert!(lookup(&t.db, &clock, &policy, tc.expose(), Activity::Person).await.unwrap().is_none());
            let kept = lookup(&t.db, &clock, &policy, ta.expose(), Activity::Person).await.unwrap().unwrap();
            assert_eq!(kept.level, Level::Full);
            let rows = list(&t.db, &clock, &policy, acc).await.unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].user_agent.as_deref(), Some("Firefox"));
        }
    }
}
