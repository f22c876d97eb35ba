//! A phone that approves sign-ins (the reference documents' "OTP push"). The holder shows a
//! one-time link as a QR code in "Mes terminaux" (10 minutes); the phone opens it, signs in, and
//! registers a passkey bound to the device and a Web Push subscription. At sign-in, after the
//! password, the holder may choose "Valider sur mon téléphone": the sign-in page shows a
//! two-digit number, the phone gets a push (its payload only an opaque id) and offers three
//! numbers; the right one, confirmed with the device's passkey, completes the sign-in. A wrong
//! number refuses it and counts as a failed attempt; a request lives two minutes; pushes are
//! limited per account. The open app also finds pending requests by itself with its device
//! token, for when no push service can be reached.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use sha2::{Digest, Sha256};
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};

use crate::accounts::settings::require_fresh;
use crate::audit::{self, Actor, AuditEvent, AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::auth::passkeys::{self, Ceremony, PhoneParts, Proof, Purpose, RelyingParty};
use crate::auth::terminals::TerminalError;
use crate::clock::{Clock, Millis};
use crate::ratelimit::{self, Decision, Limit};
use crate::store::{BeginWrite, Db, StoreError};

/// A phone link must be opened within this time.
pub const LINK_TTL_MS: Millis = 10 * 60_000;
/// A sign-in waits this long for the phone's answer.
pub const APPROVAL_TTL_MS: Millis = 2 * 60_000;
/// Approval requests (so pushes) one account may get in ten minutes.
pub const REQUESTS: Limit = Limit { max: 5, window_ms: 10 * 60_000 };

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(format!("hygie-phone-v1|{token}").as_bytes()))
}

// ---- Web Push ----------------------------------------------------------------------------

/// The instance's VAPID key (RFC 8292), derived from the key file: every instance behind the
/// load balancer signs with the same key, made at first start with the key file.
fn vapid_key(db: &Db) -> ES256KeyPair {
    ES256KeyPair::from_bytes(&db.audit_key().subkey("vapid")).expect("a 32-byte P-256 scalar")
}

/// The VAPID public key the browser subscribes with (`applicationServerKey`), base64url.
pub fn vapid_public_key(db: &Db) -> String {
    B64URL.encode(vapid_key(db).public_key().public_key().to_bytes_uncompressed())
}

/// Where pushes may go: a push service over HTTPS, by name; plain HTTP to this machine only
/// when the operator allows it (tests, and a push relay on the same host).
#[derive(Debug, Clone, Default)]
pub struct PushPolicy {
    pub allow_loopback: bool,
}

impl PushPolicy {
    pub fn allows(&self, endpoint: &str) -> bool {
        let Ok(url) = reqwest::Url::parse(endpoint) else { return false };
        let Some(host) = url.host() else { return false };
        match (url.scheme(), host) {
            ("https", url::Host::Domain(d)) => d != "localhost" && d.contains('.'),
            ("http", url::Host::Ipv4(ip)) => self.allow_loopback && ip.is_loopback(),
            _ => false,
        }
    }
}

/// Sends a push whose payload is `payload` (never more than an opaque id) to a phone, with a
/// two-minute time to live. A subscription the push service says is gone is forgotten.
async fn push(
    db: &Db,
    http: &reqwest::Client,
    terminal_id: i64,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
    payload: &str,
) {
    let built = (|| -> Option<http::Request<Vec<u8>>> {
        let key = web_push_native::p256::PublicKey::from_sec1_bytes(&B64URL.decode(p256dh.trim_end_matches('=')).ok()?)
            .ok()?;
        let auth = B64URL.decode(auth.trim_end_matches('=')).ok()?;
        if auth.len() != 16 {
            return None;
        }
        let kp = vapid_key(db);
        web_push_native::WebPushBuilder::new(
            endpoint.parse().ok()?,
            key,
            web_push_native::Auth::clone_from_slice(&auth),
        )
        .with_valid_duration(std::time::Duration::from_millis(APPROVAL_TTL_MS as u64))
        .with_vapid(&kp, "mailto:assistance@hygie.invalid")
        .build(payload.as_bytes().to_vec())
        .ok()
    })();
    let Some(request) = built else {
        tracing::warn!(terminal = terminal_id, "a phone's push subscription is unusable");
        return;
    };
    let (parts, body) = request.into_parts();
    let sent = http
        .post(parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {}
        Ok(r) if matches!(r.status().as_u16(), 404 | 410) => {
            tracing::info!(terminal = terminal_id, "a phone's push subscription expired: forgotten");
            let forgotten = crate::with_pool!(db, p => sqlx::query(
                "UPDATE terminals SET push_endpoint = NULL, push_p256dh = NULL, push_auth = NULL WHERE id = $1")
                .bind(terminal_id).execute(p).await.map(|r| r.rows_affected()));
            if let Err(e) = forgotten {
                tracing::warn!(terminal = terminal_id, error = %e, "an expired push subscription was not forgotten");
            }
        }
        Ok(r) => tracing::warn!(terminal = terminal_id, status = r.status().as_u16(), "push refused"),
        Err(e) => tracing::warn!(terminal = terminal_id, error = %e, "push service unreachable"),
    }
}

// ---- Adding a phone ----------------------------------------------------------------------

/// A link for a phone to open, shown as a QR code (and as a link to copy).
pub struct PhoneLink {
    pub url: String,
    pub qr_svg: String,
}

/// Makes a one-time link (10 minutes) for adding a phone, after a sign-in less than five
/// minutes old.
pub async fn start_link(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    public_url: &str,
) -> Result<PhoneLink, TerminalError> {
    let now = clock.now_ms();
    require_fresh(holder, now)?;
    crate::auth::terminals::check_room(db, holder.account_id, now).await?;
    let token = crate::random_hex(16);
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query("INSERT INTO phone_links (token_hash, account_id, expires_ms) VALUES ($1, $2, $3)")
            .bind(hash(&token)).bind(holder.account_id).bind(now + LINK_TTL_MS).execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), now, &holder.event("terminal.phone.link", Outcome::Success)).await?;
        tx.commit().await?;
    });
    let url = format!("{}/telephone/{token}", public_url.trim_end_matches('/'));
    let qr_svg = crate::auth::terminals::qr_svg(&url);
    Ok(PhoneLink { url, qr_svg })
}

/// Whether `token` is a live phone link of this holder's.
pub async fn link_is_live(db: &Db, clock: &dyn Clock, holder: &Holder, token: &str) -> Result<bool, StoreError> {
    let n: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM phone_links WHERE token_hash = $1 AND account_id = $2 AND used_ms IS NULL \
         AND expires_ms > $3")
        .bind(hash(token)).bind(holder.account_id).bind(clock.now_ms()).fetch_one(p).await?);
    Ok(n == 1)
}

/// On the phone, signed in, from a live link: the options to register the device's passkey,
/// and the VAPID key to subscribe to pushes with.
pub async fn start_phone(
    db: &Db,
    clock: &dyn Clock,
    rp: &RelyingParty,
    holder: &Holder,
    token: &str,
    name: &str,
) -> Result<(Ceremony, String), TerminalError> {
    if !link_is_live(db, clock, holder, token).await? {
        return Err(TerminalError::NotFound);
    }
    let ceremony =
        passkeys::start_key_registration(db, clock, rp, holder, name, passkeys::KeyKind::PhonePasskey).await?;
    Ok((ceremony, vapid_public_key(db)))
}

/// The phone as registered: its device token (kept by the app, shown nowhere else) and, with
/// the holder's first terminal, recovery codes.
pub struct PhoneAdded {
    pub terminal_id: i64,
    pub device_token: String,
    pub recovery_codes: Option<Vec<zeroize::Zeroizing<String>>>,
}

/// The push subscription the phone's browser made (`PushSubscription.toJSON()`'s fields).
#[derive(Debug, Clone)]
pub struct Subscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// Finishes adding the phone: the link is spent, the device's passkey verified and kept with
/// its push subscription (none when the browser could not reach a push service: the open app
/// then finds requests by itself).
#[allow(clippy::too_many_arguments)]
pub async fn finish_phone(
    db: &Db,
    clock: &dyn Clock,
    rp: &RelyingParty,
    policy: &PushPolicy,
    holder: &Holder,
    token: &str,
    ceremony: &str,
    response: &str,
    subscription: Option<&Subscription>,
) -> Result<PhoneAdded, TerminalError> {
    let now = clock.now_ms();
    require_fresh(holder, now)?;
    let usable = |s: &Subscription| policy.allows(&s.endpoint) && s.p256dh.len() <= 200 && s.auth.len() <= 64;
    if subscription.is_some_and(|s| !usable(s)) {
        audit::append(db, clock, holder.event("terminal.add", Outcome::Failure("push_endpoint".into()))).await?;
        return Err(TerminalError::KeyRefused);
    }
    let key = passkeys::take_new_key(db, clock, rp, holder, ceremony, response).await?;
    let spent = crate::with_pool!(db, p => sqlx::query(
        "UPDATE phone_links SET used_ms = $1 WHERE token_hash = $2 AND account_id = $3 AND used_ms IS NULL \
         AND expires_ms > $1")
        .bind(now).bind(hash(token)).bind(holder.account_id).execute(p).await?.rows_affected());
    if spent != 1 {
        return Err(TerminalError::NotFound);
    }
    let device_token = crate::random_hex(32);
    let parts = PhoneParts {
        endpoint: subscription.map(|s| s.endpoint.clone()),
        p256dh: subscription.map(|s| s.p256dh.clone()),
        auth: subscription.map(|s| s.auth.clone()),
        device_token_hash: hash(&device_token),
    };
    let (terminal_id, recovery_codes) = passkeys::add_key(db, clock, holder, key, "phone", Some(&parts)).await?;
    Ok(PhoneAdded { terminal_id, device_token, recovery_codes })
}

/// Whether the account has a phone that can approve sign-ins.
pub async fn has_phone(db: &Db, account_id: i64) -> Result<bool, StoreError> {
    let n: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM terminals WHERE account_id = $1 AND kind = 'phone' AND confirmed_ms IS NOT NULL \
         AND removed_ms IS NULL AND flagged_ms IS NULL")
        .bind(account_id).fetch_one(p).await?);
    Ok(n > 0)
}

// ---- Approving a sign-in -----------------------------------------------------------------

/// A sign-in waiting for the phone, as the sign-in page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub id: String,
    /// The number to choose on the phone.
    pub number: i64,
}

/// Why a request could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskRefused {
    NoPhone,
    /// Too many requests lately: [`REQUESTS`].
    TooMany {
        retry_after_ms: Millis,
    },
}

fn three_numbers(number: i64) -> Vec<i64> {
    use rand::seq::SliceRandom;
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let mut choices = vec![number];
    while choices.len() < 3 {
        let n = rng.gen_range(10..100);
        if !choices.contains(&n) {
            choices.push(n);
        }
    }
    choices.shuffle(&mut rng);
    choices
}

/// After the password: asks the account's phones to approve the pending sign-in `session_id`.
/// The pushes leave in the background; the answer is the number to show.
pub async fn ask(
    db: &Db,
    clock: &dyn Clock,
    http: &reqwest::Client,
    account_id: i64,
    session_id: i64,
    ip: Option<&str>,
) -> Result<Result<Asked, AskRefused>, StoreError> {
    let now = clock.now_ms();
    type Phone = (i64, Option<String>, Option<String>, Option<String>);
    let phones: Vec<Phone> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, push_endpoint, push_p256dh, push_auth FROM terminals WHERE account_id = $1 AND kind = 'phone' \
         AND confirmed_ms IS NOT NULL AND removed_ms IS NULL AND flagged_ms IS NULL")
        .bind(account_id).fetch_all(p).await?);
    if phones.is_empty() {
        return Ok(Err(AskRefused::NoPhone));
    }
    if let Decision::Limited { retry_after_ms } =
        ratelimit::hit(db, clock, &format!("phone-ask:{account_id}"), REQUESTS).await?
    {
        let ev = AuditEvent::new(
            Actor::Account(account_id.to_string()),
            "signin.phone.ask",
            Outcome::Denied("rate_limited".into()),
        )
        .ip(ip.map(str::to_owned));
        audit::append(db, clock, ev).await?;
        return Ok(Err(AskRefused::TooMany { retry_after_ms }));
    }
    let number = {
        use rand::Rng;
        rand::rngs::OsRng.gen_range(10..100)
    };
    let choices = three_numbers(number).iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let id = crate::random_hex(16);
    let event = AuditEvent::new(Actor::Account(account_id.to_string()), "signin.phone.ask", Outcome::Success)
        .ip(ip.map(str::to_owned))
        .object(format!("session:{session_id} phones:{}", phones.len()));
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        // One request per pending sign-in: a new one replaces it.
        sqlx::query("UPDATE approvals SET status = 'refused' WHERE session_id = $1 AND status = 'pending'")
            .bind(session_id).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO approvals (id, account_id, session_id, number, choices, ip, created_ms, expires_ms, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending')")
            .bind(&id).bind(account_id).bind(session_id).bind(number).bind(&choices).bind(ip).bind(now)
            .bind(now + APPROVAL_TTL_MS).execute(&mut *tx).await?;
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
    });
    let payload = serde_json::json!({ "approval": id }).to_string();
    for (terminal, endpoint, p256dh, auth) in phones {
        if let (Some(endpoint), Some(p256dh), Some(auth)) = (endpoint, p256dh, auth) {
            let (db, http, payload) = (db.clone(), http.clone(), payload.clone());
            tokio::spawn(async move { push(&db, &http, terminal, &endpoint, &p256dh, &auth, &payload).await });
        }
    }
    Ok(Ok(Asked { id, number }))
}

/// Where a request stands, as the sign-in page polls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Pending,
    /// Approved by the phone `terminal_id`: the sign-in may complete, once.
    Approved {
        terminal_id: i64,
    },
    /// Refused (a wrong number), replaced, expired or already used.
    Over,
}

/// Takes the answer to request `id` of the pending sign-in `session_id`: an approval is
/// returned once (the request becomes 'used').
pub async fn standing(db: &Db, clock: &dyn Clock, session_id: i64, id: &str) -> Result<Standing, StoreError> {
    let now = clock.now_ms();
    let row: Option<(String, i64, Option<i64>)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT status, expires_ms, terminal_id FROM approvals WHERE id = $1 AND session_id = $2")
        .bind(id).bind(session_id).fetch_optional(p).await?);
    let Some((status, expires, terminal)) = row else { return Ok(Standing::Over) };
    match status.as_str() {
        "pending" if expires > now => Ok(Standing::Pending),
        "approved" => {
            let n = crate::with_pool!(db, p => sqlx::query(
                "UPDATE approvals SET status = 'used' WHERE id = $1 AND status = 'approved'")
                .bind(id).execute(p).await?.rows_affected());
            Ok(match (n, terminal) {
                (1, Some(terminal_id)) => Standing::Approved { terminal_id },
                _ => Standing::Over,
            })
        }
        _ => Ok(Standing::Over),
    }
}

/// A request as the phone shows it: three numbers, and where the sign-in comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    pub choices: Vec<i64>,
    pub ip: Option<String>,
    pub created_ms: Millis,
}

/// The phone of this device token, if it is in use: its terminal and account.
async fn device(db: &Db, device_token: &str) -> Result<Option<(i64, i64)>, StoreError> {
    if device_token.len() != 64 {
        return Ok(None);
    }
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, account_id FROM terminals WHERE device_token_hash = $1 AND kind = 'phone' \
         AND confirmed_ms IS NOT NULL AND removed_ms IS NULL")
        .bind(hash(device_token)).fetch_optional(p).await?))
}

/// The requests waiting for the phone of `device_token` (the open app asks for them, or the
/// push's id points to one). Unknown device tokens see nothing.
pub async fn waiting(db: &Db, clock: &dyn Clock, device_token: &str) -> Result<Vec<Request>, StoreError> {
    let Some((_, account_id)) = device(db, device_token).await? else { return Ok(Vec::new()) };
    let rows: Vec<(String, String, Option<String>, Millis)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, choices, ip, created_ms FROM approvals WHERE account_id = $1 AND status = 'pending' \
         AND expires_ms > $2 ORDER BY created_ms DESC")
        .bind(account_id).bind(clock.now_ms()).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|(id, choices, ip, created_ms)| Request {
            id,
            choices: choices.split(',').filter_map(|n| n.parse().ok()).collect(),
            ip,
            created_ms,
        })
        .collect())
}

/// What the phone's choice led to.
#[derive(Debug)]
pub enum Choice {
    /// The right number: the device's passkey must now confirm it (options for the browser).
    Confirm(Ceremony),
    /// A wrong number: the request is refused and the attempt counted.
    Wrong,
    /// No such live request for this phone.
    Gone,
}

/// The phone chose `number` for request `id`. A wrong number counts as a failed sign-in of the
/// account (which locks it at the hundredth).
pub async fn choose(
    ctx: &crate::auth::signin::Ctx<'_>,
    rp: &RelyingParty,
    device_token: &str,
    id: &str,
    number: i64,
) -> Result<Choice, StoreError> {
    let (db, clock) = (ctx.db, ctx.clock);
    let now = clock.now_ms();
    let Some((terminal_id, account_id)) = device(db, device_token).await? else { return Ok(Choice::Gone) };
    let row: Option<(i64, i64)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT number, session_id FROM approvals WHERE id = $1 AND account_id = $2 AND status = 'pending' \
         AND expires_ms > $3")
        .bind(id).bind(account_id).bind(now).fetch_optional(p).await?);
    let Some((right, session_id)) = row else { return Ok(Choice::Gone) };
    let actor = Actor::Account(account_id.to_string());
    if number != right {
        crate::with_pool!(db, p => {
            sqlx::query("UPDATE approvals SET status = 'refused' WHERE id = $1 AND status = 'pending'")
                .bind(id).execute(p).await?;
        });
        if let Some(account) = crate::accounts::get(db, account_id).await? {
            crate::auth::signin::record_failure(ctx, &account).await?;
        }
        let ev = AuditEvent::new(actor, "signin.phone.answer", Outcome::Failure("wrong_number".into()))
            .object(format!("terminal:{terminal_id} session:{session_id}"));
        audit::append(db, clock, ev).await?;
        return Ok(Choice::Wrong);
    }
    let key = passkeys::keys_of(db, account_id, "phone").await?.into_iter().find(|k| k.terminal_id == terminal_id);
    let Some(key) = key.filter(|k| !k.flagged) else { return Ok(Choice::Gone) };
    let (options, state) = rp.start_authentication(std::slice::from_ref(&key.passkey), true)?;
    // The ceremony's name holds the request it confirms.
    let ceremony =
        passkeys::hold(db, now, Purpose::SecondFactor, Some(account_id), Some(session_id), Some(id), &state).await?;
    Ok(Choice::Confirm(Ceremony { id: ceremony, options }))
}

/// The device's passkey confirms the right number: the request is approved.
pub async fn confirm(
    db: &Db,
    clock: &dyn Clock,
    rp: &RelyingParty,
    device_token: &str,
    ceremony: &str,
    response: &str,
) -> Result<bool, StoreError> {
    let now = clock.now_ms();
    let Some((terminal_id, account_id)) = device(db, device_token).await? else { return Ok(false) };
    let Some(held) = passkeys::take(db, now, ceremony, Purpose::SecondFactor).await? else { return Ok(false) };
    let (Some(approval), Some(session_id)) = (held.name.clone(), held.session_id) else { return Ok(false) };
    if held.account_id != Some(account_id) {
        return Ok(false);
    }
    let actor = Actor::Account(account_id.to_string());
    let proof = passkeys::verify(db, clock, rp, &held, false, "phone", response, None).await?;
    let outcome = match &proof {
        Proof::Verified(key) if key.terminal_id == terminal_id => None,
        Proof::Verified(_) => Some("another_key"),
        Proof::CounterRegressed => Some("counter_regressed"),
        Proof::Refused(why) => Some(*why),
    };
    if let Some(why) = outcome {
        let ev = AuditEvent::new(actor, "signin.phone.answer", Outcome::Failure(why.into()))
            .object(format!("terminal:{terminal_id} session:{session_id}"));
        audit::append(db, clock, ev).await?;
        return Ok(false);
    }
    let event = AuditEvent::new(actor, "signin.phone.answer", Outcome::Success)
        .object(format!("terminal:{terminal_id} session:{session_id}"));
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let n = sqlx::query(
            "UPDATE approvals SET status = 'approved', terminal_id = $1 WHERE id = $2 AND session_id = $3 \
             AND status = 'pending' AND expires_ms > $4")
            .bind(terminal_id).bind(&approval).bind(session_id).bind(now).execute(&mut *tx).await?.rows_affected();
        if n == 1 {
            tx.append_audit(db.audit_key(), now, &event).await?;
        }
        tx.commit().await?;
        n == 1
    }))
}

#[cfg(test)]
mod tests;
