//! The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636 with S256 only) for mail
//! clients and software on the professional's computer that have a browser: the software opens
//! `/oauth/authorize`, the holder signs in fully and consents on Hygie's page, the browser goes
//! back to the software's redirect URI with a single-use code, and the software exchanges the
//! code and its PKCE verifier for the same tokens as the device grant gives.
//!
//! Redirect URIs are those registered for the client, exactly; a registered loopback URI
//! (`http://127.0.0.1/path`, `http://[::1]/path`) matches any port (RFC 8252 §7.3), since a
//! native client listens on a port the system gives it. `localhost` gets no such latitude (RFC
//! 8252 §8.3: a name may resolve elsewhere); registered as is, it matches only exactly.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{check_scope, client, hash, Client, OAuthError, TokenTx, Tokens, ACCESS_TTL_MS};
use crate::audit::{AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::auth::session::Level;
use crate::clock::{Clock, Millis};
use crate::notify;
use crate::outbox::OutboxTx;
use crate::store::{BeginWrite, Db};

/// An authorization code's life: long enough for a slow client, short enough to be of little
/// use to whoever reads it later (RFC 6749 §4.1.2 says ten minutes at most).
pub const CODE_TTL_MS: Millis = 2 * 60_000;
/// Longest `state` a client may pass (it comes back in the redirect).
const STATE_MAX: usize = 500;
/// Longest redirect URI.
const REDIRECT_MAX: usize = 500;

/// What `/oauth/authorize` received, as strings (RFC 6749 §4.1.1, RFC 7636 §4.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// A well-formed authorization request of a known client to one of its redirect URIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub code_challenge: String,
}

/// Why an authorization request is refused (RFC 6749 §4.1.2.1).
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// Unknown client, missing or unregistered redirect URI: shown to the holder, never sent
    /// to the URI (it could be anyone's).
    #[error("unknown client or redirect URI not registered for it")]
    Unsafe,
    /// Sent back to the client's redirect URI as `error`, `error_description` and `state`.
    #[error("{error}: {description}")]
    Redirect { redirect_uri: String, error: &'static str, description: &'static str, state: Option<String> },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl AuthorizeError {
    /// Where the browser goes for a redirected error, with its parameters.
    pub fn location(&self) -> Option<String> {
        match self {
            AuthorizeError::Redirect { redirect_uri, error, description, state } => {
                let mut pairs = vec![("error", *error), ("error_description", *description)];
                if let Some(s) = state {
                    pairs.push(("state", s));
                }
                Some(with_query(redirect_uri, &pairs))
            }
            _ => None,
        }
    }
}

/// `uri` with `pairs` added to its query.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(pairs);
            u.to_string()
        }
        Err(_) => uri.to_string(),
    }
}

/// A loopback redirect URI as RFC 8252 §7.3 describes it: `http`, host `127.0.0.1` or `[::1]`
/// written as an IP literal, no user information, no fragment. The port is not part of it.
fn loopback(u: &url::Url) -> bool {
    let ip = match u.host() {
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        _ => false,
    };
    u.scheme() == "http" && ip
}

/// Whether `given` is one of the `registered` redirect URIs: exactly, or for a loopback one,
/// exactly but for the port. Never with a fragment or user information (RFC 6749 §3.1.2).
pub fn redirect_matches(registered: &[String], given: &str) -> bool {
    if given.len() > REDIRECT_MAX {
        return false;
    }
    let Ok(g) = url::Url::parse(given) else { return false };
    if g.fragment().is_some() || !g.username().is_empty() || g.password().is_some() || g.cannot_be_a_base() {
        return false;
    }
    registered.iter().any(|r| {
        if r == given {
            return true;
        }
        let Ok(r) = url::Url::parse(r) else { return false };
        loopback(&r) && loopback(&g) && r.host() == g.host() && r.path() == g.path() && r.query() == g.query()
    })
}

/// Whether a redirect URI may be registered: absolute `https`, or `http` on a loopback address
/// (or `localhost`, which then matches exactly), without fragment or user information; a
/// private-use scheme (`com.example.app:/callback`, RFC 8252 §7.1) too.
pub fn registrable_redirect(uri: &str) -> bool {
    let Ok(u) = url::Url::parse(uri) else { return false };
    if uri.len() > REDIRECT_MAX || u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
        return false;
    }
    match u.scheme() {
        "https" => u.host().is_some(),
        "http" => loopback(&u) || u.host_str() == Some("localhost"),
        "javascript" | "data" | "file" | "blob" | "about" | "vbscript" => false,
        s => s.contains('.'),
    }
}

/// The S256 challenge of a PKCE verifier: `BASE64URL(SHA256(verifier))` without padding.
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Z] [a-z] [0-9] - . _ ~`.
fn verifier_syntax(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `verifier` is the one behind `challenge`, compared in constant time.
pub fn pkce_verifies(challenge: &str, verifier: &str) -> bool {
    if !verifier_syntax(verifier) {
        return false;
    }
    let (a, b) = (s256(verifier), challenge);
    if a.len() != b.len() {
        return false;
    }
    let diff = a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

async fn redirect_uris(db: &Db, client: i64) -> Result<Vec<String>, sqlx::Error> {
    crate::with_pool!(db, p => sqlx::query_scalar("SELECT uri FROM oauth_redirect_uris WHERE client_id = $1 ORDER BY uri")
        .bind(client).fetch_all(p).await)
}

/// Checks an authorization request: the client and its redirect URI first (refused on a page
/// when wrong), then the rest (refused to the redirect URI). Only public clients with a
/// registered redirect URI, `response_type=code`, and PKCE with S256.
pub async fn check_authorize(db: &Db, params: &AuthorizeParams) -> Result<AuthorizeRequest, AuthorizeError> {
    let Some(client_id) = params.client_id.as_deref().filter(|c| !c.is_empty() && c.len() <= 100) else {
        return Err(AuthorizeError::Unsafe);
    };
    let c = match client(db, client_id).await {
        Ok(c) => c,
        Err(OAuthError::Store(e)) => return Err(e.into()),
        Err(_) => return Err(AuthorizeError::Unsafe),
    };
    let registered = redirect_uris(db, c.id).await.map_err(crate::store::StoreError::from)?;
    // RFC 6749 §3.1.2.3: required here, since a native client's loopback port changes.
    let Some(redirect_uri) = params.redirect_uri.clone().filter(|r| redirect_matches(&registered, r)) else {
        return Err(AuthorizeError::Unsafe);
    };
    let state = params.state.clone().filter(|s| !s.is_empty());
    let refuse = |error, description| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description,
        state: state.clone(),
    };
    if state.as_ref().is_some_and(|s| s.len() > STATE_MAX) {
        return Err(AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            error: "invalid_request",
            description: "state too long",
            state: None,
        });
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type missing")),
        Some(_) => return Err(refuse("unsupported_response_type", "only response_type=code")),
    }
    if c.kind != "public" {
        return Err(refuse("unauthorized_client", "the client may not use the authorization code grant"));
    }
    // RFC 7636 §4.2: "plain" sends the verifier itself; refused, as any other method.
    if params.code_challenge_method.as_deref() != Some("S256") {
        return Err(refuse("invalid_request", "code_challenge_method must be S256"));
    }
    let challenge = params.code_challenge.clone().unwrap_or_default();
    let well_formed =
        challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(refuse("invalid_request", "code_challenge missing or not S256"));
    }
    let scope = check_scope(params.scope.as_deref()).map_err(|_| refuse("invalid_scope", "unknown scope"))?;
    Ok(AuthorizeRequest { client: c, redirect_uri, scope, state, code_challenge: challenge })
}

/// The holder's decision on a checked request: where the browser goes next. Approved, a
/// single-use code for the client (kept as a hash) and a notice to the holder's notification
/// address; refused, `access_denied`. Recorded in the same transaction either way.
pub async fn authorize_decide(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    req: &AuthorizeRequest,
    approve: bool,
) -> Result<String, OAuthError> {
    holder.require(Level::Full)?;
    let now = clock.now_ms();
    let object = format!("client:{}", req.client.client_id);
    let state = req.state.as_deref();
    if !approve {
        crate::with_pool!(db, p => {
            let mut tx = p.begin_write().await?;
            tx.append_audit(db.audit_key(), now, &holder.event("oauth.code.refuse", Outcome::Success).object(object)).await?;
            tx.commit().await?;
        });
        let mut pairs = vec![("error", "access_denied"), ("error_description", "the holder refused")];
        if let Some(s) = state {
            pairs.push(("state", s));
        }
        return Ok(with_query(&req.redirect_uri, &pairs));
    }
    let account = crate::accounts::get(db, holder.account_id).await?.ok_or(OAuthError::InvalidGrant)?;
    let notice = notify::client_granted(&account.notification_email, &account.address, &req.client.name);
    let code = format!("hyac_{}", crate::random_hex(32));
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO oauth_codes (code_hash, client_id, account_id, redirect_uri, code_challenge, scope, created_ms, expires_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(hash(&code)).bind(req.client.id).bind(holder.account_id).bind(&req.redirect_uri)
            .bind(&req.code_challenge).bind(&req.scope).bind(now).bind(now + CODE_TTL_MS)
            .fetch_one(&mut *tx).await?;
        // Codes of the past are of no use: they go as new ones come.
        sqlx::query("DELETE FROM oauth_codes WHERE expires_ms < $1 AND grant_id IS NULL")
            .bind(now - CODE_TTL_MS).execute(&mut *tx).await?;
        tx.enqueue_in(now, &notice).await?;
        tx.append_audit(db.audit_key(), now, &holder.event("oauth.code.approve", Outcome::Success)
            .object(format!("{object} code:{id}"))).await?;
        tx.commit().await?;
    });
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    Ok(with_query(&req.redirect_uri, &pairs))
}

/// The token endpoint's `authorization_code` grant: the code, once, by the client it was given
/// to, with the same redirect URI and the PKCE verifier. Gives the same grant and tokens as the
/// device grant. A code that comes again revokes the grant its first use created (RFC 6749
/// §4.1.2); an expired one is refused.
pub async fn exchange_code(
    db: &Db,
    clock: &dyn Clock,
    client_id: &str,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    ip: Option<String>,
) -> Result<Tokens, OAuthError> {
    let c = client(db, client_id).await?;
    let now = clock.now_ms();
    type Row = (i64, i64, i64, String, String, String, Millis, Option<Millis>, Option<i64>);
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, client_id, account_id, redirect_uri, code_challenge, scope, expires_ms, consumed_ms, grant_id \
             FROM oauth_codes WHERE code_hash = $1")
            .bind(hash(code)).fetch_optional(&mut *tx).await?;
        let Some((id, owner, account, bound_uri, challenge, scope, expires_ms, consumed, grant)) = row else {
            return Err(OAuthError::InvalidGrant);
        };
        if consumed.is_some() {
            // Used before: whoever holds the tokens of its first use may not be the client.
            let revoked = match grant {
                Some(g) => sqlx::query("UPDATE oauth_grants SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL")
                    .bind(now).bind(g).execute(&mut *tx).await?.rows_affected(),
                None => 0,
            };
            if let Some(g) = grant {
                sqlx::query("DELETE FROM oauth_tokens WHERE grant_id = $1").bind(g).execute(&mut *tx).await?;
            }
            let event = crate::audit::AuditEvent::new(crate::audit::Actor::Account(account.to_string()), "oauth.code.replay", Outcome::Denied("code_reused".into()))
                .ip(ip)
                .object(format!("code:{id} grant:{} revoked:{revoked}", grant.map_or("-".into(), |g| g.to_string())));
            tx.append_audit(db.audit_key(), now, &event).await?;
            tx.commit().await?;
            return Err(OAuthError::InvalidGrant);
        }
        if owner != c.id || expires_ms <= now || redirect_uri != Some(bound_uri.as_str()) {
            return Err(OAuthError::InvalidGrant);
        }
        let Some(verifier) = code_verifier else { return Err(OAuthError::InvalidRequest("code_verifier")) };
        if !pkce_verifies(&challenge, verifier) {
            return Err(OAuthError::InvalidGrant);
        }
        let active: Option<i64> = sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1 AND status = 'active'")
            .bind(account).fetch_optional(&mut *tx).await?;
        if active.is_none() {
            return Err(OAuthError::InvalidGrant);
        }
        let refresh = format!("hyrt_{}", crate::random_hex(32));
        let grant: i64 = sqlx::query_scalar(
            "INSERT INTO oauth_grants (account_id, client_id, scope, refresh_hash, created_ms, last_used_ms, last_ip) \
             VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id")
            .bind(account).bind(c.id).bind(&scope).bind(hash(&refresh)).bind(now).bind(&ip).fetch_one(&mut *tx).await?;
        let used = sqlx::query("UPDATE oauth_codes SET consumed_ms = $1, grant_id = $2 WHERE id = $3 AND consumed_ms IS NULL")
            .bind(now).bind(grant).bind(id).execute(&mut *tx).await?.rows_affected();
        if used != 1 {
            return Err(OAuthError::InvalidGrant);
        }
        let access = tx.issue_access_in(grant, now).await?;
        let event = crate::audit::AuditEvent::new(crate::audit::Actor::Account(account.to_string()), "oauth.grant.create", Outcome::Success)
            .ip(ip)
            .object(format!("grant:{grant} client:{} code:{id}", c.client_id));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        Ok(Tokens { access_token: access, refresh_token: Some(refresh), expires_in_s: ACCESS_TTL_MS / 1000, scope })
    })
}

/// Registers a public client with the redirect URIs of the authorization code grant (each
/// checked by [`registrable_redirect`]). Recorded as `actor`.
pub async fn register_native_client(
    db: &Db,
    clock: &dyn Clock,
    name: &str,
    redirect: &[String],
    actor: crate::audit::Actor,
) -> Result<Client, OAuthError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > super::NAME_MAX || name.chars().any(char::is_control) {
        return Err(OAuthError::InvalidRequest("name"));
    }
    if redirect.iter().any(|r| !registrable_redirect(r)) {
        return Err(OAuthError::InvalidRequest("redirect_uri"));
    }
    let now = clock.now_ms();
    let client_id = format!("hygie-{}", crate::random_hex(12));
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO oauth_clients (client_id, name, kind, created_ms) VALUES ($1, $2, 'public', $3) RETURNING id")
            .bind(&client_id).bind(name).bind(now).fetch_one(&mut *tx).await?;
        for uri in redirect {
            sqlx::query("INSERT INTO oauth_redirect_uris (client_id, uri) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id).bind(uri).execute(&mut *tx).await?;
        }
        let event = crate::audit::AuditEvent::new(actor, "oauth.client.register", Outcome::Success)
            .object(format!("client:{client_id} redirect_uris:{}", redirect.len()));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        Client { id, client_id, name: name.to_string(), kind: "public".into() }
    }))
}
