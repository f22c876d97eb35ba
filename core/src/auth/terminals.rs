//! The holder's terminals ("Mes terminaux"): what proves a sign-in besides the password. This
//! step has the authenticator app (TOTP, RFC 6238): a 160-bit secret from the OS random source,
//! shown once as a QR code and as a key to type, sealed at rest under a key kept outside the
//! database and bound to its account; a code is accepted once (the matched time step is kept
//! and a step at or below it refused, atomically), with one step of clock skew either way.
//!
//! Adding or removing a terminal needs a sign-in less than five minutes old, is recorded and
//! tells the holder at their notification address, in the same transaction as the change.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use totp_rs::{Builder, Secret, Totp};
use zeroize::Zeroizing;

use crate::accounts::settings::{require_fresh, SettingsError};
use crate::audit::{self, AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::clock::{Clock, Millis};
use crate::notify;
use crate::outbox::OutboxTx;
use crate::store::{BeginWrite, Db, StoreError};

/// Longest name a holder may give a terminal.
pub const NAME_MAX: usize = 60;
/// An enrolment must be confirmed with a first code within this time.
pub const ENROL_TTL_MS: Millis = 10 * 60_000;
/// Terminals one account may have (pending enrolments included).
pub const MAX_TERMINALS: i64 = 10;
const STEP_SECS: u64 = 30;

/// One of the holder's terminals, as "Mes terminaux" lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Terminal {
    pub id: i64,
    /// `totp` (an authenticator app).
    pub kind: String,
    pub name: String,
    pub created_ms: Millis,
    pub last_used_ms: Option<Millis>,
}

/// What the holder needs to add an authenticator app: the QR code (inline SVG), the same as
/// an `otpauth://` address, and the key to type by hand. Shown once, never stored in clear.
pub struct TotpEnrolment {
    pub terminal_id: i64,
    pub qr_svg: String,
    pub otpauth_url: Zeroizing<String>,
    /// Base32, in groups of four for reading.
    pub manual_key: Zeroizing<String>,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment").field("terminal_id", &self.terminal_id).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// The holder's sign-in is more than five minutes old: type the password again.
    #[error("reauthentication required")]
    ReauthRequired,
    #[error("a name is required")]
    NameRequired,
    #[error("name too long")]
    NameTooLong,
    #[error("too many terminals")]
    TooMany,
    /// No such terminal of this holder (or its enrolment expired).
    #[error("terminal not found")]
    NotFound,
    #[error("wrong code")]
    WrongCode,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TerminalError {
    fn from(e: sqlx::Error) -> Self {
        TerminalError::Store(StoreError::Query(e))
    }
}

impl From<SettingsError> for TerminalError {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Store(e) => TerminalError::Store(e),
            _ => TerminalError::ReauthRequired,
        }
    }
}

/// What a code typed at sign-in proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpCheck {
    Accepted {
        terminal_id: i64,
    },
    /// A code of a time step already used: someone may have seen it.
    Replayed {
        terminal_id: i64,
    },
    Wrong,
}

// ---- Sealing -----------------------------------------------------------------------------

fn cipher(db: &Db) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(db.audit_key().subkey("terminals").as_slice().into())
}

/// Binds a sealed secret to its account: a row copied to another account does not open.
fn aad(account_id: i64) -> Vec<u8> {
    format!("hygie terminal of account {account_id}").into_bytes()
}

/// The nonce (24 bytes) then the ciphertext.
fn seal(db: &Db, account_id: i64, secret: &[u8]) -> Vec<u8> {
    use rand::RngCore;
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher(db)
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret, aad: &aad(account_id) })
        .expect("sealing does not fail for small inputs");
    [nonce.as_slice(), &sealed].concat()
}

fn unseal(db: &Db, account_id: i64, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < 24 {
        return None;
    }
    let (nonce, ct) = sealed.split_at(24);
    cipher(db).decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad(account_id) }).ok().map(Zeroizing::new)
}

fn totp(secret: &[u8], account_name: &str) -> Option<Totp> {
    Builder::new()
        .with_secret(Secret::from(secret.to_vec()))
        .with_digits(6)
        .with_step_duration(STEP_SECS)
        .with_skew(1)
        .with_issuer(Some("Hygie"))
        .with_account_name(account_name)
        .build()
        .ok()
}

fn qr_svg(text: &str) -> String {
    use qrcode::render::svg;
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
        Err(_) => String::new(),
    }
}

fn clean_name(name: &str) -> Result<String, TerminalError> {
    let name: String = name.chars().filter(|c| !c.is_control()).collect::<String>().trim().to_string();
    if name.is_empty() {
        return Err(TerminalError::NameRequired);
    }
    if name.chars().count() > NAME_MAX {
        return Err(TerminalError::NameTooLong);
    }
    Ok(name)
}

// ---- Verbs -------------------------------------------------------------------------------

/// The holder's terminals in use, oldest first.
pub async fn list(db: &Db, account_id: i64) -> Result<Vec<Terminal>, StoreError> {
    Ok(crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, kind, name, created_ms, last_used_ms FROM terminals \
         WHERE account_id = $1 AND confirmed_ms IS NOT NULL AND removed_ms IS NULL ORDER BY id")
        .bind(account_id).fetch_all(p).await?))
}

/// Whether the account has an authenticator app in use (sign-in then asks for its code first).
pub async fn has_totp(db: &Db, account_id: i64) -> Result<bool, StoreError> {
    let n: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM terminals WHERE account_id = $1 AND kind = 'totp' \
         AND confirmed_ms IS NOT NULL AND removed_ms IS NULL")
        .bind(account_id).fetch_one(p).await?);
    Ok(n > 0)
}

/// Starts adding an authenticator app named `name`: a new secret, sealed and kept unconfirmed
/// until the holder types a first code ([`confirm_totp`]) within ten minutes.
pub async fn start_totp(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    name: &str,
) -> Result<TotpEnrolment, TerminalError> {
    let now = clock.now_ms();
    require_fresh(holder, now)?;
    let name = clean_name(name)?;
    let count: i64 = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM terminals WHERE account_id = $1 AND removed_ms IS NULL \
         AND (confirmed_ms IS NOT NULL OR created_ms > $2)")
        .bind(holder.account_id).bind(now - ENROL_TTL_MS).fetch_one(p).await?);
    if count >= MAX_TERMINALS {
        return Err(TerminalError::TooMany);
    }
    let secret = {
        use rand::RngCore;
        let mut s = Zeroizing::new([0u8; 20]);
        rand::rngs::OsRng.fill_bytes(s.as_mut());
        s
    };
    let t = totp(secret.as_slice(), &holder.address).ok_or(TerminalError::NotFound)?;
    let url = Zeroizing::new(t.to_url().map_err(|_| TerminalError::NotFound)?);
    let base32 = t.secret().to_base32();
    let manual_key = Zeroizing::new(
        base32.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" "),
    );
    let sealed = seal(db, holder.account_id, secret.as_slice());
    let id: i64 = crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO terminals (account_id, kind, name, sealed_secret, created_ms) \
             VALUES ($1, 'totp', $2, $3, $4) RETURNING id")
            .bind(holder.account_id).bind(&name).bind(&sealed).bind(now).fetch_one(&mut *tx).await?;
        let event = holder.event("terminal.totp.start", Outcome::Success).object(format!("terminal:{id}"));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        id
    });
    Ok(TotpEnrolment { terminal_id: id, qr_svg: qr_svg(&url), otpauth_url: url, manual_key })
}

/// Confirms an authenticator app with the first code it shows: from now on it proves sign-ins.
/// A notice goes to the notification address.
pub async fn confirm_totp(
    db: &Db,
    clock: &dyn Clock,
    holder: &Holder,
    terminal_id: i64,
    code: &str,
) -> Result<(), TerminalError> {
    let now = clock.now_ms();
    require_fresh(holder, now)?;
    let row: Option<(Vec<u8>, String)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT sealed_secret, name FROM terminals WHERE id = $1 AND account_id = $2 AND kind = 'totp' \
         AND confirmed_ms IS NULL AND removed_ms IS NULL AND created_ms > $3")
        .bind(terminal_id).bind(holder.account_id).bind(now - ENROL_TTL_MS).fetch_optional(p).await?);
    let Some((sealed, name)) = row else { return Err(TerminalError::NotFound) };
    let step = unseal(db, holder.account_id, &sealed)
        .and_then(|s| totp(&s, &holder.address))
        .and_then(|t| t.check(code.trim(), (now / 1000) as u64));
    let object = format!("terminal:{terminal_id} kind:totp");
    let Some(step) = step else {
        audit::append(db, clock, holder.event("terminal.add", Outcome::Failure("wrong_code".into())).object(object))
            .await?;
        return Err(TerminalError::WrongCode);
    };
    let account = crate::accounts::get(db, holder.account_id).await?.ok_or(TerminalError::NotFound)?;
    let notice = notify::terminal_added(&account.notification_email, &account.address, &name);
    crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let n = sqlx::query(
            "UPDATE terminals SET confirmed_ms = $1, last_step = $2, last_used_ms = $1 \
             WHERE id = $3 AND account_id = $4 AND confirmed_ms IS NULL")
            .bind(now).bind(step as i64).bind(terminal_id).bind(holder.account_id)
            .execute(&mut *tx).await?.rows_affected();
        if n != 1 {
            return Err(TerminalError::NotFound);
        }
        tx.enqueue_in(now, &notice).await?;
        tx.append_audit(db.audit_key(), now, &holder.event("terminal.add", Outcome::Success).object(object)).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Removes one of the holder's terminals: it proves nothing from now on, and the sessions it
/// opened (other than this one) end. A notice goes to the notification address.
pub async fn remove(db: &Db, clock: &dyn Clock, holder: &Holder, terminal_id: i64) -> Result<u64, TerminalError> {
    let now = clock.now_ms();
    require_fresh(holder, now)?;
    let name: Option<String> = crate::with_pool!(db, p => sqlx::query_scalar(
        "SELECT name FROM terminals WHERE id = $1 AND account_id = $2 AND removed_ms IS NULL")
        .bind(terminal_id).bind(holder.account_id).fetch_optional(p).await?);
    let Some(name) = name else { return Err(TerminalError::NotFound) };
    let account = crate::accounts::get(db, holder.account_id).await?.ok_or(TerminalError::NotFound)?;
    let notice = notify::terminal_removed(&account.notification_email, &account.address, &name);
    let keep = holder.session.map(|s| s.id).unwrap_or(-1);
    Ok(crate::with_pool!(db, p => {
        let mut tx = p.begin_write().await?;
        let n = sqlx::query("UPDATE terminals SET removed_ms = $1 WHERE id = $2 AND account_id = $3 AND removed_ms IS NULL")
            .bind(now).bind(terminal_id).bind(holder.account_id).execute(&mut *tx).await?.rows_affected();
        if n != 1 {
            return Err(TerminalError::NotFound);
        }
        let ended = sqlx::query(
            "UPDATE sessions SET ended_ms = $1 WHERE account_id = $2 AND terminal_id = $3 AND ended_ms IS NULL AND id <> $4")
            .bind(now).bind(holder.account_id).bind(terminal_id).bind(keep).execute(&mut *tx).await?.rows_affected();
        tx.enqueue_in(now, &notice).await?;
        let event = holder
            .event("terminal.remove", Outcome::Success)
            .object(format!("terminal:{terminal_id} sessions_ended:{ended}"));
        tx.append_audit(db.audit_key(), now, &event).await?;
        tx.commit().await?;
        ended
    }))
}

/// Checks a code typed at sign-in against the account's authenticator apps. The first that
/// matches takes the code's time step, only if it is later than the last one it accepted (one
/// atomic update, so two instances cannot both accept it).
pub async fn verify_totp(db: &Db, clock: &dyn Clock, account_id: i64, code: &str) -> Result<TotpCheck, StoreError> {
    let now = clock.now_ms();
    let rows: Vec<(i64, Vec<u8>)> = crate::with_pool!(db, p => sqlx::query_as(
        "SELECT id, sealed_secret FROM terminals WHERE account_id = $1 AND kind = 'totp' \
         AND confirmed_ms IS NOT NULL AND removed_ms IS NULL ORDER BY id")
        .bind(account_id).fetch_all(p).await?);
    let address: String = crate::with_pool!(db, p => sqlx::query_scalar("SELECT address FROM accounts WHERE id = $1")
        .bind(account_id).fetch_one(p).await?);
    for (id, sealed) in rows {
        let Some(t) = unseal(db, account_id, &sealed).and_then(|s| totp(&s, &address)) else {
            tracing::error!(terminal = id, "a terminal secret does not open: wrong key file?");
            continue;
        };
        let Some(step) = t.check(code.trim(), (now / 1000) as u64) else { continue };
        let taken = crate::with_pool!(db, p => sqlx::query(
            "UPDATE terminals SET last_step = $1, last_used_ms = $2 WHERE id = $3 AND last_step < $1")
            .bind(step as i64).bind(now).bind(id).execute(p).await?.rows_affected());
        return Ok(if taken == 1 {
            TotpCheck::Accepted { terminal_id: id }
        } else {
            TotpCheck::Replayed { terminal_id: id }
        });
    }
    Ok(TotpCheck::Wrong)
}

/// The current code of a terminal's secret given as its base32 key: what an authenticator app
/// shows (tests, and the operator's diagnostics).
pub fn code_for(manual_key: &str, at_ms: Millis) -> Option<String> {
    let compact: String = manual_key.chars().filter(|c| !c.is_whitespace()).collect();
    let secret = Secret::try_from_base32(compact).ok()?;
    let t = Builder::new().with_secret(secret).with_digits(6).with_step_duration(STEP_SECS).build_noncompliant();
    Some(t.generate((at_ms / 1000) as u64).to_string())
}

#[cfg(test)]
mod tests;
