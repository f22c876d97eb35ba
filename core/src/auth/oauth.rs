//! Hygie as an OAuth 2.0 authorization server (RFC 6749) for the software that reaches a
//! mailbox without a browser session: mail clients over IMAP and SMTP submission, business
//! software through the Web Services API. Never with the password alone: a holder grants a
//! client access on the web, after a full sign-in, and the client then holds a refresh token and
//! short-lived access tokens.
//!
//! Here: the clients the operator registers, the device authorization grant (RFC 8628: the
//! software shows a code, the holder types it in "Appareils et logiciels" and approves), the
//! authorization code grant with PKCE for software with a browser (`oauth/code.rs`), refresh
//! tokens rotated at each use (a replayed one revokes its grant, RFC 9700 §4.14), access tokens
//! checked by every channel into the same [`Holder`] as the webmail, and the holder's list of
//! granted clients, each revocable. Tokens are kept as hashes only; every decision is recorded in
//! the audit trail in the same transaction.

use sha2::{Digest, Sha256};

use crate::audit::{AuditTx, Outcome};
use crate::auth::holder::{AccountStatus, Holder, HolderDenied};
use crate::auth::session::Level;
use crate::clock::{Clock, Millis};
use crate::notify;
use crate::outbox::OutboxTx;
use crate::ratelimit::{self, Decision, Limit};
use crate::store::{BeginWrite, Db, StoreError};

/// The one scope so far: the holder's mail, through every channel.
pub const SCOPE_MAIL: &str = "mail";
/// An access token's life.
pub const ACCESS_TTL_MS: Millis = 15 * 60_000;
/// A device authorization request waits this long for the holder.
pub const DEVICE_TTL_MS: Millis = 10 * 60_000;
/// How often a device may ask whether the holder decided (seconds); more often is "slow_down".
pub const POLL_INTERVAL_S: i64 = 5;
/// A grant unused for this long ends (its refresh token no longer works).
pub const GRANT_IDLE_MS: Millis = 90 * 24 * 3_600_000;
/// User codes one holder may type in ten minutes (guessing one is 1 in 20^8 per try).
pub const USER_CODE_TRIES: Limit = Limit { max: 10, window_ms: 10 * 60_000 };
/// Longest client name.
pub const NAME_MAX: usize = 80;
/// A grant's last use is written at most this often (not one write per API call).
const LAST_USE_EVERY_MS: Millis = 60_000;
/// RFC 8628 §6.1: consonants only, no vowel (no word), no look-alike.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Why an OAuth request fails. [`OAuthError::code`] is the RFC 6749 §5.2 / RFC 8628 §3.5
/// error code the token endpoint answers.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("the request is missing a parameter or has a bad one: {0}")]
    InvalidRequest(&'static str),
    #[error("unknown or disabled client")]
    InvalidClient,
    #[error("the grant is not valid, expired or revoked")]
    InvalidGrant,
    #[error("the client may not use this grant type")]
    UnauthorizedClient,
    #[error("unsupported grant type")]
    UnsupportedGrantType,
    #[error("unknown scope")]
    InvalidScope,
    #[error("the holder has not decided yet")]
    AuthorizationPending,
    #[error("polling too often")]
    SlowDown,
    #[error("the holder refused")]
    AccessDenied,
    #[error("the device code expired")]
    ExpiredToken,
    /// The user code typed on the web is unknown, expired or already used.
    #[error("no such code")]
    UnknownCode,
    /// Too many user codes typed: wait.
    #[error("too many attempts")]
    TooManyAttempts { retry_after_ms: Millis },
    #[error(transparent)]
    Denied(#[from] HolderDenied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        OAuthError::Store(e.into())
    }
}

impl OAuthError {
    /// The error code of the token endpoint's answer.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant | OAuthError::UnknownCode => "invalid_grant",
            OAuthError::UnauthorizedClient => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope => "invalid_scope",
            OAuthError::AuthorizationPending => "authorization_pending",
            OAuthError::SlowDown | OAuthError::TooManyAttempts { .. } => "slow_down",
            OAuthError::AccessDenied | OAuthError::Denied(_) => "access_denied",
            OAuthError::ExpiredToken => "expired_token",
            OAuthError::Store(_) => "server_error",
        }
    }
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Client {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    /// `public` or `confidential`.
    pub kind: String,
}

/// What a client got from the token endpoint. The tokens are shown once and kept as hashes.
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in_s: i64,
    pub scope: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("expires_in_s", &self.expires_in_s).field("scope", &self.scope).finish()
    }
}

/// The device authorization endpoint's answer (RFC 8628 §3.2).
pub struct DeviceAuthorization {
    pub device_code: String,
    /// As the holder types it: `XXXX-XXXX`.
    pub user_code: String,
    pub expires_in_s: i64,
    pub interval_s: i64,
}

/// A device request as the approval page shows it before the holder decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDevice {
    pub user_code: String,
    pub client_name: String,
    pub scope: String,
    pub expires_ms: Millis,
}

/// A client the holder granted access, as "Appareils et logiciels" lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Grant {
    pub id: i64,
    pub client_name: String,
    pub scope: String,
    pub created_ms: Millis,
    pub last_used_ms: Millis,
}

/// Whose access token it is: the holder every channel acts as, and the grant it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    pub holder: Holder,
    pub grant_id: i64,
    pub client_name: String,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(format!("hygie-oauth-v1|{token}").as_bytes()))
}

fn check_scope(scope: Option<&str>) -> Result<String, OAuthError> {
    let scope = scope.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(SCOPE_MAIL);
    if scope.split_ascii_whitespace().all(|s| s == SCOPE_MAIL) {
        Ok(SCOPE_MAIL.to_string())
    } else {
        Err(OAuthError::InvalidScope)
    }
}

/// A user code as typed: letters of the alphabet only, upper case, any separators dropped.
pub fn normalise_user_code(typed: &str) -> String {
    typed.chars().filter(|c| c.is_ascii_alphabetic()).map(|c| c.to_ascii_uppercase()).collect()
}

fn new_user_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..8).map(|_| USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())] as char).collect()
}

/// `ABCDEFGH` as `ABCD-EFGH`.
pub fn display_user_code(code: &str) -> String {
    if code.len() == 8 {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_string()
    }
}

/// Registers a public client (mail clients, software on the professional's PC) for the device
/// grant, without redirect URIs ([`register_native_client`] for the authorization code grant).
/// Recorded as `actor` (the operator's command). Returns the client with its new `client_id`.
pub async fn register_public_client(
    db: &Db,
    clock: &dyn Clock,
    name: &str,
    actor: crate::audit::Actor,
) -> Result<Client, OAuthError> {
    register_native_client(db, clock, name, &[], actor).await
}

/// A confidential client as registered: its `client_id`, and its secret, shown this once.
pub struct ServiceClient {
    pub client: Client,
    pub client_secret: String,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient").field("client", &self.client).finish_non_exhaustive()
    }
}

/// Registers a confidential client for the server of an applicative or organisational mailbox
/// (`address`, of type APP or ORG): it gets access tokens for that mailbox alone with the client
/// credentials grant. Recorded as `actor` (the operator's command). The secret is returned this
/// once and kept as a hash.
pub async fn register_service_client(
    db: &Db,
    clock: &dyn Clock,
    name: &str,
    address: &str,
    actor: crate::audit::Actor,
) -> Result<ServiceClient, OAuthError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(OAuthError::InvalidRequest("name"));
    }
    let account = crate::accounts::find_by_address(db, address).await?.ok_or(OAuthError::InvalidRequest("account"))?;
    if account.mailbox_type == "personal" {
        // A person's mailbox is reached only with the person's own consent (device grant).
        return Err(OAuthError::InvalidRequest("account"));
    }
    let now = clock.now_ms();
    let client_id = format!("hygie-{}", crate::random_hex(12));
    let client_secret = format!("hycs_{}", crate::random_hex(32));
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO oauth_clients (client_id, name, kind, secret_hash, account_id, created_ms) \
             VALUES ($1, $2, 'confidential', $3, $4, $5) RETURNING id")
            .bind(&client_id).bind(name).bind(hash(&client_secret)).bind(account.id).bind(now)
            .fetch_one(&mut *tx).await?;
        let event = crate::audit::AuditEvent::new(actor, "oauth.client.register", Outcome::Success)
            .object(format!("client:{client_id} account:{}", account.id));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        ServiceClient {
            client: Client { id, client_id, name: name.to_string(), kind: "confidential".into() },
            client_secret,
        }
    }))
}

/// The client credentials grant (RFC 6749 §4.4) for a confidential client: an access token for
/// the mailbox it was registered for, while that mailbox is active and its holder has not
/// withdrawn the client ("Logiciels et clients connectés"). No refresh token: the client asks
/// again. A wrong secret is "invalid_client", as an unknown client.
pub async fn client_credentials(
    db: &Db,
    clock: &dyn Clock,
    client_id: &str,
    client_secret: &str,
    scope: Option<&str>,
    ip: Option<String>,
) -> Result<Tokens, OAuthError> {
    let scope = check_scope(scope)?;
    let row: Option<(i64, Option<i64>)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, account_id FROM oauth_clients WHERE client_id = $1 AND kind = 'confidential' \
         AND secret_hash = $2 AND disabled_ms IS NULL")
        .bind(client_id).bind(hash(client_secret)).fetch_optional(p).await?);
    let Some((client, Some(account))) = row else { return Err(OAuthError::InvalidClient) };
    let active = crate::accounts::get(db, account)
        .await?
        .is_some_and(|a| AccountStatus::parse(&a.status) == Some(AccountStatus::Active));
    if !active {
        return Err(OAuthError::InvalidGrant);
    }
    let now = clock.now_ms();
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let existing: Option<(i64, Option<Millis>)> = sqlx::query_as(
            "SELECT id, revoked_ms FROM oauth_grants WHERE client_id = $1 AND account_id = $2 ORDER BY id DESC LIMIT 1")
            .bind(client).bind(account).fetch_optional(&mut *tx).await?;
        let (grant, created) = match existing {
            Some((_, Some(_))) => return Err(OAuthError::InvalidGrant),
            Some((grant, None)) => {
                sqlx::query("UPDATE oauth_grants SET last_used_ms = $1, last_ip = $2 WHERE id = $3")
                    .bind(now).bind(&ip).bind(grant).execute(&mut *tx).await?;
                (grant, false)
            }
            None => {
                let grant: i64 = sqlx::query_scalar(
                    "INSERT INTO oauth_grants (account_id, client_id, scope, created_ms, last_used_ms, last_ip) \
                     VALUES ($1, $2, $3, $4, $4, $5) RETURNING id")
                    .bind(account).bind(client).bind(&scope).bind(now).bind(&ip).fetch_one(&mut *tx).await?;
                (grant, true)
            }
        };
        let access = tx.issue_access_in(grant, now).await?;
        let action = if created { "oauth.grant.create" } else { "oauth.token" };
        let event = crate::audit::AuditEvent::new(crate::audit::Actor::Account(account.to_string()), action, Outcome::Success)
            .ip(ip)
            .object(format!("grant:{grant} client:{client_id}"));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        Ok(Tokens { access_token: access, refresh_token: None, expires_in_s: ACCESS_TTL_MS / 1000, scope })
    })
}

/// The registered clients, oldest first.
pub async fn clients(db: &Db) -> Result<Vec<Client>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, client_id, name, kind FROM oauth_clients WHERE disabled_ms IS NULL ORDER BY id")
        .fetch_all(p).await?))
}

async fn client(db: &Db, client_id: &str) -> Result<Client, OAuthError> {
    let c: Option<Client> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, client_id, name, kind FROM oauth_clients WHERE client_id = $1 AND disabled_ms IS NULL")
        .bind(client_id).fetch_optional(p).await?);
    c.ok_or(OAuthError::InvalidClient)
}

/// Starts a device authorization (RFC 8628 §3.1) for a public client.
pub async fn device_start(
    db: &Db,
    clock: &dyn Clock,
    client_id: &str,
    scope: Option<&str>,
) -> Result<DeviceAuthorization, OAuthError> {
    let c = client(db, client_id).await?;
    if c.kind != "public" {
        return Err(OAuthError::UnauthorizedClient);
    }
    let scope = check_scope(scope)?;
    let now = clock.now_ms();
    let device_code = crate::random_hex(32);
    // A collision of user codes among the live ones is unlikely (20^8); try again if it happens.
    for _ in 0..5 {
        let user_code = new_user_code();
        let inserted = crate::with_pool!(db, p => sqlx::query(
            "INSERT INTO oauth_device_codes (device_hash, user_code, client_id, scope, created_ms, expires_ms, interval_s) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_code) DO NOTHING")
            .bind(hash(&device_code)).bind(&user_code).bind(c.id).bind(&scope).bind(now)
            .bind(now + DEVICE_TTL_MS).bind(POLL_INTERVAL_S).execute(p).await?.rows_affected());
        if inserted == 1 {
            return Ok(DeviceAuthorization {
                device_code,
                user_code: display_user_code(&user_code),
                expires_in_s: DEVICE_TTL_MS / 1000,
                interval_s: POLL_INTERVAL_S,
            });
        }
    }
    Err(OAuthError::Store(StoreError::Other("no free user code".into())))
}

/// What a user code asks, for the holder to decide. Typing codes is limited per holder.
pub async fn device_pending(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    typed: &str,
) -> Result<PendingDevice, OAuthError> {
    holder.require(Level::Full)?;
    let now = clock.now_ms();
    let key = format!("oauth-user-code:{}", holder.account_id);
    if let Decision::Limited { retry_after_ms } = ratelimit::hit(db, clock, &key, USER_CODE_TRIES).await? {
        return Err(OAuthError::TooManyAttempts { retry_after_ms });
    }
    let code = normalise_user_code(typed);
    let row: Option<(String, String, Millis)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT c.name, d.scope, d.expires_ms FROM oauth_device_codes d JOIN oauth_clients c ON c.id = d.client_id \
         WHERE d.user_code = $1 AND d.decided_ms IS NULL AND d.expires_ms > $2 AND c.disabled_ms IS NULL")
        .bind(&code).bind(now).fetch_optional(p).await?);
    let (client_name, scope, expires_ms) = row.ok_or(OAuthError::UnknownCode)?;
    Ok(PendingDevice { user_code: display_user_code(&code), client_name, scope, expires_ms })
}

/// The holder approves or refuses the device request of `typed`. Recorded; an approval tells
/// the holder at their notification address, in the same transaction.
pub async fn device_decide(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    typed: &str,
    approve: bool,
) -> Result<(), OAuthError> {
    holder.require(Level::Full)?;
    let now = clock.now_ms();
    let code = normalise_user_code(typed);
    let account = crate::accounts::get(db, holder.account_id).await?.ok_or(OAuthError::UnknownCode)?;
    let client_name: Option<String> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT c.name FROM oauth_device_codes d JOIN oauth_clients c ON c.id = d.client_id WHERE d.user_code = $1")
        .bind(&code).fetch_optional(p).await?);
    let client_name = client_name.ok_or(OAuthError::UnknownCode)?;
    let notice = notify::client_granted(&account.notification_email, &account.address, &client_name);
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE oauth_device_codes SET account_id = $1, approved = $2, decided_ms = $3 \
             WHERE user_code = $4 AND decided_ms IS NULL AND expires_ms > $3 RETURNING id")
            .bind(holder.account_id).bind(approve).bind(now).bind(&code).fetch_optional(&mut *tx).await?;
        let Some(id) = id else { return Err(OAuthError::UnknownCode) };
        if approve {
            tx.enqueue_in(now, &notice).await?;
        }
        let action = if approve { "oauth.device.approve" } else { "oauth.device.refuse" };
        tx.append_audit(db.audit_key(), now, &holder.event(action, Outcome::Success).object(format!("device:{id}"))).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// The device asks for its tokens (RFC 8628 §3.4). Once approved, the first poll creates the
/// grant and gets the tokens; the device code is then used up.
pub async fn device_poll(
    db: &Db,
    clock: &dyn Clock,
    client_id: &str,
    device_code: &str,
    ip: Option<String>,
) -> Result<Tokens, OAuthError> {
    let c = client(db, client_id).await?;
    let now = clock.now_ms();
    type Row = (i64, i64, String, Millis, i64, Option<Millis>, Option<i64>, Option<bool>, Option<Millis>);
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, client_id, scope, expires_ms, interval_s, last_poll_ms, account_id, approved, consumed_ms \
             FROM oauth_device_codes WHERE device_hash = $1")
            .bind(hash(device_code)).fetch_optional(&mut *tx).await?;
        let Some((id, owner, scope, expires_ms, interval_s, last_poll, account, approved, consumed)) = row else {
            return Err(OAuthError::InvalidGrant);
        };
        if owner != c.id || consumed.is_some() {
            return Err(OAuthError::InvalidGrant);
        }
        if expires_ms <= now {
            return Err(OAuthError::ExpiredToken);
        }
        sqlx::query("UPDATE oauth_device_codes SET last_poll_ms = $1 WHERE id = $2").bind(now).bind(id).execute(&mut *tx).await?;
        let too_soon = last_poll.is_some_and(|t| now - t < interval_s * 1000);
        let outcome = match (approved, account) {
            (None, _) if too_soon => Err(OAuthError::SlowDown),
            (None, _) => Err(OAuthError::AuthorizationPending),
            (Some(false), _) => Err(OAuthError::AccessDenied),
            (Some(true), Some(account)) => Ok(account),
            (Some(true), None) => Err(OAuthError::InvalidGrant),
        };
        let account = match outcome {
            Ok(a) => a,
            Err(e) => {
                tx.commit().await?;
                return Err(e);
            }
        };
        sqlx::query("UPDATE oauth_device_codes SET consumed_ms = $1 WHERE id = $2").bind(now).bind(id).execute(&mut *tx).await?;
        let refresh = format!("hyrt_{}", crate::random_hex(32));
        let grant: i64 = sqlx::query_scalar(
            "INSERT INTO oauth_grants (account_id, client_id, scope, refresh_hash, created_ms, last_used_ms, last_ip) \
             VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id")
            .bind(account).bind(c.id).bind(&scope).bind(hash(&refresh)).bind(now).bind(&ip).fetch_one(&mut *tx).await?;
        let access = tx.issue_access_in(grant, now).await?;
        let event = crate::audit::AuditEvent::new(crate::audit::Actor::Account(account.to_string()), "oauth.grant.create", Outcome::Success)
            .ip(ip)
            .object(format!("grant:{grant} client:{} device:{id}", c.client_id));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        Ok(Tokens { access_token: access, refresh_token: Some(refresh), expires_in_s: ACCESS_TTL_MS / 1000, scope })
    })
}

/// Writes a new access token of `grant` in the caller's transaction (expired ones of the grant
/// go as a new one comes) and returns it.
trait TokenTx {
    fn issue_access_in(
        &mut self,
        grant: i64,
        now: Millis,
    ) -> impl std::future::Future<Output = Result<String, sqlx::Error>> + Send;
}

macro_rules! impl_token_tx {
    ($conn:ty) => {
        impl TokenTx for $conn {
            async fn issue_access_in(&mut self, grant: i64, now: Millis) -> Result<String, sqlx::Error> {
                let access = format!("hyat_{}", crate::random_hex(32));
                sqlx::query("DELETE FROM oauth_tokens WHERE grant_id = $1 AND expires_ms <= $2")
                    .bind(grant)
                    .bind(now)
                    .execute(&mut *self)
                    .await?;
                sqlx::query("INSERT INTO oauth_tokens (token_hash, grant_id, expires_ms) VALUES ($1, $2, $3)")
                    .bind(hash(&access))
                    .bind(grant)
                    .bind(now + ACCESS_TTL_MS)
                    .execute(&mut *self)
                    .await?;
                Ok(access)
            }
        }
    };
}

impl_token_tx!(sqlx::SqliteConnection);
impl_token_tx!(sqlx::PgConnection);

/// A new access token and a new refresh token for a refresh token (RFC 6749 §6). The refresh
/// token changes at each use; presenting the one before (stolen and used by someone else, or
/// replayed) revokes the grant.
pub async fn refresh(
    db: &Db,
    clock: &dyn Clock,
    client_id: &str,
    refresh_token: &str,
    ip: Option<String>,
) -> Result<Tokens, OAuthError> {
    let c = client(db, client_id).await?;
    let now = clock.now_ms();
    let h = hash(refresh_token);
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let current: Option<(i64, i64, String, Millis)> = sqlx::query_as(
            "SELECT g.id, g.account_id, g.scope, g.last_used_ms FROM oauth_grants g JOIN accounts a ON a.id = g.account_id \
             WHERE g.refresh_hash = $1 AND g.client_id = $2 AND g.revoked_ms IS NULL AND a.status = 'active'")
            .bind(&h).bind(c.id).fetch_optional(&mut *tx).await?;
        let Some((grant, account, scope, last_used)) = current else {
            // A replayed refresh token: the grant it belonged to ends.
            let replayed: Option<(i64, i64)> = sqlx::query_as(
                "UPDATE oauth_grants SET revoked_ms = $1 WHERE old_refresh_hash = $2 AND revoked_ms IS NULL RETURNING id, account_id")
                .bind(now).bind(&h).fetch_optional(&mut *tx).await?;
            if let Some((grant, account)) = replayed {
                sqlx::query("DELETE FROM oauth_tokens WHERE grant_id = $1").bind(grant).execute(&mut *tx).await?;
                let event = crate::audit::AuditEvent::new(crate::audit::Actor::Account(account.to_string()), "oauth.grant.revoke", Outcome::Denied("refresh_replayed".into()))
                    .ip(ip).object(format!("grant:{grant}"));
                tx.append_audit(db.audit_key(), now, &event).await?;
                tx.commit().await?;
            }
            return Err(OAuthError::InvalidGrant);
        };
        if now - last_used > GRANT_IDLE_MS {
            return Err(OAuthError::InvalidGrant);
        }
        let next = format!("hyrt_{}", crate::random_hex(32));
        sqlx::query("UPDATE oauth_grants SET refresh_hash = $1, old_refresh_hash = $2, last_used_ms = $3, last_ip = $4 WHERE id = $5")
            .bind(hash(&next)).bind(&h).bind(now).bind(&ip).bind(grant).execute(&mut *tx).await?;
        let access = tx.issue_access_in(grant, now).await?;
        let event = crate::audit::AuditEvent::new(crate::audit::Actor::Account(account.to_string()), "oauth.refresh", Outcome::Success)
            .ip(ip).object(format!("grant:{grant}"));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        Ok(Tokens { access_token: access, refresh_token: Some(next), expires_in_s: ACCESS_TTL_MS / 1000, scope })
    })
}

/// The holder an access token acts for, or `None` when it is unknown, expired or revoked, or
/// its account is no longer active. Every channel (API, IMAP, SMTP submission) calls this.
pub async fn authenticate(
    db: &Db,
    clock: &dyn Clock,
    access_token: &str,
    ip: Option<String>,
) -> Result<Option<Bearer>, StoreError> {
    let now = clock.now_ms();
    let row: Option<(i64, i64, String, Millis)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT g.id, g.account_id, c.name, g.last_used_ms FROM oauth_tokens t \
         JOIN oauth_grants g ON g.id = t.grant_id JOIN oauth_clients c ON c.id = g.client_id \
         WHERE t.token_hash = $1 AND t.expires_ms > $2 AND g.revoked_ms IS NULL AND c.disabled_ms IS NULL")
        .bind(hash(access_token)).bind(now).fetch_optional(p).await?);
    let Some((grant_id, account, client_name, last_used)) = row else { return Ok(None) };
    let Some(holder) = Holder::resolve(db, account, Level::Full, None, ip.clone()).await? else { return Ok(None) };
    if now - last_used >= LAST_USE_EVERY_MS {
        crate::with_pool!(db, p => sqlx::query("UPDATE oauth_grants SET last_used_ms = $1, last_ip = $2 WHERE id = $3 AND last_used_ms < $1")
            .bind(now).bind(&ip).bind(grant_id).execute(p).await?.rows_affected());
    }
    Ok(Some(Bearer { holder, grant_id, client_name }))
}

/// Failed authentications of mail clients (IMAP, SMTP submission) one address may make in ten
/// minutes, every instance and both protocols together.
pub const SASL_FAILURES: Limit = Limit { max: 10, window_ms: 600_000 };

/// Why a mail client's SASL authentication is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslRefusal {
    /// Not a bearer token response, an unknown, expired or revoked token, or a token presented
    /// under another address than its holder's.
    Invalid,
    /// The holder must first accept the terms of use in force, in the webmail.
    TermsPending,
    /// Too many failures from this address: wait ([`SASL_FAILURES`]).
    TooManyFailures,
}

/// What a client said in SASL OAUTHBEARER (RFC 7628: `n,a=USER,^Aauth=Bearer TOKEN^A^A`) or
/// XOAUTH2 (`user=USER^Aauth=Bearer TOKEN^A^A`), decoded from base64: the user it names, if
/// any, and the token. `None` for anything else (a password never is a bearer token).
pub fn sasl_bearer(response: &[u8]) -> Option<(Option<String>, String)> {
    let text = std::str::from_utf8(response).ok()?;
    let (mut user, mut token) = (None, None);
    for (i, field) in text.split('\u{1}').enumerate() {
        if let Some(u) = field.strip_prefix("user=") {
            user = Some(u.to_string());
        } else if let Some(value) = field.strip_prefix("auth=") {
            let (scheme, t) = value.split_once(' ')?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return None;
            }
            token = Some(t.trim().to_string());
        } else if i == 0 && (field.starts_with("n,") || field.starts_with("y,")) {
            // OAUTHBEARER's GS2 header.
            user = field
                .split(',')
                .find_map(|kv| kv.strip_prefix("a="))
                .map(|u| u.replace("=2C", ",").replace("=3D", "="));
        } else if i == 0 && !field.is_empty() {
            return None;
        }
    }
    let token = token.filter(|t| !t.is_empty())?;
    Some((user.filter(|u| !u.is_empty()), token))
}

/// A mail client authenticates (IMAP, SMTP submission) with SASL OAUTHBEARER or XOAUTH2: the
/// token must be valid, its holder able to act fully, and the user the client names (if it
/// names one) that holder. Failures are counted per client address; past [`SASL_FAILURES`]
/// nothing is checked until the window ends.
pub async fn authenticate_sasl(
    db: &Db,
    clock: &dyn Clock,
    response: &[u8],
    ip: &str,
) -> Result<Result<Bearer, SaslRefusal>, StoreError> {
    let key = format!("sasl-failure:{}", ratelimit::ip_key(ip));
    if let Decision::Limited { .. } = ratelimit::peek(db, clock, &key, SASL_FAILURES).await? {
        return Ok(Err(SaslRefusal::TooManyFailures));
    }
    let verdict = match sasl_bearer(response) {
        None => Err(SaslRefusal::Invalid),
        Some((user, token)) => match authenticate(db, clock, &token, Some(ip.to_string())).await? {
            None => Err(SaslRefusal::Invalid),
            Some(b) if user.is_some_and(|u| !u.eq_ignore_ascii_case(&b.holder.address)) => Err(SaslRefusal::Invalid),
            Some(b) if b.holder.require(Level::Full).is_err() => Err(SaslRefusal::TermsPending),
            Some(b) => Ok(b),
        },
    };
    if verdict == Err(SaslRefusal::Invalid) {
        ratelimit::hit(db, clock, &key, SASL_FAILURES).await?;
    }
    Ok(verdict)
}

/// The clients the holder granted access, most recently used first.
pub async fn grants(db: &Db, holder: &Holder) -> Result<Vec<Grant>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT g.id, c.name AS client_name, g.scope, g.created_ms, g.last_used_ms FROM oauth_grants g \
         JOIN oauth_clients c ON c.id = g.client_id WHERE g.account_id = $1 AND g.revoked_ms IS NULL \
         ORDER BY g.last_used_ms DESC, g.id DESC")
        .bind(holder.account_id).fetch_all(p).await?))
}

/// The holder withdraws a client's access: its refresh token and access tokens stop working at
/// once. Recorded.
pub async fn revoke(db: &Db, clock: &dyn Clock, holder: &Holder, grant_id: i64) -> Result<(), OAuthError> {
    holder.require(Level::Full)?;
    let now = clock.now_ms();
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let n = sqlx::query("UPDATE oauth_grants SET revoked_ms = $1 WHERE id = $2 AND account_id = $3 AND revoked_ms IS NULL")
            .bind(now).bind(grant_id).bind(holder.account_id).execute(&mut *tx).await?.rows_affected();
        if n != 1 {
            return Err(OAuthError::InvalidGrant);
        }
        sqlx::query("DELETE FROM oauth_tokens WHERE grant_id = $1").bind(grant_id).execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), now, &holder.event("oauth.grant.revoke", Outcome::Success).object(format!("grant:{grant_id}"))).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Token revocation by the client itself (RFC 7009): a refresh token ends its grant, an access
/// token ends itself. An unknown token is no error (the answer is the same).
pub async fn revoke_token(
    db: &Db,
    clock: &dyn Clock,
    client_id: &str,
    token: &str,
    ip: Option<String>,
) -> Result<(), OAuthError> {
    let c = client(db, client_id).await?;
    let now = clock.now_ms();
    let h = hash(token);
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let grant: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE oauth_grants SET revoked_ms = $1 WHERE refresh_hash = $2 AND client_id = $3 AND revoked_ms IS NULL RETURNING id, account_id")
            .bind(now).bind(&h).bind(c.id).fetch_optional(&mut *tx).await?;
        if let Some((grant, account)) = grant {
            sqlx::query("DELETE FROM oauth_tokens WHERE grant_id = $1").bind(grant).execute(&mut *tx).await?;
            let event = crate::audit::AuditEvent::new(crate::audit::Actor::Account(account.to_string()), "oauth.grant.revoke", Outcome::Success)
                .ip(ip).object(format!("grant:{grant} by:client"));
            tx.append_audit(db.audit_key(), now, &event).await?;
        } else {
            sqlx::query("DELETE FROM oauth_tokens WHERE token_hash = $1 AND grant_id IN (SELECT id FROM oauth_grants WHERE client_id = $2)")
                .bind(&h).bind(c.id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

mod code;
pub use code::*;
#[cfg(test)]
mod code_tests;

/// How long an expired device request is kept: its software, polling late, is told
/// `expired_token` rather than `invalid_grant`.
const DEVICE_CODE_KEPT_MS: Millis = 86_400_000;

/// Housekeeping: removes access tokens past their time, and device requests and authorization
/// codes a day past theirs (a late poll is told `expired_token`; a code replayed within the day
/// still revokes its grant). None can be used any more; grants (what the holder sees and
/// revokes) stay.
pub async fn purge_expired(db: &Db, clock: &dyn Clock) -> Result<u64, StoreError> {
    let now = clock.now_ms();
    Ok(crate::with_pool!(db, p => {
        let tokens = sqlx::query("DELETE FROM oauth_tokens WHERE expires_ms <= $1").bind(now).execute(p).await?;
        let devices = sqlx::query("DELETE FROM oauth_device_codes WHERE expires_ms <= $1")
            .bind(now - DEVICE_CODE_KEPT_MS)
            .execute(p)
            .await?;
        let codes = sqlx::query("DELETE FROM oauth_codes WHERE expires_ms <= $1")
            .bind(now - DEVICE_CODE_KEPT_MS)
            .execute(p)
            .await?;
        tokens.rows_affected() + devices.rows_affected() + codes.rows_affected()
    }))
}

#[cfg(test)]
mod tests;
