//! Passkeys and security keys (WebAuthn, through `webauthn-rs`). A passkey verifies its holder
//! itself (PIN, fingerprint, face): it is a complete sign-in on its own, and after the password
//! it is the strongest second factor Hygie offers.
//!
//! Each ceremony (adding a key, signing in with one) is two steps: the options go to the
//! browser, its answer comes back. The library's state between the two is kept in the database
//! (never in a cookie), taken once with `DELETE … RETURNING`, and dies after five minutes, so
//! that any instance behind the load balancer can finish what another began and an answer can
//! never be replayed. A credential id is bound to one account only. A signature counter that
//! goes backwards (the key may have been copied) flags the key: it proves nothing from then on,
//! the holder is told and it is recorded.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PublicKeyCredential, RegisterPublicKeyCredential, SecurityKey,
    SecurityKeyRegistration, Url, Uuid, Webauthn, WebauthnBuilder,
};
use zeroize::Zeroizing;

use crate::accounts::settings::require_fresh;
use crate::audit::{self, AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::auth::terminals::{check_room, clean_name, TerminalError};
use crate::clock::{Clock, Millis};
use crate::notify;
use crate::outbox::OutboxTx;
use crate::store::{BeginWrite, Db, StoreError};

#[cfg(any(test, feature = "test-support"))]
pub mod soft;

/// A ceremony must be finished within this time.
pub const CEREMONY_TTL_MS: Millis = 5 * 60_000;

/// This instance as a WebAuthn relying party: its identifier is the host of the public address
/// and only that exact origin is accepted. Built once at start.
pub struct RelyingParty {
    webauthn: Webauthn,
    origin: String,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// From the public address (`https://messagerie.example.fr`). Browsers refuse WebAuthn for
    /// an IP address or a plain `http` origin other than localhost: such an instance has no
    /// passkeys, and says why.
    pub fn new(public_url: &str) -> Result<RelyingParty, String> {
        let origin = Url::parse(public_url).map_err(|e| format!("public address: {e}"))?;
        let host = origin.host_str().ok_or("the public address has no host")?.to_string();
        if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
            return Err(format!("passkeys need a domain name, not the IP address {host}"));
        }
        let webauthn = WebauthnBuilder::new(&host, &origin)
            .and_then(|b| b.rp_name("Hygie").timeout(std::time::Duration::from_millis(CEREMONY_TTL_MS as u64)).build())
            .map_err(|e| format!("passkeys: {e}"))?;
        Ok(RelyingParty { webauthn, origin: origin.origin().ascii_serialization() })
    }

    /// Options (JSON) and state (JSON) for proving a sign-in with one of `keys`, the holder
    /// verified by the key (passkeys), or only preferably (when a security key without user
    /// verification is among them: after the password, holding the key is the second factor).
    pub(crate) fn start_authentication(
        &self,
        keys: &[Passkey],
        verify_user: bool,
    ) -> Result<(String, String), StoreError> {
        fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
            serde_json::to_string(v).map_err(|e| StoreError::Other(e.to_string()))
        }
        let failed = |e: webauthn_rs::prelude::WebauthnError| StoreError::Other(format!("passkey sign-in: {e}"));
        if verify_user {
            let (options, state) = self.webauthn.start_passkey_authentication(keys).map_err(failed)?;
            return Ok((json(&options)?, json(&state)?));
        }
        let keys: Vec<SecurityKey> = keys
            .iter()
            .filter_map(|k| serde_json::to_value(k).ok().and_then(|v| serde_json::from_value(v).ok()))
            .collect();
        let (options, state) = self.webauthn.start_securitykey_authentication(&keys).map_err(failed)?;
        Ok((json(&options)?, json(&state)?))
    }

    /// The origin browsers must report (`https://host[:port]`).
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// A ceremony begun: its id (to send back with the answer) and the options for the browser's
/// `navigator.credentials.create` or `.get`, as JSON.
#[derive(Debug, Clone)]
pub struct Ceremony {
    pub id: String,
    pub options: String,
}

/// Why a ceremony is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Register,
    SignIn,
    SecondFactor,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "signin",
            Purpose::SecondFactor => "second_factor",
        }
    }
}

/// A ceremony taken back from the database (it is gone from there).
pub(crate) struct Held {
    pub account_id: Option<i64>,
    pub session_id: Option<i64>,
    pub name: Option<String>,
    pub state: String,
}

/// Keeps a ceremony's state and returns its id (128 random bits). Ceremonies past their time
/// are swept on the way.
pub(crate) async fn hold(
    db: &Db,
    now: Millis,
    purpose: Purpose,
    account_id: Option<i64>,
    session_id: Option<i64>,
    name: Option<&str>,
    state: &str,
) -> Result<String, StoreError> {
    let id = crate::random_hex(16);
    crate::with_pool!(db, p => {
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_ms <= $1").bind(now).execute(p).await?;
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (id, purpose, account_id, session_id, name, state, expires_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&id).bind(purpose.as_str()).bind(account_id).bind(session_id).bind(name).bind(state)
            .bind(now + CEREMONY_TTL_MS).execute(p).await?;
    });
    Ok(id)
}

/// Takes a live ceremony of `purpose` once: a second answer to the same ceremony finds nothing.
pub(crate) async fn take(db: &Db, now: Millis, id: &str, purpose: Purpose) -> Result<Option<Held>, StoreError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    type Row = (Option<i64>, Option<i64>, Option<String>, String, i64);
    let row: Option<Row> = crate::with_pool!(db, p => sqlx::query_as(
        "DELETE FROM webauthn_ceremonies WHERE id = $1 AND purpose = $2 \
         RETURNING account_id, session_id, name, state, expires_ms")
        .bind(id).bind(purpose.as_str()).fetch_optional(p).await?);
    Ok(row.filter(|r| r.4 > now).map(|(account_id, session_id, name, state, _)| Held {
        account_id,
        session_id,
        name,
        state,
    }))
}

/// The user handle the keys keep for an account: derived from its id under the key file, so it
/// says nothing of the account to whoever reads the key, and stays the same for all its keys.
pub(crate) fn user_handle(db: &Db, account_id: i64) -> Uuid {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(&db.audit_key().subkey("webauthn user")).expect("any key length");
    mac.update(account_id.to_string().as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// A key registered to an account, as the sign-in needs it.
pub(crate) struct StoredKey {
    pub terminal_id: i64,
    pub account_id: i64,
    pub passkey: Passkey,
    pub flagged: bool,
    /// A security key that does not verify its holder: after the password only.
    pub second_factor_only: bool,
}

fn parse_passkey(terminal_id: i64, json: &str) -> Option<Passkey> {
    match serde_json::from_str(json) {
        Ok(p) => Some(p),
        Err(_) => {
            tracing::error!(terminal = terminal_id, "a stored passkey does not parse");
            None
        }
    }
}

/// The account's keys in use of `kind` (`passkey`, or `phone` for the phones' device-bound
/// passkeys), flagged ones included, marked.
pub(crate) async fn keys_of(db: &Db, account_id: i64, kind: &str) -> Result<Vec<StoredKey>, StoreError> {
    let rows: Vec<(i64, String, Option<Millis>, bool)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, credential, flagged_ms, second_factor_only FROM terminals WHERE account_id = $1 AND kind = $2 \
         AND confirmed_ms IS NOT NULL AND removed_ms IS NULL ORDER BY id")
        .bind(account_id).bind(kind).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .filter_map(|(id, json, flagged, second_factor_only)| {
            parse_passkey(id, &json).map(|passkey| StoredKey {
                terminal_id: id,
                account_id,
                passkey,
                flagged: flagged.is_some(),
                second_factor_only,
            })
        })
        .collect())
}

/// The key in use of `kind` with this credential id, whatever its account.
pub(crate) async fn key_by_credential(
    db: &Db,
    credential_id: &[u8],
    kind: &str,
) -> Result<Option<StoredKey>, StoreError> {
    let row: Option<(i64, i64, String, Option<Millis>, bool)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, account_id, credential, flagged_ms, second_factor_only FROM terminals \
         WHERE credential_id = $1 AND kind = $2 AND confirmed_ms IS NOT NULL AND removed_ms IS NULL")
        .bind(B64URL.encode(credential_id)).bind(kind).fetch_optional(p).await?);
    Ok(row.and_then(|(id, account_id, json, flagged, second_factor_only)| {
        parse_passkey(id, &json).map(|passkey| StoredKey {
            terminal_id: id,
            account_id,
            passkey,
            flagged: flagged.is_some(),
            second_factor_only,
        })
    }))
}

/// Whether the account has a passkey (or security key) that can prove a sign-in.
pub async fn has_passkey(db: &Db, account_id: i64) -> Result<bool, StoreError> {
    Ok(keys_of(db, account_id, "passkey").await?.iter().any(|k| !k.flagged))
}

/// After a sign-in the key proved: its last use, and its counter when the library says so.
pub(crate) async fn used(
    db: &Db,
    now: Millis,
    key: &mut StoredKey,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<(), StoreError> {
    let changed = key.passkey.update_credential(result) == Some(true);
    let json = changed.then(|| serde_json::to_string(&key.passkey).unwrap_or_default()).filter(|j| !j.is_empty());
    crate::with_pool!(db, p => {
        sqlx::query("UPDATE terminals SET last_used_ms = $1, credential = COALESCE($2, credential) WHERE id = $3")
            .bind(now).bind(json).bind(key.terminal_id).execute(p).await?;
    });
    Ok(())
}

/// Flags a key whose counter went backwards, tells the holder and records it, in one transaction.
pub(crate) async fn flag(db: &Db, clock: &dyn Clock, key: &StoredKey, ip: Option<&str>) -> Result<(), StoreError> {
    let now = clock.now_ms();
    let Some(account) = crate::accounts::get(db, key.account_id).await? else { return Ok(()) };
    let name: String = crate::with_pool!(db, p => sqlx::query_scalar("SELECT name FROM terminals WHERE id = $1")
        .bind(key.terminal_id).fetch_one(p).await?);
    let notice = notify::passkey_flagged(&account.notification_email, &account.address, &name);
    let event = audit::AuditEvent::new(
        audit::Actor::Account(key.account_id.to_string()),
        "terminal.passkey.flag",
        Outcome::Denied("counter_regressed".into()),
    )
    .ip(ip.map(str::to_owned))
    .object(format!("terminal:{}", key.terminal_id));
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let n = sqlx::query("UPDATE terminals SET flagged_ms = $1 WHERE id = $2 AND flagged_ms IS NULL")
            .bind(now).bind(key.terminal_id).execute(&mut *tx).await?.rows_affected();
        if n == 1 {
            tx.enqueue_in(now, &notice).await?;
        }
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
    });
    Ok(())
}

// ---- Adding a key ------------------------------------------------------------------------

/// Starts adding a passkey named `name` (after a sign-in less than five minutes old): the
/// holder's keys are excluded, so the same key is not added twice, and the browser is asked
/// to keep the key on the device (a resident key), so it can later sign in without an address.
pub async fn start_registration(
    db: &Db,
    clock: &dyn Clock,
    rp: &RelyingParty,
    holder: &Holder,
    name: &str,
) -> Result<Ceremony, TerminalError> {
    start_key_registration(db, clock, rp, holder, name, KeyKind::Passkey).await
}

/// Starts adding a security key that may not verify its holder (a USB or NFC key without a
/// PIN): user verification is only preferred, and a key that does not verify proves a sign-in
/// after the password only.
pub async fn start_security_key_registration(
    db: &Db,
    clock: &dyn Clock,
    rp: &RelyingParty,
    holder: &Holder,
    name: &str,
) -> Result<Ceremony, TerminalError> {
    start_key_registration(db, clock, rp, holder, name, KeyKind::SecurityKey).await
}

/// The credential ids of every key the account has, to exclude from a new registration.
async fn registered_ids(db: &Db, account_id: i64) -> Result<Vec<webauthn_rs::prelude::CredentialID>, StoreError> {
    let mut ids = Vec::new();
    for kind in ["passkey", "phone"] {
        ids.extend(keys_of(db, account_id, kind).await?.iter().map(|k| k.passkey.cred_id().clone()));
    }
    Ok(ids)
}

/// Which key a registration asks the browser for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// A passkey, which verifies its holder, kept on the device when it can be.
    Passkey,
    /// A phone's own passkey (its platform authenticator), not a roaming key.
    PhonePasskey,
    /// A security key that may not verify its holder.
    SecurityKey,
}

/// Starts registering a key of `kind` (after a sign-in less than five minutes old), the
/// holder's keys excluded.
pub(crate) async fn start_key_registration(
    db: &Db,
    clock: &dyn Clock,
    rp: &RelyingParty,
    holder: &Holder,
    name: &str,
    kind: KeyKind,
) -> Result<Ceremony, TerminalError> {
    fn json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, StoreError> {
        serde_json::to_value(v).map_err(|e| StoreError::Other(e.to_string()))
    }
    let now = clock.now_ms();
    require_fresh(holder, now)?;
    let name = clean_name(name)?;
    check_room(db, holder.account_id, now).await?;
    let exclude = Some(registered_ids(db, holder.account_id).await?);
    let display = if holder.name.trim().is_empty() { holder.address.as_str() } else { holder.name.as_str() };
    let handle = user_handle(db, holder.account_id);
    let failed = |e: webauthn_rs::prelude::WebauthnError| StoreError::Other(format!("key registration: {e}"));
    let (mut options, state) = if kind == KeyKind::SecurityKey {
        let (o, s) = rp
            .webauthn
            .start_securitykey_registration(handle, &holder.address, display, exclude, None, None)
            .map_err(failed)?;
        (json(&o)?, json(&s)?)
    } else {
        let (o, s) =
            rp.webauthn.start_passkey_registration(handle, &holder.address, display, exclude).map_err(failed)?;
        (json(&o)?, json(&s)?)
    };
    if let Some(sel) = options.pointer_mut("/publicKey/authenticatorSelection").and_then(|v| v.as_object_mut()) {
        if kind != KeyKind::SecurityKey {
            sel.insert("residentKey".into(), "preferred".into());
        }
        if kind == KeyKind::PhonePasskey {
            sel.insert("authenticatorAttachment".into(), "platform".into());
        }
    }
    // Not "credential protection: user verification required" for a security key: a key
    // without a PIN could make the credential, then never use it.
    if let (KeyKind::SecurityKey, Some(ext)) =
        (kind, options.pointer_mut("/publicKey/extensions").and_then(|v| v.as_object_mut()))
    {
        ext.remove("credentialProtectionPolicy");
        ext.remove("enforceCredentialProtectionPolicy");
    }
    let session = holder.session.map(|s| s.id);
    let id =
        hold(db, now, Purpose::Register, Some(holder.account_id), session, Some(&name), &state.to_string()).await?;
    let action = if kind == KeyKind::SecurityKey { "terminal.securitykey.start" } else { "terminal.passkey.start" };
    audit::append(db, clock, holder.event(action, Outcome::Success)).await?;
    Ok(Ceremony { id, options: options.to_string() })
}

/// Finishes adding a passkey with the browser's answer (`response`, JSON). The key must be new
/// to every account. A notice goes to the notification address; with the holder's first
/// terminal come ten recovery codes, returned once.
pub async fn finish_registration(
    db: &Db,
    clock: &dyn Clock,
    rp: &RelyingParty,
    holder: &Holder,
    ceremony: &str,
    response: &str,
) -> Result<Option<Vec<Zeroizing<String>>>, TerminalError> {
    let now = clock.now_ms();
    require_fresh(holder, now)?;
    let key = take_new_key(db, clock, rp, holder, ceremony, response).await?;
    Ok(add_key(db, clock, holder, key, "passkey", None).await?.1)
}

/// What a phone adds to its key: where its pushes go, and the hash of its device token.
pub(crate) struct PhoneParts {
    pub endpoint: Option<String>,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
    pub device_token_hash: String,
}

/// Adds a verified key of `kind` to the holder's terminals, with a notice to the notification
/// address and the record, in one transaction; returns its id and, with the holder's first
/// terminal, ten recovery codes.
pub(crate) async fn add_key(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    key: NewKey,
    kind: &str,
    phone: Option<&PhoneParts>,
) -> Result<(i64, Option<Vec<Zeroizing<String>>>), TerminalError> {
    let now = clock.now_ms();
    let name = key.name.unwrap_or_else(|| "Clé d'accès".into());
    let json = serde_json::to_string(&key.passkey).map_err(|e| StoreError::Other(e.to_string()))?;
    let account = crate::accounts::get(db, holder.account_id).await?.ok_or(TerminalError::NotFound)?;
    let notice = notify::terminal_added(&account.notification_email, &account.address, &name);
    let first = crate::auth::terminals::list(db, holder.account_id).await?.is_empty();
    let result: Result<_, TerminalError> = crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let id: i64 = match sqlx::query_scalar(
            "INSERT INTO terminals (account_id, kind, name, credential_id, credential, created_ms, confirmed_ms, \
             last_used_ms, push_endpoint, push_p256dh, push_auth, device_token_hash, second_factor_only) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $6, $7, $8, $9, $10, $11) RETURNING id")
            .bind(holder.account_id).bind(kind).bind(&name).bind(&key.credential_id).bind(&json).bind(now)
            .bind(phone.and_then(|p| p.endpoint.as_ref())).bind(phone.and_then(|p| p.p256dh.as_ref()))
            .bind(phone.and_then(|p| p.auth.as_ref()))
            .bind(phone.map(|p| &p.device_token_hash)).bind(!key.user_verified)
            .fetch_one(&mut *tx).await
        {
            Ok(id) => id,
            // Another instance registered the same key a moment ago.
            Err(e) if e.as_database_error().is_some_and(|d| d.is_unique_violation()) => {
                return Err(TerminalError::KeyTaken);
            }
            Err(e) => return Err(e.into()),
        };
        let codes = if first {
            Some(crate::auth::terminals::replace_recovery_codes(db, &mut *tx, now, holder.account_id).await?)
        } else {
            None
        };
        tx.enqueue_in(now, &notice).await?;
        let event = holder.event("terminal.add", Outcome::Success).object(format!("terminal:{id} kind:{kind}"));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        Ok((id, codes))
    });
    if let Err(TerminalError::KeyTaken) = result {
        let event =
            holder.event("terminal.add", Outcome::Failure("credential_taken".into())).object(format!("kind:{kind}"));
        audit::append(db, clock, event).await?;
    }
    result
}

/// A new key, verified and new to every account.
pub(crate) struct NewKey {
    pub passkey: Passkey,
    /// Base64url, as stored.
    pub credential_id: String,
    /// The name given when the ceremony began.
    pub name: Option<String>,
    /// Whether the key verified its holder (PIN, biometrics) when it was made.
    pub user_verified: bool,
}

/// Takes the holder's registration ceremony back and checks the browser's answer: a key that
/// verifies and that no account has (refusals recorded).
pub(crate) async fn take_new_key(
    db: &Db,
    clock: &dyn Clock,
    rp: &RelyingParty,
    holder: &Holder,
    ceremony: &str,
    response: &str,
) -> Result<NewKey, TerminalError> {
    let now = clock.now_ms();
    let held = take(db, now, ceremony, Purpose::Register).await?.filter(|h| h.account_id == Some(holder.account_id));
    let Some(held) = held else {
        audit::append(db, clock, holder.event("terminal.add", Outcome::Failure("dead_ceremony".into()))).await?;
        return Err(TerminalError::NotFound);
    };
    let refused = |why: &str| holder.event("terminal.add", Outcome::Failure(why.into())).object("kind:passkey");
    // The state carries the ceremony's policy: user verification required for a passkey,
    // preferred for a security key; the library enforces it either way.
    let state: Option<SecurityKeyRegistration> = serde_json::from_str(&held.state).ok();
    let answer: Option<RegisterPublicKeyCredential> = serde_json::from_str(response).ok();
    let key = match (state, answer) {
        (Some(state), Some(answer)) => rp.webauthn.finish_securitykey_registration(&answer, &state).ok(),
        _ => None,
    };
    // Both wrap the same credential; which one proves what is kept beside it.
    let key = key.and_then(|k| serde_json::to_value(k).ok());
    let user_verified = key.as_ref().and_then(|k| k.pointer("/cred/user_verified")).and_then(|v| v.as_bool());
    let passkey: Option<Passkey> = key.and_then(|k| serde_json::from_value(k).ok());
    let Some((passkey, user_verified)) = passkey.zip(user_verified) else {
        audit::append(db, clock, refused("refused")).await?;
        return Err(TerminalError::KeyRefused);
    };
    let credential_id = B64URL.encode(passkey.cred_id().as_slice());
    let taken: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM terminals WHERE credential_id = $1").bind(&credential_id).fetch_one(p).await?);
    if taken > 0 {
        audit::append(db, clock, refused("credential_taken")).await?;
        return Err(TerminalError::KeyTaken);
    }
    Ok(NewKey { passkey, credential_id, name: held.name, user_verified })
}

// ---- Proving a sign-in -------------------------------------------------------------------

/// Options for a sign-in with a passkey alone: the browser offers the keys it holds for this
/// site, and the key's answer names the account.
pub(crate) async fn start_discoverable(db: &Db, now: Millis, rp: &RelyingParty) -> Result<Ceremony, StoreError> {
    let (mut options, state) = rp
        .webauthn
        .start_discoverable_authentication()
        .map_err(|e| StoreError::Other(format!("passkey sign-in: {e}")))?;
    // A button the person presses, not the browser's address-field suggestions.
    options.mediation = None;
    let state = serde_json::to_string(&state).map_err(|e| StoreError::Other(e.to_string()))?;
    let id = hold(db, now, Purpose::SignIn, None, None, None, &state).await?;
    let options = serde_json::to_string(&options).map_err(|e| StoreError::Other(e.to_string()))?;
    Ok(Ceremony { id, options })
}

/// Options for proving a pending sign-in (password verified) with one of the account's keys.
pub(crate) async fn start_for_account(
    db: &Db,
    now: Millis,
    rp: &RelyingParty,
    account_id: i64,
    session_id: i64,
) -> Result<Option<Ceremony>, StoreError> {
    let keys: Vec<StoredKey> = keys_of(db, account_id, "passkey").await?.into_iter().filter(|k| !k.flagged).collect();
    if keys.is_empty() {
        return Ok(None);
    }
    let verify_user = keys.iter().all(|k| !k.second_factor_only);
    let keys: Vec<Passkey> = keys.into_iter().map(|k| k.passkey).collect();
    let (options, state) = rp.start_authentication(&keys, verify_user)?;
    let id = hold(db, now, Purpose::SecondFactor, Some(account_id), Some(session_id), None, &state).await?;
    Ok(Some(Ceremony { id, options }))
}

/// What a key's answer at sign-in proved.
pub(crate) enum Proof {
    /// The key, verified (its counter and last use saved).
    Verified(StoredKey),
    /// A key of the account whose counter went backwards: flagged now.
    CounterRegressed,
    /// Not a live key, or its answer does not verify.
    Refused(&'static str),
}

/// Checks the browser's answer to a ceremony taken back with [`take`]. For a discoverable
/// sign-in the key names the account; otherwise it must be one of `account_id`'s keys.
pub(crate) async fn verify(
    db: &Db,
    clock: &dyn Clock,
    rp: &RelyingParty,
    held: &Held,
    discoverable: bool,
    kind: &str,
    response: &str,
    ip: Option<&str>,
) -> Result<Proof, StoreError> {
    let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(response) else {
        return Ok(Proof::Refused("malformed"));
    };
    let Some(mut key) = key_by_credential(db, answer.get_credential_id(), kind).await? else {
        return Ok(Proof::Refused("unknown_key"));
    };
    if !discoverable && held.account_id != Some(key.account_id) {
        return Ok(Proof::Refused("unknown_key"));
    }
    if discoverable && key.second_factor_only {
        return Ok(Proof::Refused("second_factor_only"));
    }
    if key.flagged {
        return Ok(Proof::Refused("flagged"));
    }
    let checked = if discoverable {
        let handle = rp.webauthn.identify_discoverable_authentication(&answer).ok().map(|(u, _)| u);
        if handle != Some(user_handle(db, key.account_id)) {
            return Ok(Proof::Refused("wrong_user"));
        }
        let Ok(state) = serde_json::from_str(&held.state) else { return Ok(Proof::Refused("malformed")) };
        rp.webauthn.finish_discoverable_authentication_v2(&answer, state, &key.passkey)
    } else {
        let Ok(state) = serde_json::from_str::<PasskeyAuthentication>(&held.state) else {
            return Ok(Proof::Refused("malformed"));
        };
        rp.webauthn.finish_passkey_authentication(&answer, &state)
    };
    match checked {
        Ok(result) => {
            used(db, clock.now_ms(), &mut key, &result).await?;
            Ok(Proof::Verified(key))
        }
        Err(webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise) => {
            flag(db, clock, &key, ip).await?;
            Ok(Proof::CounterRegressed)
        }
        Err(_) => Ok(Proof::Refused("bad_signature")),
    }
}

#[cfg(test)]
mod tests;
